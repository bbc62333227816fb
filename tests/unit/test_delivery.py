from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from schemas import DeliveryStatus
from services.connectors.base import (
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Delivered,
    DeliveryError,
)
from services.connectors.delivery import deliver_with_retries
from services.connectors.retry import RetryPolicy

POLICY = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=10.0)


class FakeConnector(Connector):
    """Answers each attempt with the next scripted outcome; the last one repeats."""

    name = "fake"
    config_model = ConnectorConfig

    def __init__(self, *outcomes: Delivered | DeliveryError) -> None:
        super().__init__(ConnectorConfig(), ConnectorContext("servicedesk", Path("unused")))
        self.outcomes = list(outcomes)
        self.calls: list[str] = []

    async def deliver(self, routed):
        self.calls.append(routed.signal.signal_id)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, DeliveryError):
            raise outcome
        return outcome


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def _run(connector: FakeConnector, routed, policy: RetryPolicy = POLICY):
    sleep = RecordingSleep()
    result = asyncio.run(deliver_with_retries(connector, routed, policy, sleep=sleep))
    return result, sleep.delays


def _transient() -> DeliveryError:
    return DeliveryError("HTTP 503", retryable=True)


def test_success_on_first_try(make_routed) -> None:
    routed = make_routed()
    connector = FakeConnector(Delivered(external_id="T-9", external_url="https://desk/T-9"))
    result, delays = _run(connector, routed)
    assert result.status is DeliveryStatus.delivered
    assert result.attempts == 1
    assert (result.external_id, result.external_url) == ("T-9", "https://desk/T-9")
    assert result.signal_id == routed.signal.signal_id
    assert (result.destination, result.connector) == ("servicedesk", "fake")
    assert result.error is None
    assert delays == []
    assert connector.calls == [routed.signal.signal_id]


def test_transient_failures_then_success(make_routed) -> None:
    connector = FakeConnector(_transient(), _transient(), Delivered(external_id="T-1"))
    result, delays = _run(connector, make_routed())
    assert result.status is DeliveryStatus.delivered
    assert result.attempts == 3
    assert result.external_id == "T-1"
    assert len(delays) == 2
    assert 0.005 <= delays[0] <= 0.01
    assert 0.01 <= delays[1] <= 0.02
    assert len(connector.calls) == 3


def test_permanent_failure_is_dead_after_one_attempt(make_routed) -> None:
    connector = FakeConnector(DeliveryError("HTTP 400: bad request", retryable=False))
    result, delays = _run(connector, make_routed())
    assert result.status is DeliveryStatus.dead
    assert result.attempts == 1
    assert result.error == "HTTP 400: bad request"
    assert delays == []
    assert len(connector.calls) == 1


def test_transient_forever_fails_after_max_attempts(make_routed) -> None:
    connector = FakeConnector(_transient())
    result, delays = _run(connector, make_routed())
    assert result.status is DeliveryStatus.failed
    assert result.attempts == POLICY.max_attempts
    assert result.error == "HTTP 503"
    assert len(delays) == POLICY.max_attempts - 1
    assert len(connector.calls) == POLICY.max_attempts


def test_retry_after_from_the_target_is_slept(make_routed) -> None:
    connector = FakeConnector(
        DeliveryError("HTTP 429", retryable=True, retry_after_s=3.0), Delivered(external_id="T-2")
    )
    result, delays = _run(connector, make_routed())
    assert result.status is DeliveryStatus.delivered
    assert result.attempts == 2
    assert delays == [3.0]


def test_retry_after_beyond_the_maximum_fails_without_waiting(make_routed) -> None:
    connector = FakeConnector(
        DeliveryError("HTTP 429", retryable=True, retry_after_s=600.0), Delivered()
    )
    result, delays = _run(connector, make_routed())
    assert result.status is DeliveryStatus.failed
    assert result.attempts == 1
    assert delays == []


def test_long_errors_are_truncated(make_routed) -> None:
    connector = FakeConnector(DeliveryError("x" * 5000, retryable=False))
    result, _ = _run(connector, make_routed())
    assert result.error == "x" * 2000


def test_other_exceptions_are_not_swallowed(make_routed) -> None:
    connector = FakeConnector(Delivered())

    async def boom(routed):
        raise RuntimeError("connector bug")

    connector.deliver = boom  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="connector bug"):
        _run(connector, make_routed())
