"""Capacities of the stream workers' tables: which entries go, and when to look."""

from __future__ import annotations

from services.common.table_bounds import Sweeps, oldest_past, share


def test_the_oldest_past_the_newest_keep_go() -> None:
    entries = [("c", 3.0), ("a", 1.0), ("e", 5.0), ("b", 2.0), ("d", 4.0)]
    assert oldest_past(entries, keep=3) == ["a", "b"]
    assert oldest_past(entries, keep=5) == []
    assert oldest_past(iter(entries), keep=0) == ["a", "b", "c", "d", "e"]


def test_each_partition_has_its_share_of_the_capacity() -> None:
    assert share(50_000, 3) == 16_666
    assert share(2, 3) == 1
    assert share(10, 0) == 10


def test_a_partition_is_looked_at_every_interval_and_after_a_tenth_of_its_share() -> None:
    sweeps = Sweeps(interval_s=600.0, partition_share=100)  # every 10 writes at most
    looks = [sweeps.due(0, now=float(i)) for i in range(30)]
    assert [i for i, due in enumerate(looks) if due] == [9, 19, 29]
    assert not sweeps.due(1, now=30.0)  # another partition counts its own writes
    assert sweeps.due(1, now=700.0)  # its interval passed
    assert not sweeps.due(1, now=701.0)
