"""Where each input partition of the connectors stands in this worker: its place. Pure;
services/common/offsets.py seeks and commits accordingly.

The connectors read their input one event at a time per partition, in order, and commit
an offset only once every event before it has its outcome published and recorded. They
do not take Faust's word for what comes next: around a rebalance Faust 0.15.3 can drop
records it already fetched, so the fetch position runs ahead of what reached the agent
(see offsets.py). Each event is therefore admitted by its offset against the place:

- the offset expected next: take it;
- an earlier one: read again after a rewind (or a let-go signal read again), already
  taken: pass it over;
- a later one: the events between never arrived: rewind to the expected one.

Input offsets are contiguous here (no transactional producers, no compaction on the
routed topics); a partition whose offsets jump would keep rewinding instead of skipping
anything, and says so in the log."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Admission(Enum):
    take = "take"
    again = "again"
    gap = "gap"


@dataclass
class Place:
    """One input partition's place in this worker."""

    next: int  # the offset to take next
    # Committed up to here (or nothing before it needs committing): where a new owner of
    # the partition would start.
    committed: int
    holding: int | None = None  # taken; its outcome is not published and recorded yet
    rewound_to: int | None = None  # a gap was met: read again from here (until taken)

    def admit(self, offset: int) -> Admission:
        if offset == self.next:
            return Admission.take
        return Admission.again if offset < self.next else Admission.gap

    def take(self, offset: int) -> None:
        assert offset == self.next and self.holding is None, (offset, self)
        self.holding = offset
        self.next = offset + 1
        self.rewound_to = None

    def rewind(self) -> bool:
        """A gap: the partition is read again from ``next``. True when this rewind is
        news; records fetched before the seek still arrive, each a gap of its own, and
        each rewinds again (one of them may have been read after the seek)."""
        news = self.rewound_to != self.next
        self.rewound_to = self.next
        return news

    def finish(self) -> None:
        """The event in hand has its outcome published and recorded."""
        self.holding = None

    def release(self) -> None:
        """Let go of the event in hand unfinished: it is the next to take again."""
        if self.holding is not None:
            self.next, self.holding = self.holding, None

    @property
    def unfinished(self) -> int:
        """The first offset without a recorded outcome: where a new owner must start."""
        return self.holding if self.holding is not None else self.next

    def to_commit(self) -> int | None:
        """The offset to commit now, if the place moved past the committed one."""
        return self.unfinished if self.unfinished > self.committed else None


def starting_place(committed: int | None, earliest: int) -> Place:
    """Where a partition starts when this worker is given it: at its committed offset
    (its first event without a recorded outcome); at its first event when nothing was
    committed yet, or when what was committed has been deleted since."""
    start = max(committed or 0, earliest)
    return Place(next=start, committed=start)
