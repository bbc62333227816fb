"""Idempotency-Key handling at the edge: a client that re-posts the same key gets the
first answer again instead of a second signal. Bounded and in memory: the processor's
resubmission table is the durable guarantee across replicas and restarts."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


class KeyReused(ValueError):
    """The key was used before with a different request body."""


@dataclass
class _Entry:
    body_hash: str
    expires_at: float
    result: asyncio.Future[str] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class IdempotencyCache:
    def __init__(self, max_entries: int, ttl_s: float, clock: Callable[[], float] = time.monotonic):
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    async def run_once(
        self, client: str, key: str, body: bytes, action: Callable[[], Awaitable[str]]
    ) -> tuple[str, bool]:
        """Run ``action`` once per (client, key); return (signal_id, replayed).

        A concurrent request with the same key waits for the first one. A failed action
        is forgotten, so the client's retry runs it again."""
        now = self._clock()
        slot = (client, key)
        digest = body_hash(body)
        entry = self._entries.get(slot)
        if entry is not None and entry.expires_at < now:
            del self._entries[slot]
            entry = None
        if entry is not None:
            if entry.body_hash != digest:
                raise KeyReused("Idempotency-Key was already used with a different request")
            return await asyncio.shield(entry.result), True
        entry = _Entry(digest, now + self.ttl_s)
        self._entries[slot] = entry
        self._evict()
        try:
            signal_id = await action()
        except BaseException as exc:
            self._entries.pop(slot, None)
            entry.result.set_exception(exc)
            entry.result.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        entry.result.set_result(signal_id)
        return signal_id, False

    def _evict(self) -> None:
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
