"""Failed logins, counted per client address, in this process's memory (docs/decisions/0010).

After `MAX_FAILURES` failed logins from one address within `WINDOW`, that address is refused
(429 with ``Retry-After``) until the oldest of those failures is `WINDOW` old, whatever token
it sends. A successful login does not reset the count, so a known viewer token cannot be used
to keep guessing the admin token. Several processes each count their own; a restart forgets.
Behind a reverse proxy the address is the proxy's unless uvicorn is told to trust it
(``--proxy-headers --forwarded-allow-ips``, docs/deployment.md).
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta

__all__ = ["MAX_FAILURES", "WINDOW", "LoginLimiter"]

MAX_FAILURES = 5
WINDOW = timedelta(minutes=5)
_ADDRESSES = 10_000  # the most addresses remembered; the longest-quiet are forgotten first


class LoginLimiter:
    """Counts failed logins per address over a sliding window."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: timedelta = WINDOW,
        addresses: int = _ADDRESSES,
    ) -> None:
        self._max = max_failures
        self._window = window
        self._addresses = addresses
        self._failures: dict[str, deque[datetime]] = {}

    def retry_after(self, address: str, now: datetime) -> int | None:
        """Seconds until `address` may try again, or None if it may now."""
        failures = self._failures.get(address)
        if failures is None:
            return None
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        if len(failures) < self._max:
            return None
        wait = (failures[0] + self._window - now).total_seconds()
        return max(1, math.ceil(wait))

    def failed(self, address: str, now: datetime) -> None:
        """Record a failed login from `address`."""
        failures = self._failures.pop(address, None) or deque(maxlen=self._max)
        failures.append(now)
        self._failures[address] = failures  # last in the dict: the most recently active
        while len(self._failures) > self._addresses:
            del self._failures[next(iter(self._failures))]
