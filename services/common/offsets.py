"""Input offsets kept, committed and sought by a stream worker itself (the connectors,
the processor's stages), through Faust's consumer (faust-streaming 0.15.3, pinned).

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
the first unfinished offset of each partition after each batch of outcomes, and after every
rebalance it seeks each owned partition to its place (places.py); the agents admit
events by offset and rewind on a gap (``take_in_order``).

A topic may have several readers (agents that each take every event of it, like the
processor's judge and incident stages on the classified topic): each has its own place,
a partition is committed up to the first event one of them has not finished, and read
again from the earliest place."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import faust
from faust.streams import _current_event
from faust.transport.consumer import ThreadDelegateConsumer
from faust.types import TP

from services.common.logging import fields
from services.common.places import Admission, Place, commit_point, starting_place

log = logging.getLogger(__name__)
RETRY_S = 1.0
ONLY = ""  # the reader of a topic that has one


class InputOffsets:
    """The place of each input partition this worker owns, for each of its readers."""

    def __init__(
        self,
        app: faust.App,
        topics: Iterable[str],
        readers: Mapping[str, Collection[str]] | None = None,
        commit_behind: bool = False,
    ) -> None:
        """``readers``: the names of the readers of a topic that has several (each of
        them passes its name); a topic not named there has one. ``commit_behind``: a
        batch's commit is made by a task of its own, and the agent takes its next batch
        meanwhile; partitions settled while one is under way are committed together by
        the next (a commit waits for the producer's flush and a round trip to the broker;
        committing later only means reading more again after a crash)."""
        self.app = app
        self.topics = frozenset(topics)
        self.readers = {topic: tuple((readers or {}).get(topic, (ONLY,))) for topic in self.topics}
        self.commit_behind = commit_behind
        self._places: dict[tuple[str, TP], Place] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._to_commit: set[TP] = set()
        self._committing: asyncio.Task[None] | None = None

    @property
    def consumer(self) -> ThreadDelegateConsumer:
        return cast(ThreadDelegateConsumer, self.app.consumer)

    def owned(self) -> set[TP]:
        return {tp for tp in self.consumer.assignment() if tp.topic in self.topics}

    async def place(self, tp: TP, reader: str = ONLY) -> Place | None:
        """``tp``'s place, when an event of it may be taken now. None during a rebalance
        or a shutdown, or for a partition this worker does not own: nothing is taken
        then, and the end of the rebalance reads each owned partition again from its
        place. Waiting here instead would hold the event, and a rebalance waits for the
        events held (Consumer.wait_empty) before it can end."""
        if self.app.rebalancing or self.app.should_stop:
            return None
        place = self._places.get((reader, tp))
        if place is None and tp in self.owned():
            # Taken before this rebalance's end placed it, or its agent restarted.
            await self._start([tp])
            place = self._places.get((reader, tp))
        return place

    async def admit(self, tp: TP, offset: int, reader: str = ONLY) -> Place | None:
        """``tp``'s place, with the event at ``offset`` taken, when it is the one to take
        now. None: pass it over; it was read before, or the events before it did not
        arrive and the partition is read again from its place, or it cannot be taken now
        (``place``)."""
        if reader not in self.readers[tp.topic]:
            raise ValueError(f"{reader!r} is not a reader of {tp.topic} in these offsets")
        place = await self.place(tp, reader)
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

    async def settle(self, tp: TP, place: Place, results: Sequence[tuple[int, bool]]) -> None:
        """The outcomes of events taken from ``tp`` (offset, finished), in offset order:
        the finished ones up to the first let go count as done; that one is read again,
        with everything after it; then one commit, past every finished event."""
        if place.settle(results):
            await self.rewind(tp)
        if not self.commit_behind:
            await self.commit(tp)
            return
        self._to_commit.add(tp)
        if self._committing is None or self._committing.done():
            self._committing = asyncio.ensure_future(self._commit_behind())

    async def _commit_behind(self) -> None:
        while self._to_commit:
            tps, self._to_commit = sorted(self._to_commit), set()
            try:
                await self.commit(*tps)
            except Exception as exc:  # a task: logged; the next settle of any partition
                # commits these again (not at once: a broker that is away would spin it)
                self._to_commit.update(tps)
                log.warning("input offsets not committed", extra=fields(error=repr(exc)))
                return

    def forget(self, tps: Iterable[TP], reader: str = ONLY) -> None:
        """The agent reading ``tps`` stopped: taken away, or it crashed."""
        for tp in tps:
            self._places.pop((reader, tp), None)

    def _readers(self, tp: TP) -> list[Place] | None:
        """The places of ``tp``'s readers; None until every one of them has its own."""
        places = [self._places.get((reader, tp)) for reader in self.readers[tp.topic]]
        return None if None in places else cast(list[Place], places)

    async def rewind(self, tp: TP) -> None:
        """Read ``tp`` again from its earliest place. During a rebalance, its end does."""
        places = [place for (_, of), place in self._places.items() if of == tp]
        if places and not self.app.rebalancing:
            await self._seek(tp, min(place.next for place in places))

    async def commit(self, *tps: TP) -> None:
        """Commit each of ``tps`` up to the first event one of its readers has not
        finished, in one request. During a rebalance, its end does (a commit then may be
        refused, or land for a partition given away)."""
        if self.app.rebalancing:
            return
        points: dict[TP, tuple[int, list[Place]]] = {}
        for tp in tps:
            places = self._readers(tp)
            offset = commit_point(places) if places is not None else None
            if places is not None and offset is not None:
                points[tp] = (offset, places)
        if not points:
            return
        # Consumer._commit_offsets: Faust's own commit of given offsets (it flushes the
        # producer first); False when the group rebalanced meanwhile.
        if await self.consumer._commit_offsets({tp: at for tp, (at, _) in points.items()}):
            for offset, places in points.values():
                for place in places:
                    place.committed = max(place.committed, offset)

    def after_rebalance(self) -> None:
        """Called as each rebalance ends: place and rewind every owned partition."""
        task = asyncio.ensure_future(self._settle())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _settle(self) -> None:
        try:
            owned = self.owned()
            for reader, tp in list(self._places):
                if tp not in owned:
                    self.forget([tp], reader)
            await self._start(owned)
            for tp in sorted(owned):
                if self.app.rebalancing:
                    return  # another one began: its end settles
                await self.rewind(tp)
                await self.commit(tp)
        except Exception:  # a task: nobody else would see it; gaps still rewind
            log.exception("input partitions not settled after a rebalance")

    async def _start(self, tps: Collection[TP]) -> None:
        """Place each reader of newly owned partitions at their committed offsets (as
        Faust read them in its seek at the end of the rebalance), or at their first
        event. A reader placed already keeps its place."""
        tps = [tp for tp in tps if self._readers(tp) is None]
        while tps and not self.app.should_stop:
            try:
                earliest = await self.consumer.earliest_offsets(*tps)
            except Exception as exc:  # the broker did not answer: try again
                log.warning("earliest offsets not read", extra=fields(error=repr(exc)))
                await asyncio.sleep(RETRY_S)
                continue
            committed: Any = self.consumer._committed_offset
            for tp in tps:
                for reader in self.readers[tp.topic]:
                    self._places.setdefault(
                        (reader, tp), starting_place(committed.get(tp), earliest.get(tp, 0))
                    )
            return

    async def _seek(self, tp: TP, offset: int) -> None:
        try:
            await self.consumer.seek_wait({tp: offset})
        except Exception as exc:  # e.g. no longer assigned: the next rebalance settles
            log.warning(
                "input partition not sought",
                extra=fields(topic=tp.topic, partition=tp.partition, error=repr(exc)),
            )


