"""The store: jobs, runs, nodes and events, the only state rota keeps (see docs/store.md).

``open_store("memory://")`` gives a `MemoryStore` (tests), ``open_store("sqlite:///rota.db")``
or ``open_store("postgresql+psycopg://...")`` a `SqlStore`. Either is opened with `open()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rota.errors import StoreError
from rota.store.abc import Store
from rota.store.checks import SUPPORTED_URLS
from rota.store.memory import MemoryStore
from rota.store.operations import (
    LEASE_LOST,
    UNSET,
    AddJob,
    Chain,
    Chained,
    Claim,
    Enqueue,
    Finish,
    Fire,
    FireResult,
    InterruptRuns,
    Lease,
    LeaseLost,
    NewRun,
    Operation,
    Progress,
    Reaped,
    ReapNode,
    Removal,
    RemoveJob,
    RequestCancel,
    SyncResult,
    UpdateJob,
)
from rota.store.records import (
    ACTIVE,
    FAILURE_LIKE,
    FINISHED,
    EventKind,
    EventRecord,
    JobKind,
    JobRecord,
    JobStats,
    NodeRecord,
    Reason,
    Retention,
    RunRecord,
    RunStatus,
)

__all__ = [
    "ACTIVE",
    "FAILURE_LIKE",
    "FINISHED",
    "LEASE_LOST",
    "UNSET",
    "AddJob",
    "Chain",
    "Chained",
    "Claim",
    "Enqueue",
    "EventKind",
    "EventRecord",
    "Finish",
    "Fire",
    "FireResult",
    "InterruptRuns",
    "JobKind",
    "JobRecord",
    "JobStats",
    "Lease",
    "LeaseLost",
    "MemoryStore",
    "NewRun",
    "NodeRecord",
    "Operation",
    "Progress",
    "ReapNode",
    "Reaped",
    "Reason",
    "Removal",
    "RemoveJob",
    "RequestCancel",
    "Retention",
    "RunRecord",
    "RunStatus",
    "SqlStore",
    "Store",
    "StoreError",
    "SyncResult",
    "UpdateJob",
    "open_store",
]

if TYPE_CHECKING:
    from rota.store.sql import SqlStore


def open_store(url: str) -> Store:
    """The store a URL names, not yet opened.

    ``memory://`` is a new, private `MemoryStore`; ``memory://NAME`` the process-wide one of
    that name (as a file is shared). ``sqlite:///PATH`` and
    ``postgresql+psycopg://USER:PASSWORD@HOST/DATABASE`` (``postgresql://`` means the same) are
    a `SqlStore`.
    """
    if not isinstance(url, str):
        raise StoreError(f"store URL {url!r} is not text; use one of {SUPPORTED_URLS}")
    if url == "memory://":
        return MemoryStore()
    if url.startswith("memory://"):
        return MemoryStore.named(url.removeprefix("memory://"))
    scheme = url.partition(":")[0].lower()
    if scheme.partition("+")[0] in ("sqlite", "postgresql"):
        from rota.store.sql import SqlStore

        return SqlStore(url)
    raise StoreError(
        f"store URL {_without_password(url)!r} is not supported; use one of {SUPPORTED_URLS}"
    )


def _without_password(url: str) -> str:
    scheme, separator, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{separator}{credentials.partition(':')[0]}:***@{host}"


def __getattr__(name: str) -> object:
    # SqlStore imports SQLAlchemy, which takes a fifth of a second: only processes that use an
    # SQL database pay for it.
    if name == "SqlStore":
        from rota.store.sql import SqlStore

        return SqlStore
    raise AttributeError(f"module 'rota.store' has no attribute {name!r}")
