"""Slow down password guessing on the report page's Basic sign-in.

Per client address: after ``max_failures`` wrong passwords within ``window_s`` seconds,
the client's sign-ins are refused (429 with Retry-After) until the oldest of those
failures leaves the window. A correct password clears the client's record. Pure: the
caller passes the clock. Memory is bounded: the least recently seen clients are
forgotten first.

Behind a proxy every client has the proxy's address, so one guesser can lock everyone
out for a while. Put a proxy that signs people in (``ANTENNA_REPORT_TRUSTED_USER_HEADER``)
in front instead of Basic."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 10
    window_s: float = 900.0
    max_clients: int = 10_000


class SignInThrottle:
    def __init__(self, policy: ThrottlePolicy | None = None) -> None:
        self.policy = policy or ThrottlePolicy()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str, now: float) -> int | None:
        """Seconds until ``client`` may try again, or None when it may try now."""
        with self._lock:
            failures = self._recent(client, now)
            if failures is None or len(failures) < self.policy.max_failures:
                return None
            return max(1, math.ceil(failures[0] + self.policy.window_s - now))

    def failed(self, client: str, now: float) -> None:
        with self._lock:
            failures = self._recent(client, now)
            if failures is None:
                failures = self._failures[client] = deque()
            failures.append(now)
            self._failures.move_to_end(client)
            while len(self._failures) > self.policy.max_clients:
                self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _recent(self, client: str, now: float) -> deque[float] | None:
        failures = self._failures.get(client)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.policy.window_s:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return None
        return failures
