"""Waiting for the broker within a platform's patience.

Slack, Teams and the vendors' webhooks give up on an answer after a few seconds and send
again. A route waits for the broker's acknowledgement only so long and answers 503 after
that; the publish itself is not cancelled: it keeps its place in the idempotency cache,
so the platform's retry waits for it and gets its result instead of publishing again."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from services.common.kafka import BrokerUnavailable

T = TypeVar("T")

# Publishes that outlived their request's budget; kept referenced until they finish.
_in_flight: set[asyncio.Task[Any]] = set()


def _settled(task: asyncio.Task[Any]) -> None:
    _in_flight.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: the publisher already logged a broker failure


async def within(work: Coroutine[Any, Any, T], budget_s: float | None) -> T:
    """``work``'s result; BrokerUnavailable when it takes longer than ``budget_s``
    (None: as long as it takes)."""
    if budget_s is None:
        return await work
    task = asyncio.ensure_future(work)
    _in_flight.add(task)
    task.add_done_callback(_settled)
    try:
        return await asyncio.wait_for(asyncio.shield(task), budget_s)
    except TimeoutError:
        raise BrokerUnavailable(f"no broker acknowledgement within {budget_s:g} s") from None
