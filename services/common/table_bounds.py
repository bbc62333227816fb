"""Capacities for the stream workers' changelog tables. Pure: the agents read and write
their tables, this module decides which entries go and when to look.

A table entry expires with its window, and besides, a partition keeps at most its share
of the table's capacity: the oldest entries past it go first. So a worker's memory stays
bounded however busy the window is. Faust writes a deletion to the partition of the
event being processed, so a partition's entries are only trimmed while one of its
events is (a deletion written elsewhere would come back on the next restore)."""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def share(capacity: int, partitions: int) -> int:
    """One partition's share of a table's capacity (at least one entry)."""
    return max(1, capacity // max(1, partitions))


def oldest_past(entries: Iterable[tuple[K, float]], keep: int) -> list[K]:
    """Of one partition's entries (key, last change), the keys of the oldest past the
    newest ``keep``."""
    listed = list(entries)
    excess = len(listed) - keep
    if excess <= 0:
        return []
    return [key for key, _at in heapq.nsmallest(excess, listed, key=lambda entry: entry[1])]


class Sweeps:
    """When to look through a partition's entries: every ``interval_s``, and sooner once
    that partition has had a tenth of its share in writes since the last look (so a
    partition past its share is trimmed soon, without scanning the table on every event).
    """

    def __init__(self, interval_s: float, partition_share: int) -> None:
        self.interval_s = interval_s
        self.writes_between = max(1, partition_share // 10)
        self._looked: dict[int, float] = {}  # partition -> when
        self._writes: dict[int, int] = {}  # partition -> writes since

    def due(self, partition: int, now: float) -> bool:
        """Count a write to ``partition``; True when it is time to look (and from now on
        it counts as looked at)."""
        writes = self._writes.get(partition, 0) + 1
        looked = self._looked.setdefault(partition, now)
        if writes < self.writes_between and now - looked < self.interval_s:
            self._writes[partition] = writes
            return False
        self._looked[partition], self._writes[partition] = now, 0
        return True
