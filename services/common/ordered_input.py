"""An agent's loop over input topics whose offsets the service keeps itself (Faust's
acks off: ``raw_topic(..., acks=False)``; InputOffsets, services/common/offsets.py):
each event is admitted by its offset, handled, and then committed past (finished) or
read again (let go, when a rebalance or a shutdown started while it waited).

Why not Faust's acks: around a rebalance Faust 0.15.3 drops records it has fetched and
counts on its seek to the committed offsets to read them again, a seek that does nothing
for a partition with nothing committed (offsets.py says how). An event let go while
nothing was committed, and the events fetched behind it, were then never read again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.types import TP

from services.common.offsets import InputOffsets

# Handles one event; True: done (its outcome recorded), False: let go unfinished.
# Its second argument is ``app.rebalancing_count`` when the event was taken.
Handle = Callable[[Any, int], Awaitable[bool]]


async def take_in_order(
    app: faust.App, offsets: InputOffsets, stream: faust.StreamT[bytes], handle: Handle
) -> None:
    """Run ``handle`` on each event of ``stream``, in offset order per partition."""
    taken: set[TP] = set()
    try:
        async for event in stream.events():
            tp = event.message.tp
            taken.add(tp)
            # Read before anything awaits: a rebalance from here on lets it go.
            taken_in = app.rebalancing_count
            place = await offsets.admit(tp, event.message.offset)
            if place is None:
                continue  # read before, events before it missing, or not now
            offset = event.message.offset
            if await handle(event, taken_in):
                await offsets.finished(tp, place, offset)
            else:
                await offsets.let_go(tp, place, offset)
    finally:
        offsets.forget(taken)  # taken away, or crashed: placed afresh
