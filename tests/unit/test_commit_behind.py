"""InputOffsets with ``commit_behind``: a batch's commit is made by a task of its own
while the agent goes on. Partitions settled while a commit is under way go together in
the next request, a commit covers only finished events, and a failed commit is made
again by the next settle of any partition. The consumer is a fake at the edge: it
records the offsets it is asked to commit and answers when the test lets it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from services.common.offsets import InputOffsets

TOPIC = "signals.raw"
TP0, TP1 = TP(TOPIC, 0), TP(TOPIC, 1)


class Consumer:
    """Commits what it is asked to once ``gate`` opens; ``fail`` makes the next one raise."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.requests: list[dict[TP, int]] = []
        self.fail = False
        self._committed_offset: dict[TP, int] = {}

    def assignment(self) -> set[TP]:
        return {TP0, TP1}

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return dict.fromkeys(tps, 0)

    async def _commit_offsets(self, offsets: dict[TP, int]) -> bool:
        self.requests.append(dict(offsets))
        await self.gate.wait()
        if self.fail:
            self.fail = False
            raise ConnectionError("the broker went away")
        return True


def offsets_of(consumer: Consumer) -> InputOffsets:
    app: Any = SimpleNamespace(consumer=consumer, rebalancing=False, should_stop=False)
    return InputOffsets(app, [TOPIC], commit_behind=True)


async def finish(offsets: InputOffsets, tp: TP, *numbers: int, done: bool = True) -> None:
    """Take the events at ``numbers`` from ``tp`` and settle them (finished or let go)."""
    place = None
    for number in numbers:
        place = await offsets.admit(tp, number)
        assert place is not None
    assert place is not None
    await offsets.settle(tp, place, [(number, done) for number in numbers])


async def idle(offsets: InputOffsets) -> None:
    """Until the commit task has nothing more to do."""
    while offsets._committing is not None and not offsets._committing.done():
        await asyncio.sleep(0)


def test_partitions_settled_during_a_commit_go_together_in_the_next_one() -> None:
    async def run() -> None:
        consumer = Consumer()
        offsets = offsets_of(consumer)
        await finish(offsets, TP0, 0, 1, 2)
        await asyncio.sleep(0)  # the task starts and waits for the broker
        assert consumer.requests == [{TP0: 3}]
        # The agent goes on while that commit is under way.
        await finish(offsets, TP1, 0, 1)
        await finish(offsets, TP0, 3)
        assert len(consumer.requests) == 1
        consumer.gate.set()
        await idle(offsets)
        assert consumer.requests == [{TP0: 3}, {TP0: 4, TP1: 2}]
        assert [offsets._places[("", tp)].committed for tp in (TP0, TP1)] == [4, 2]

    asyncio.run(run())


def test_a_commit_covers_only_finished_events() -> None:
    async def run() -> None:
        consumer = Consumer()
        consumer.gate.set()
        offsets = offsets_of(consumer)
        await finish(offsets, TP0, 0, 1)
        await idle(offsets)
        await finish(offsets, TP0, 2, 3, done=False)  # let go: read again
        await idle(offsets)
        assert consumer.requests == [{TP0: 2}]  # nothing past 2 to commit
        assert offsets._places[("", TP0)].next == 2

    asyncio.run(run())


def test_a_failed_commit_is_made_again_by_the_next_settle_of_any_partition() -> None:
    async def run() -> None:
        consumer = Consumer()
        consumer.fail = True
        consumer.gate.set()
        offsets = offsets_of(consumer)
        await finish(offsets, TP0, 0, 1)
        await idle(offsets)  # logged, not raised: the agent never sees it
        assert offsets._places[("", TP0)].committed == 0
        assert consumer.requests == [{TP0: 2}]  # not tried again at once
        await finish(offsets, TP1, 0)
        await idle(offsets)
        assert consumer.requests == [{TP0: 2}, {TP0: 2, TP1: 1}]
        assert [offsets._places[("", tp)].committed for tp in (TP0, TP1)] == [2, 1]

    asyncio.run(run())
