"""The connectors' input offsets: kept, committed and sought by the connectors
themselves, through Faust's consumer (faust-streaming 0.15.3, pinned).

Why not Faust's own acks and commits. Around a rebalance Faust drops records it has
already fetched, moving the fetch position past them, and counts on its seek to the
committed offsets at the end of the rebalance to read them again:

- records fetched while Faust has paused the partition, or while its flow is stopped,
  are thrown away (``Consumer.getmany``); aiokafka hands over the records of every
  partition when Faust's set of active partitions is empty at that moment;
- the agents' queues are cleared when the flow resumes (``Recovery._resume_streams``:
  ``flow_control.resume()`` comes after ``perform_seek()``), dropping what the fetcher
  put there in between: records read after the seek are lost until the next rebalance;
- the seek itself does nothing for a partition with no committed offset, or offset 0
  (aiokafka ``seek_to_committed`` seeks only ``if offset and offset > 0``).

So a partition whose head is waiting (nothing committed past it) could resume after a
rebalance with its head in hand and the signals behind it gone, or with nothing at all.
Faust's commits could also pass a lost record: it acks stale records it skips, and its
gap check (``Consumer._new_offset``) is skipped when nothing is committed yet and misses
a gap of one (``> 1``). Hence, for the input topics: Faust's acks are off (topics with
``acks=False``: Faust neither waits for nor commits these events), this module commits
the first unfinished offset of each partition after each outcome, and after every
rebalance it seeks each owned partition to its place (places.py); the agents admit
events by offset and rewind on a gap."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable
from typing import Any, cast

import faust
from faust.transport.consumer import ThreadDelegateConsumer
from faust.types import TP

from services.common.logging import fields
from services.common.places import Admission, Place, starting_place

log = logging.getLogger(__name__)
RETRY_S = 1.0


class InputOffsets:
    """The place of each input partition this worker owns."""

    def __init__(self, app: faust.App, topics: Iterable[str]) -> None:
        self.app = app
        self.topics = frozenset(topics)
        self._places: dict[TP, Place] = {}
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def consumer(self) -> ThreadDelegateConsumer:
        return cast(ThreadDelegateConsumer, self.app.consumer)

    def owned(self) -> set[TP]:
        return {tp for tp in self.consumer.assignment() if tp.topic in self.topics}

    async def place(self, tp: TP) -> Place | None:
        """``tp``'s place, when an event of it may be taken now. None during a rebalance
        or a shutdown, or for a partition this worker does not own: nothing is taken
        then, and the end of the rebalance reads each owned partition again from its
        place. Waiting here instead would hold the event, and a rebalance waits for the
        events held (Consumer.wait_empty) before it can end."""
        if self.app.rebalancing or self.app.should_stop:
            return None
        place = self._places.get(tp)
        if place is None and tp in self.owned():
            # Taken before this rebalance's end placed it, or its agent restarted.
            await self._start([tp])
            place = self._places.get(tp)
        return place

    async def admit(self, tp: TP, offset: int) -> Place | None:
        """``tp``'s place, with the event at ``offset`` taken, when it is the one to take
        now. None: pass it over; it was read before, or the events before it did not
        arrive and the partition is read again from its place, or it cannot be taken now
        (``place``)."""
        place = await self.place(tp)
        if place is None:
            return None
        admission = place.admit(offset)
        if admission is Admission.take:
            place.take(offset)
            return place
        if admission is Admission.gap:
            if place.rewind():
                log.info(
                    "input rewound: events before this one did not arrive",
                    extra=fields(
                        topic=tp.topic, partition=tp.partition, offset=offset, expected=place.next
                    ),
                )
            await self.rewind(tp)
        return None

    async def finished(self, tp: TP, place: Place) -> None:
        """The event in hand has its outcome published and recorded: commit past it."""
        place.finish()
        await self.commit(tp)

    async def let_go(self, tp: TP, place: Place) -> None:
        """The event in hand was let go unfinished: read it again."""
        place.release()
        await self.rewind(tp)

    def forget(self, tp: TP) -> None:
        """The agent of ``tp`` stopped: the partition was taken away, or it crashed."""
        self._places.pop(tp, None)

    async def rewind(self, tp: TP) -> None:
        """Read ``tp`` again from its place. During a rebalance, its end does."""
        place = self._places.get(tp)
        if place is not None and not self.app.rebalancing:
            await self._seek(tp, place.next)

    async def commit(self, tp: TP) -> None:
        """Commit ``tp`` up to its first unfinished event. During a rebalance, its end
        does (a commit then may be refused, or land for a partition given away)."""
        place = self._places.get(tp)
        offset = place.to_commit() if place is not None else None
        if place is None or offset is None or self.app.rebalancing:
            return
        # Consumer._commit_offsets: Faust's own commit of given offsets (it flushes the
        # producer first); False when the group rebalanced meanwhile.
        if await self.consumer._commit_offsets({tp: offset}):
            place.committed = offset

    def after_rebalance(self) -> None:
        """Called as each rebalance ends: place and rewind every owned partition."""
        task = asyncio.ensure_future(self._settle())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _settle(self) -> None:
        try:
            owned = self.owned()
            for tp in set(self._places) - owned:
                self.forget(tp)
            await self._start([tp for tp in owned if tp not in self._places])
            for tp in sorted(owned):
                if self.app.rebalancing:
                    return  # another one began: its end settles
                place = self._places.get(tp)
                if place is not None:
                    await self._seek(tp, place.next)
                    await self.commit(tp)
        except Exception:  # a task: nobody else would see it; gaps still rewind
            log.exception("input partitions not settled after a rebalance")

    async def _start(self, tps: Collection[TP]) -> None:
        """Place newly owned partitions at their committed offsets (as Faust read them in
        its seek at the end of the rebalance), or at their first event."""
        while tps and not self.app.should_stop:
            try:
                earliest = await self.consumer.earliest_offsets(*tps)
            except Exception as exc:  # the broker did not answer: try again
                log.warning("earliest offsets not read", extra=fields(error=repr(exc)))
                await asyncio.sleep(RETRY_S)
                continue
            committed: Any = self.consumer._committed_offset
            for tp in tps:
                self._places.setdefault(tp, starting_place(committed.get(tp), earliest.get(tp, 0)))
            return

    async def _seek(self, tp: TP, offset: int) -> None:
        try:
            await self.consumer.seek_wait({tp: offset})
        except Exception as exc:  # e.g. no longer assigned: the next rebalance settles
            log.warning(
                "input partition not sought",
                extra=fields(topic=tp.topic, partition=tp.partition, error=repr(exc)),
            )


class AfterRebalance(faust.Sensor):
    """Tells InputOffsets when a rebalance has fully ended: Faust has sought to the
    committed offsets, resumed the flow and cleared the agents' queues."""

    def __init__(self, offsets: InputOffsets) -> None:
        super().__init__()
        self.offsets = offsets

    def on_rebalance_end(self, app: Any, state: dict[str, Any]) -> None:
        self.offsets.after_rebalance()
