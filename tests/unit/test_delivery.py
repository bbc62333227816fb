"""The delivery engine with a scripted connector, a fake clock and a fake pause."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

from schemas import DeliveryResult, DeliveryStatus
from services.connectors.base import (
    CaseNotDelivered,
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Delivered,
    DeliveryError,
)
from services.connectors.delivery import deliver_in_order
from services.connectors.pause import DestinationHealth
from services.connectors.retry import HOUR, RetryPolicy, Waiting

POLICY = RetryPolicy(base_delay_s=1.0, max_delay_s=60.0, horizon_s=72 * HOUR, suspect_attempts=3)
T0 = 1_700_000_000.0


class FakeConnector(Connector):
    """Answers each attempt with the next scripted outcome; the last one repeats."""

    name = "fake"
    config_model = ConnectorConfig

    def __init__(self, *outcomes: Delivered | Exception) -> None:
        super().__init__(ConnectorConfig(), ConnectorContext("servicedesk", Path("unused")))
        self.outcomes = list(outcomes)
        self.calls = 0

    async def deliver(self, routed):
        self.calls += 1
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class World:
    """A clock that the pauses move forward; records pauses and announcements."""

    def __init__(self, cut_after: int | None = None) -> None:
        self.now = T0
        self.pauses: list[float] = []
        self.announced: list[tuple[DeliveryResult, Waiting]] = []
        self.cut_after = cut_after  # let go after this many pauses (a rebalance)
        self.health = DestinationHealth("servicedesk")
        self.paused_seen: list[float | None] = []

    def clock(self) -> float:
        return self.now

    async def pause(self, seconds: float) -> bool:
        self.paused_seen.append(self.health.paused_since)
        self.pauses.append(seconds)
        if self.cut_after is not None and len(self.pauses) > self.cut_after:
            return False
        self.now += seconds
        return True

    async def announce(self, result: DeliveryResult, waiting: Waiting) -> None:
        self.announced.append((result, waiting))

    def run(self, connector: Connector, routed, waiting: Waiting | None = None):
        return asyncio.run(
            deliver_in_order(
                connector,
                routed,
                POLICY,
                self.health,
                self.pause,
                self.announce,
                waiting=waiting,
                clock=self.clock,
            )
        )


def _down() -> DeliveryError:
    return DeliveryError("connection failed: refused", retryable=True)


def test_delivered_at_once(make_routed) -> None:
    world, routed = World(), make_routed()
    result = world.run(FakeConnector(Delivered("T-9", "https://desk/T-9")), routed)
    assert result is not None and result.status is DeliveryStatus.delivered
    assert (result.external_id, result.external_url, result.attempts) == (
        "T-9",
        "https://desk/T-9",
        1,
    )
    assert (result.signal_id, result.destination, result.connector) == (
        routed.signal.signal_id,
        "servicedesk",
        "fake",
    )
    assert world.pauses == [] and world.announced == []
    assert world.health.delivered_at == T0


def test_an_hour_long_outage_is_waited_out_and_announced_every_five_minutes(make_routed) -> None:
    down_for = 3600.0
    world = World()

    class DownForAnHour(FakeConnector):
        async def deliver(self, routed):
            self.calls += 1
            if world.now - T0 < down_for:
                raise _down()
            return Delivered("T-1")

    connector = DownForAnHour()
    result = world.run(connector, make_routed())
    assert result is not None and result.status is DeliveryStatus.delivered
    assert result.attempts == connector.calls > 60  # capped at 60 s between attempts
    assert max(world.pauses) <= 60.0
    assert world.now - T0 < down_for + 60.0  # resumes within one capped delay
    # Announced when it starts waiting, then at most every five minutes, not per attempt.
    times = [w.announced_at for _, w in world.announced]
    assert times[0] == T0 and 11 <= len(times) <= 13
    assert all(b - a >= 300 for a, b in itertools.pairwise(times))
    first, _ = world.announced[0]
    assert first.status is DeliveryStatus.retrying and first.attempts == 1
    assert first.paused_since is not None and first.paused_since.timestamp() == T0
    assert first.next_attempt_at is not None and first.next_attempt_at.timestamp() > T0
    assert first.error == "connection failed: refused"
    # The destination shows as paused since the first failure while it waits, then not.
    assert set(world.paused_seen) == {T0}
    assert world.health.paused_since is None


def test_past_the_horizon_it_is_parked_as_failed(make_routed) -> None:
    world = World()
    result = world.run(FakeConnector(_down()), make_routed())
    assert result is not None and result.status is DeliveryStatus.failed
    assert world.now - T0 == 72 * HOUR
    assert result.error is not None and "horizon" in result.error
    assert world.health.paused_since is None


def test_a_bad_payload_is_parked_when_others_are_delivered(make_routed) -> None:
    world = World()
    world.health.delivered(T0 + 0.5)  # another partition got a signal through meanwhile
    connector = FakeConnector(DeliveryError("HTTP 500", retryable=True))
    result = world.run(connector, make_routed())
    assert result is not None and result.status is DeliveryStatus.dead
    assert connector.calls == POLICY.suspect_attempts
    assert result.error is not None and "other signals" in result.error


def test_a_4xx_is_dead_after_one_attempt(make_routed) -> None:
    world = World()
    result = world.run(
        FakeConnector(DeliveryError("HTTP 400: bad", retryable=False)), make_routed()
    )
    assert result is not None and result.status is DeliveryStatus.dead
    assert (result.attempts, result.error, world.pauses) == (1, "HTTP 400: bad", [])


def test_any_exception_is_a_fault_tried_a_few_times_then_dead(make_routed) -> None:
    for exc in (IndexError("list index out of range"), json.JSONDecodeError("x", "<html>", 0)):
        world = World()
        connector = FakeConnector(exc)
        result = world.run(connector, make_routed())
        assert result is not None and result.status is DeliveryStatus.dead
        assert connector.calls == POLICY.suspect_attempts
        assert result.error is not None and type(exc).__name__ in result.error
        assert world.announced == []  # not an outage: the status page is not told so


def test_a_fluke_fault_passes_on_the_next_attempt(make_routed) -> None:
    world = World()
    result = world.run(FakeConnector(KeyError("id"), Delivered("T-3")), make_routed())
    assert result is not None and result.status is DeliveryStatus.delivered
    assert result.attempts == 2


def test_a_duplicate_awaiting_its_case_does_not_pause_the_destination(make_routed) -> None:
    world = World()
    result = world.run(
        FakeConnector(CaseNotDelivered(), CaseNotDelivered(), Delivered()), make_routed()
    )
    assert result is not None and result.status is DeliveryStatus.delivered
    assert world.paused_seen == [None, None]
    assert world.announced == []


def test_a_cut_short_wait_lets_the_signal_go_without_an_outcome(make_routed) -> None:
    world = World(cut_after=2)
    connector = FakeConnector(_down())
    assert world.run(connector, make_routed()) is None
    assert connector.calls == 3
    assert world.health.paused_since is None  # no longer waiting here


def test_a_resumed_wait_keeps_its_first_failure_and_announcement(make_routed) -> None:
    world = World()
    before = Waiting(since=T0 - 72 * HOUR + 5, attempts=900, announced_at=T0 - 10)
    result = world.run(FakeConnector(_down()), make_routed(), waiting=before)
    assert result is not None and result.status is DeliveryStatus.failed
    assert result.attempts > 900
    assert world.now - T0 <= 5.0
    assert world.announced == []  # announced 10 s before the restart: not again yet


def test_long_errors_are_truncated(make_routed) -> None:
    world = World()
    result = world.run(FakeConnector(DeliveryError("x" * 5000, retryable=False)), make_routed())
    assert result is not None and result.error == "x" * 2000