@dataclass(frozen=True)
class Taken:
    """An event taken in its partition's order, with ``app.rebalancing_count`` at the
    moment it was taken (read before anything awaited): a rebalance from then on lets
    a waiting handler go (faust_app.pause_until_rebalance)."""

    event: Any
    taken_in: int


# Handles a batch of taken events (each partition's in offset order) and says, for each,
# True once its outcome is published and recorded, or False to let it go unfinished: it
# is read again, with every event after it of its partition.
HandleBatch = Callable[[list[Taken]], Awaitable[Sequence[bool]]]


@contextmanager
def as_current(event: Any) -> Iterator[None]:
    """Make ``event`` Faust's current event while the block runs (in this task only).

    Faust writes a table key to the changelog partition of the current event
    (faust-streaming 0.15.3: ``Collection.partition_for_key`` reads the context variable
    ``faust.streams._current_event``, which the stream sets to each event it gives out).
    While a batch is handled, the stream's current event is the batch's last one: a
    handler that writes a table with several partitions makes each event current while
    it handles it, so that each write lands in its own event's partition."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def one_by_one(handle: Callable[[Any, int], Awaitable[bool]]) -> HandleBatch:
    """A handler of one event at a time (with its ``taken_in``) as a batch handler.

    Each event is Faust's current event while it is handled (``as_current``), so its
    table writes land in its own partition. Once an event is let go (False), the events
    after it of its partition are not handled: they are read again with it (False)."""

    async def each(batch: list[Taken]) -> list[bool]:
        outcomes: list[bool] = []
        let_go: set[TP] = set()
        for taken in batch:
            tp = taken.event.message.tp
            if tp in let_go:
                outcomes.append(False)
                continue
            with as_current(taken.event):
                finished = await handle(taken.event, taken.taken_in)
            if not finished:
                let_go.add(tp)
            outcomes.append(finished)
        return outcomes

    return each


async def take_in_order(
    offsets: InputOffsets,
    stream: faust.StreamT[bytes],
    handle: HandleBatch,
    reader: str = ONLY,
    most: int = 1,
) -> None:
    """An agent's loop over input whose offsets ``offsets`` keeps: each event is taken
    once, in offset order; ``handle`` gets them in batches of up to ``most``, of what the
    stream has buffered (a batch never waits for more events), and each partition is
    committed once per batch, up to its first event not finished (by this or by another
    reader, or another actor of the stream).

    ``most`` > 1 only for stages whose tables have one partition (or that have none), or
    whose agent runs one actor per partition (``isolated_partitions``: a batch then holds
    one partition's events), or whose handler makes each event Faust's current event
    while it handles it (``one_by_one`` does; ``as_current``): Faust writes a table in the
    partition of the stream's current event, which is the batch's last one while a batch
    is handled."""
    seen: set[TP] = set()
    batch: list[Taken] = []
    places: dict[TP, Place] = {}
    buffered = _queue(stream)
    try:
        async for event in stream.events():
            tp, offset = event.message.tp, event.message.offset
            seen.add(tp)
            # Read before anything awaits: a rebalance from here on lets it go.
            taken_in = offsets.app.rebalancing_count
            place = await offsets.admit(tp, offset, reader)
            if place is not None:  # else read before, events before it missing, or not now
                batch.append(Taken(event, taken_in))
                places[tp] = place
            if batch and (len(batch) >= most or buffered is None or buffered.empty()):
                await _handle_batch(offsets, handle, batch, places)
                batch, places = [], {}
    finally:
        offsets.forget(seen, reader)  # taken away, or crashed: placed afresh


async def _handle_batch(
    offsets: InputOffsets, handle: HandleBatch, batch: list[Taken], places: dict[TP, Place]
) -> None:
    try:
        outcomes: Sequence[bool] = await handle(batch)
    except Exception:  # e.g. the broker did not take a hand-over: read them again
        log.exception(
            "events were not handed on; they are read again", extra=fields(events=len(batch))
        )
        outcomes = [False] * len(batch)
    by_partition: dict[TP, list[tuple[int, bool]]] = {}
    for taken, finished in zip(batch, outcomes, strict=True):
        message = taken.event.message
        by_partition.setdefault(message.tp, []).append((message.offset, finished))
    for tp, results in by_partition.items():
        await offsets.settle(tp, places[tp], results)


def _queue(stream: faust.StreamT[bytes]) -> Any:
    """The queue of events the stream has received and not yet given out, if it has one."""
    channel = stream.channel
    return channel.queue if isinstance(channel, faust.ChannelT) else None


class AfterRebalance(faust.Sensor):
    """Tells InputOffsets when a rebalance has fully ended: Faust has sought to the
    committed offsets, resumed the flow and cleared the agents' queues."""

    def __init__(self, offsets: InputOffsets) -> None:
        super().__init__()
        self.offsets = offsets

    def on_rebalance_end(self, app: Any, state: dict[str, Any]) -> None:
        self.offsets.after_rebalance()
