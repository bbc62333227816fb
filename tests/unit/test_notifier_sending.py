"""A notice waits for its channel as long as it takes, with the connectors' backoff."""

from __future__ import annotations

import asyncio
import random

import pytest

from services.common.faust_app import pause_until_rebalance
from services.connectors.base import DeliveryError
from services.notifier.sending import (
    RELEASED,
    Released,
    relay_policy,
    until_settled,
)
from services.notifier.settings import NotifierSettings

POLICY = relay_policy(  # constructed, not read: the shell's environment plays no part
    NotifierSettings.model_construct(notify_retry_base_delay_s=1.0, notify_retry_max_delay_s=300.0)
)


class Top(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


def test_the_wait_doubles_up_to_the_longest_and_stays_there() -> None:
    channel = Channel([DeliveryError("down", retryable=True) for _ in range(12)])
    assert run(channel)[1] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]


def test_retry_after_is_honoured_up_to_the_longest_wait() -> None:
    asks = [DeliveryError("busy", retryable=True, retry_after_s=s) for s in (7.0, 3600.0)]
    assert run(Channel(asks))[1] == [7.0, 300.0]


class Channel:
    def __init__(self, failures: list[DeliveryError]) -> None:
        self.failures = failures
        self.attempts = 0

    async def __call__(self) -> None:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)


def run(
    channel: Channel, waits: int = 10**6
) -> tuple[DeliveryError | Released | None, list[float], list[float]]:
    """``waits``: how many waits run their course before one is cut short."""
    slept: list[float] = []
    told: list[float] = []

    async def pause(seconds: float) -> bool:
        slept.append(seconds)
        return len(slept) <= waits

    refusal = asyncio.run(
        until_settled(channel, POLICY, lambda error, delay: told.append(delay), pause, Top())
    )
    return refusal, slept, told


def test_a_channel_down_for_a_long_time_still_gets_the_notice() -> None:
    down = [DeliveryError("relay unreachable", retryable=True) for _ in range(200)]
    channel = Channel(down)
    refusal, slept, told = run(channel)
    assert refusal is None
    assert channel.attempts == 201
    assert slept == told and slept[:3] == [1.0, 2.0, 4.0] and max(slept) == 300.0


def test_a_rate_limit_waits_what_the_channel_asks() -> None:
    channel = Channel([DeliveryError("Slack: ratelimited", retryable=True, retry_after_s=30)])
    assert run(channel)[:2] == (None, [30.0])


def test_a_final_refusal_ends_the_attempts() -> None:
    refused = DeliveryError("Slack: channel_not_found", retryable=False)
    channel = Channel([DeliveryError("down", retryable=True), refused])
    refusal, slept, _ = run(channel)
    assert refusal is refused and channel.attempts == 2 and slept == [1.0]


def test_a_wait_cut_short_lets_the_notice_go_unsettled() -> None:
    channel = Channel([DeliveryError("down", retryable=True) for _ in range(5)])
    refusal, slept, _ = run(channel, waits=2)
    assert refusal is RELEASED
    assert channel.attempts == 3 and len(slept) == 3


def test_a_bug_is_not_mistaken_for_an_outage() -> None:
    async def broken() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        asyncio.run(until_settled(broken, POLICY, lambda e, d: None))


class App:
    """What pause_until_rebalance reads of a Faust app."""

    rebalancing_count = 4
    should_stop = False


def test_a_wait_runs_its_course_without_a_rebalance() -> None:
    app = App()
    assert asyncio.run(pause_until_rebalance(app, taken_in=4)(0.05)) is True


@pytest.mark.parametrize(("rebalances", "stops"), [(5, False), (4, True)])
def test_a_rebalance_or_a_stop_cuts_the_wait_short(rebalances: int, stops: bool) -> None:
    app = App()

    async def wait_and_change() -> bool:
        waiting = asyncio.ensure_future(pause_until_rebalance(app, taken_in=4)(3600))
        await asyncio.sleep(0.05)
        app.rebalancing_count, app.should_stop = rebalances, stops
        return await asyncio.wait_for(waiting, timeout=5)

    assert asyncio.run(wait_and_change()) is False


def test_a_rebalance_since_the_event_was_taken_cuts_a_new_wait_short_too() -> None:
    app = App()
    assert asyncio.run(pause_until_rebalance(app, taken_in=3)(0.05)) is False
