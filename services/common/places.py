"""Where each input partition of a stream worker stands: its place. Pure;
services/common/offsets.py seeks and commits accordingly.

A worker that keeps its own input offsets (the connectors, the processor's stages) reads
each partition in offset order and commits an offset only once every event before it has
its outcome published and recorded. It does not take Faust's word for what comes next:
around a rebalance Faust 0.15.3 can drop records it already fetched, so the fetch
position runs ahead of what reached the agent (see offsets.py). Each event is therefore
admitted by its offset against the place:

- the offset expected next: take it;
- an earlier one: read again after a rewind (or a let-go signal read again), already
  taken: pass it over;
- a later one: the events between never arrived: rewind to the expected one.

A place may hold several events at once (the processor's classify stage runs several
actors on one partition): they may finish in any order, and the commit goes up to the
first one unfinished.

Input offsets are contiguous here (no transactional producers, no compaction on the
input topics); a partition whose offsets jump would keep rewinding instead of skipping
anything, and says so in the log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum


class Admission(Enum):
    take = "take"
    again = "again"
    gap = "gap"


@dataclass
class Place:
    """One input partition's place in this worker, for one of its readers."""

    next: int  # the offset to take next
    # Committed up to here (or nothing before it needs committing): where a new owner of
    # the partition would start.
    committed: int
    # Taken; their outcomes are not published and recorded yet.
    holding: set[int] = field(default_factory=set)
    rewound_to: int | None = None  # a gap was met: read again from here (until taken)

    def admit(self, offset: int) -> Admission:
        if offset == self.next:
            return Admission.take
        return Admission.again if offset < self.next else Admission.gap

    def take(self, offset: int) -> None:
        assert offset == self.next and offset not in self.holding, (offset, self)
        self.holding.add(offset)
        self.next = offset + 1
        self.rewound_to = None

    def rewind(self) -> bool:
        """A gap: the partition is read again from ``next``. True when this rewind is
        news; records fetched before the seek still arrive, each a gap of its own, and
        each rewinds again (one of them may have been read after the seek)."""
        news = self.rewound_to != self.next
        self.rewound_to = self.next
        return news

    def finish(self, offset: int) -> None:
        """The event taken at ``offset`` has its outcome published and recorded."""
        self.holding.discard(offset)

    def release(self, offset: int) -> None:
        """Let go of the event at ``offset`` unfinished: it is the next to take again,
        and so is everything taken after it (read again, at least once)."""
        if offset in self.holding:
            self.next = offset
            self.holding = {held for held in self.holding if held < offset}

    def settle(self, results: Sequence[tuple[int, bool]]) -> bool:
        """The outcomes of a batch of events taken here, in offset order (offset,
        finished): those finished before the first one let go count as done; that one
        is released (read again, with everything after it). True when one was."""
        for offset, finished in results:
            if not finished:
                self.release(offset)
                return True
            self.finish(offset)
        return False

    @property
    def unfinished(self) -> int:
        """The first offset without a recorded outcome: where a new owner must start."""
        return min(self.holding) if self.holding else self.next

    def to_commit(self) -> int | None:
        """The offset to commit now, if the place moved past the committed one."""
        return commit_point([self])


def commit_point(readers: Sequence[Place]) -> int | None:
    """The offset to commit for a partition that each of ``readers`` takes every event
    of: up to the first event one of them has not finished, once that moved past what
    was committed."""
    unfinished = min(place.unfinished for place in readers)
    return unfinished if unfinished > min(place.committed for place in readers) else None


def starting_place(committed: int | None, earliest: int) -> Place:
    """Where a partition starts when this worker is given it: at its committed offset
    (its first event without a recorded outcome); at its first event when nothing was
    committed yet, or when what was committed has been deleted since."""
    start = max(committed or 0, earliest)
    return Place(next=start, committed=start)
