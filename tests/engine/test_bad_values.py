"""Whatever a job hands to rota is cleaned or refused at the call; no finish fails on it."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import pytest

from rota import Rota, Skip
from rota.engine.texts import ERROR_LIMIT, LOG_LIMIT, NOTE_LIMIT, TRACEBACK_LIMIT
from rota.errors import SettingError
from rota.store.records import RunStatus
from tests.engine.conftest import outcome

MakeRota = Callable[..., Rota]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((math.nan,), "progress done: nan is not a finite number"),
        ((math.inf, 10), "progress done: inf is not a finite number"),
        ((1, -math.inf), "progress total: -inf is not a finite number"),
        (("5",), "progress done: '5' is not a number"),
        ((None,), "progress done: None is not a number"),
        ((True,), "progress done: True is not a number"),
        ((10**400,), "progress done: 1000"),
        ((1, 2, 3), "progress note: 3 is not text"),
    ],
)
async def test_bad_progress_is_refused_at_the_call_and_the_run_is_recorded(
    rotas: MakeRota, args: tuple[object, ...], message: str
) -> None:
    rota = rotas()
    raised: list[BaseException] = []

    @rota.job("scan")
    def scan(ctx) -> None:  # type: ignore[no-untyped-def]
        ctx.progress(1, 10, "first")
        try:
            ctx.progress(*args)
        except SettingError as error:
            raised.append(error)
        ctx.progress(*args)  # not caught: the run fails with it

    rota.job("scan-again")(lambda: None)
    await rota.start_async()
    run = await outcome(rota, rota.run_now("scan"))
    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert run.error.startswith(f"SettingError: {message}")
    assert (run.progress_done, run.progress_total, run.progress_note) == (1, 10, "first")
    assert len(raised) == 1
    assert isinstance(raised[0], ValueError)
    assert (await outcome(rota, rota.run_now("scan-again"))).status is RunStatus.SUCCEEDED


async def test_any_real_number_is_progress(rotas: MakeRota) -> None:
    rota = rotas()

    @rota.job("scan")
    def scan(ctx) -> None:  # type: ignore[no-untyped-def]
        ctx.progress(Fraction(1, 2), 10**20, None)

    await rota.start_async()
    run = await outcome(rota, rota.run_now("scan"))
    assert run.status is RunStatus.SUCCEEDED
    assert (run.progress_done, run.progress_total) == (0.5, 1e20)


BAD = "a\ud800b\x00c\udcffd"  # lone surrogates (one from os.fsdecode) and a NUL
CLEAN = "a\ufffdb\\x00c\ufffdd"


@pytest.mark.parametrize("is_async", [True, False], ids=["async", "sync"])
async def test_only_the_bad_part_of_a_text_is_replaced(rotas: MakeRota, is_async: bool) -> None:
    rota = rotas()

    def body(ctx) -> None:  # type: ignore[no-untyped-def]
        ctx.log.info("before")
        ctx.log.info("bad: %s", BAD)
        ctx.progress(1, 2, BAD)
        ctx.log.info("after")
        raise ValueError(BAD)

    if is_async:

        @rota.job("texts")
        async def texts(ctx) -> None:  # type: ignore[no-untyped-def]
            body(ctx)

    else:
        rota.job("texts")(body)
    await rota.start_async()
    run = await outcome(rota, rota.run_now("texts"))
    assert run.status is RunStatus.FAILED
    assert run.error == f"ValueError: {CLEAN}"
    assert run.traceback is not None
    assert run.traceback.endswith(f"ValueError: {CLEAN}\n")
    assert "raise ValueError(BAD)" in run.traceback
    assert run.progress_note == CLEAN
    lines = run.log.splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == ["before", f"bad: {CLEAN}", "after"]


async def test_a_skip_note_is_cleaned(rotas: MakeRota) -> None:
    rota = rotas()

    @rota.job("skips")
    def skips() -> None:
        raise Skip(BAD)

    await rota.start_async()
    run = await outcome(rota, rota.run_now("skips"))
    assert (run.status, run.note) == (RunStatus.SKIPPED, CLEAN)


async def test_texts_past_their_limits_are_cut_with_a_note(rotas: MakeRota) -> None:
    rota = rotas()
    wide = "é" * (LOG_LIMIT.bytes // 2)  # 2 bytes each in UTF-8: a whole limit's worth

    @rota.job("big")
    def big(ctx) -> None:  # type: ignore[no-untyped-def]
        ctx.progress(1, 2, "n" * (NOTE_LIMIT.bytes + 10))
        ctx.log.info("first")
        ctx.log.info("huge: %s", wide)
        ctx.log.info("last")
        raise ValueError("\n".join(f"line {n}" for n in range(TRACEBACK_LIMIT.lines + 5)))

    await rota.start_async()
    run = await outcome(rota, rota.run_now("big"))
    assert run.status is RunStatus.FAILED
    # The log keeps its end; what was cut is said first.
    log = run.log.encode()
    assert len(log) <= LOG_LIMIT.bytes + 200
    assert run.log.startswith("[rota: cut ")
    assert "first" not in run.log
    assert run.log.endswith("last")
    # The progress note and the error keep their start, the traceback its end.
    assert run.progress_note is not None
    assert run.progress_note.startswith("n" * 100)
    assert "[rota: cut 10 bytes" in run.progress_note
    assert run.error is not None
    assert run.error.startswith("ValueError: line 0\nline 1\n")
    assert len(run.error.splitlines()) == ERROR_LIMIT.lines + 1
    cut = TRACEBACK_LIMIT.lines + 5 - ERROR_LIMIT.lines
    assert run.error.splitlines()[-1].startswith(f"[rota: cut {cut:,} lines (")
    assert run.error.endswith(
        f"; the error keeps the first {ERROR_LIMIT.lines:,} lines and {ERROR_LIMIT.bytes:,} bytes]"
    )
    assert run.traceback is not None
    assert run.traceback.startswith("[rota: cut ")
    assert run.traceback.endswith(f"line {TRACEBACK_LIMIT.lines + 4}\n")
    assert len(run.traceback.splitlines()) == TRACEBACK_LIMIT.lines + 1


async def test_the_log_says_how_many_earlier_lines_it_dropped(rotas: MakeRota) -> None:
    rota = rotas()

    @rota.job("chatty")
    def chatty(ctx) -> None:  # type: ignore[no-untyped-def]
        for line in range(1, LOG_LIMIT.lines + 501):
            ctx.log.info("line %d", line)

    await rota.start_async()
    run = await outcome(rota, rota.run_now("chatty"))
    lines = run.log.splitlines()
    assert lines[0].startswith("[rota: cut 500 lines (")
    assert lines[0].endswith(
        f"; the log keeps the last {LOG_LIMIT.lines:,} lines and {LOG_LIMIT.bytes:,} bytes]"
    )
    assert len(lines) == LOG_LIMIT.lines + 1
    assert lines[1].endswith("line 501")
