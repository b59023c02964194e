"""Notices between nodes on PostgreSQL: `NOTIFY` in the transaction that made a change, and a
thread per listening node that holds a connection of its own in `LISTEN` (decision 0005).

The channel is per schema (``rota`` in ``public``, else ``rota.<schema>``): notifications are
database-wide, and two rota installations in two schemas of one database must not hear each
other. A notice that is lost (the listener was reconnecting) only delays a change: nodes poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL

__all__ = ["Listener", "channel_of", "send"]

log = logging.getLogger("rota.store")

# NOTIFY payloads are limited to 8,000 bytes; a notice is an id or a name and a short note.
_LONGEST_NOTICE = 2000
_LONGEST_BACKOFF = 30.0


def channel_of(connection: Connection) -> str:
    """The channel of the schema `connection` works in."""
    schema = connection.execute(text("SELECT current_schema()")).scalar()
    return "rota" if schema in (None, "public") else f"rota.{schema}"


def send(connection: Connection, channel: str, notices: Sequence[str]) -> None:
    """Notify `channel` of `notices`, delivered when (and only if) the transaction commits."""
    if notices:
        connection.execute(
            text("SELECT pg_notify(:channel, notice) FROM unnest(CAST(:notices AS text[])) notice"),
            {"channel": channel, "notices": [n[:_LONGEST_NOTICE] for n in notices]},
        )


class Listener:
    """Calls `callback` with each notice on `channel`, from a thread of its own, reconnecting
    with backoff when the connection is lost (saying so once, and once when it is back)."""

    def __init__(self, url: URL, channel: str, callback: Callable[[str], None]) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._shown = url.render_as_string(hide_password=True)
        self._channel = channel
        self._callback = callback
        self._stopping = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rota-listen", daemon=True)
        self._thread.start()
        # Notices sent before LISTEN took effect are not delivered: wait for it a little.
        self._listening.wait(5)

    def close(self) -> None:
        """Stop listening (the thread ends within about half a second)."""
        self._stopping.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg
        from psycopg import sql

        backoff, lost = 0.5, False
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    self._listening.set()
                    if lost:
                        log.warning("rota hears other nodes' notices on %s again", self._shown)
                    backoff, lost = 0.5, False
                    while not self._stopping.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            self._heard(notice.payload)
            except psycopg.Error as error:
                if not lost:
                    log.warning(
                        "rota lost its notice connection to %s (%s); it polls until it is back",
                        self._shown,
                        str(error).strip(),
                    )
                lost = True
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, _LONGEST_BACKOFF)

    def _heard(self, notice: str) -> None:
        try:
            self._callback(notice)
        except Exception:
            log.exception("rota failed to act on the notice %r", notice)
