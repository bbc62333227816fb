"""InputOffsets' commits (services/common/offsets.py): an outcome recorded does not wait
for the commit round trip; at most one commit is in flight and the next one takes the
latest offsets; a graceful stop commits what is due. Faust's consumer is faked here: what
is tested is the scheduling, not the broker (the integration tests commit for real)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, cast

import faust
from faust.types import TP

from services.common.offsets import InputOffsets

RAW = TP("signals.raw", 0)


class Consumer:
    """Faust's consumer, as far as InputOffsets uses it; each commit waits for a go."""

    def __init__(self) -> None:
        self.commits: list[dict[TP, int]] = []
        self.go = asyncio.Event()
        self._committed_offset: dict[TP, int] = {}

    def assignment(self) -> set[TP]:
        return {RAW}

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return dict.fromkeys(tps, 0)

    async def _commit_offsets(self, offsets: Mapping[TP, int]) -> bool:
        self.commits.append(dict(offsets))
        await self.go.wait()
        self.go.clear()
        return True


class Shutdown:
    def __init__(self) -> None:
        self.handlers: list[Any] = []

    def connect(self, handler: Any) -> None:
        self.handlers.append(handler)


class App:
    def __init__(self) -> None:
        self.consumer = Consumer()
        self.rebalancing = False
        self.should_stop = False
        self.on_before_shutdown = Shutdown()


async def until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0)

    await asyncio.wait_for(poll(), timeout=5)


async def take_and_finish(offsets: InputOffsets, offset: int) -> None:
    place = await offsets.admit(RAW, offset)
    assert place is not None
    await offsets.finished(RAW, place, offset)


def test_outcomes_do_not_wait_for_commits_and_commits_coalesce_to_the_latest() -> None:
    async def scenario() -> None:
        app = App()
        offsets = InputOffsets(cast(faust.App, app), [RAW.topic])
        # The first commit hangs; the next events are taken and finished all the same.
        for offset in range(5):
            await asyncio.wait_for(take_and_finish(offsets, offset), timeout=5)
        await asyncio.sleep(0)
        assert app.consumer.commits == [{RAW: 1}]  # one in flight, not one per event
        app.consumer.go.set()
        await until(lambda: len(app.consumer.commits) == 2)
        assert app.consumer.commits[1] == {RAW: 5}  # the latest, in one commit
        app.consumer.go.set()
        await offsets.commit()  # nothing more due
        assert app.consumer.commits == [{RAW: 1}, {RAW: 5}]

    asyncio.run(scenario())


def test_a_graceful_stop_awaits_the_commit_in_flight_and_commits_what_is_due() -> None:
    async def scenario() -> None:
        app = App()
        offsets = InputOffsets(cast(faust.App, app), [RAW.topic])
        await take_and_finish(offsets, 0)
        await until(lambda: len(app.consumer.commits) == 1)  # in flight
        await take_and_finish(offsets, 1)
        [before_shutdown] = app.on_before_shutdown.handlers
        stopping = asyncio.ensure_future(before_shutdown(app))
        app.consumer.go.set()
        await until(lambda: len(app.consumer.commits) == 2)
        assert not stopping.done()  # the stop waits for the last commit too
        app.consumer.go.set()
        await asyncio.wait_for(stopping, timeout=5)
        assert app.consumer.commits == [{RAW: 1}, {RAW: 2}]

    asyncio.run(scenario())


def test_nothing_is_committed_during_a_rebalance_its_end_commits() -> None:
    async def scenario() -> None:
        app = App()
        offsets = InputOffsets(cast(faust.App, app), [RAW.topic])
        place = await offsets.admit(RAW, 0)
        assert place is not None
        app.rebalancing = True  # began while the event was in hand
        await offsets.finished(RAW, place, 0)
        await offsets.commit()
        assert app.consumer.commits == []
        app.rebalancing = False
        app.consumer.go.set()
        await offsets.commit()
        assert app.consumer.commits == [{RAW: 1}]

    asyncio.run(scenario())
