"""Idempotency-Key handling at the edge: a client that re-posts the same key gets the
first answer again instead of a second signal. Bounded and in memory: the processor's
resubmission table is the durable guarantee across replicas and restarts."""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


class KeyReused(ValueError):
    """The key was used before with a different request body."""


@dataclass(slots=True)
class _Entry:
    """Small on purpose: one per key for a day. ``result`` is a future while the first
    request publishes, and its signal_id once it succeeded."""

    digest: bytes
    expires_at: float
    result: asyncio.Future[str] | str


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
        slot = (sys.intern(client), key)  # a few clients, shared by all their keys
        digest = hashlib.sha256(body).digest()
        entry = self._entries.get(slot)
        if entry is not None and entry.expires_at < now:
            del self._entries[slot]
            entry = None
        if entry is not None:
            if entry.digest != digest:
                raise KeyReused("Idempotency-Key was already used with a different request")
            if isinstance(entry.result, str):
                return entry.result, True
            return await asyncio.shield(entry.result), True
        pending: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        entry = _Entry(digest, now + self.ttl_s, pending)
        self._entries[slot] = entry
        self._evict()
        try:
            signal_id = await action()
        except BaseException as exc:
            if self._entries.get(slot) is entry:
                del self._entries[slot]
            pending.set_exception(exc)
            pending.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        pending.set_result(signal_id)
        entry.result = signal_id  # waiters hold the future; later re-posts need only this
        return signal_id, False

    def _evict(self) -> None:
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
