"""Text a job hands to rota (log lines, notes, error messages, tracebacks), as every store keeps it.

Cleaned: a NUL, which PostgreSQL's text cannot hold, becomes the four characters ``\\x00``; a lone
surrogate, which no store can encode as UTF-8 (``os.fsdecode`` makes them of undecodable bytes),
becomes U+FFFD. Only the bad characters change, never the rest of the text.

Bounded: each kind of text has a limit in lines and in UTF-8 bytes (docs/jobs.md). Past it, the
log and the traceback keep their end, the notes and the error their start, and a line in brackets
says what was cut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ERROR_LIMIT",
    "LOG_LIMIT",
    "NOTE_LIMIT",
    "TRACEBACK_LIMIT",
    "TextLimit",
    "ascii_only",
    "clean",
    "storable",
]


@dataclass(frozen=True)
class TextLimit:
    """How much of one kind of text is kept: `lines` and `bytes` (UTF-8), from the end or the
    start."""

    what: str
    lines: int
    bytes: int
    keep_end: bool


LOG_LIMIT = TextLimit("log", 1000, 1_000_000, keep_end=True)
TRACEBACK_LIMIT = TextLimit("traceback", 1000, 100_000, keep_end=True)
ERROR_LIMIT = TextLimit("error", 100, 10_000, keep_end=False)
# A run's note (why it was skipped, cancelled, ...) and its progress note.
NOTE_LIMIT = TextLimit("note", 10, 2_000, keep_end=False)

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """`text` with only what a store cannot hold replaced (see the module docstring)."""
    text = text.replace("\x00", "\\x00")
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def ascii_only(text: str) -> str:
    """`text` with every non-ASCII character escaped: the last resort for a store that refuses
    clean text (one whose encoding is not UTF-8); nothing is lost, only harder to read."""
    return text.encode("ascii", "backslashreplace").decode("ascii")


def storable(
    text: str | None, limit: TextLimit, cut_lines: int = 0, cut_bytes: int = 0
) -> str | None:
    """`text` cleaned and cut to `limit`, with a note saying what was cut (including
    `cut_lines` and `cut_bytes` that were dropped before it came here)."""
    if text is None:
        return None
    text = clean(text)
    parts = text.splitlines(keepends=True)
    kept = parts[-limit.lines :] if limit.keep_end else parts[: limit.lines]
    encoded = "".join(kept).encode()
    if len(encoded) > limit.bytes:
        # A character cut in two at the edge is dropped whole ("ignore").
        edge = encoded[-limit.bytes :] if limit.keep_end else encoded[: limit.bytes]
        result = edge.decode(errors="ignore")
    else:
        result = "".join(kept)
    if result == text and not cut_lines and not cut_bytes:
        return text
    cut_lines += len(parts) - len(result.splitlines())
    cut_bytes += len(text.encode()) - len(result.encode())
    note = _note(limit, cut_lines, cut_bytes)
    if limit.keep_end:
        return f"{note}\n{result}"
    if result and not result.endswith("\n"):
        result += "\n"
    return result + note


def _note(limit: TextLimit, cut_lines: int, cut_bytes: int) -> str:
    size = f"{cut_bytes:,} byte{'' if cut_bytes == 1 else 's'}"
    amount = f"{cut_lines:,} line{'' if cut_lines == 1 else 's'} ({size})" if cut_lines else size
    which = "last" if limit.keep_end else "first"
    return (
        f"[rota: cut {amount}; the {limit.what} keeps the {which} {limit.lines:,} lines"
        f" and {limit.bytes:,} bytes]"
    )
