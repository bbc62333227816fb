"""The retry judgement: pure, the clock's reading passed in."""

from __future__ import annotations

import json
import random

import pytest

from schemas import DeliveryStatus
from services.connectors.base import (
    CaseNotDelivered,
    DeliveryError,
    NotYet,
    UnintelligibleAnswer,
)
from services.connectors.retry import (
    HOUR,
    Failure,
    FailureKind,
    Park,
    Retry,
    RetryPolicy,
    Waiting,
    after_failure,
    backoff,
    decide,
    failure_of,
)

POLICY = RetryPolicy(
    base_delay_s=0.5,
    max_delay_s=30.0,
    max_retry_after_s=120.0,
    horizon_s=72 * HOUR,
    suspect_attempts=3,
    announce_every_s=300.0,
)
OUTAGE = Failure(FailureKind.outage, "connection failed: refused")
T0 = 1_700_000_000.0


class _Top(random.Random):
    """Always picks the upper bound, so the ceiling itself can be asserted."""

    def uniform(self, a: float, b: float) -> float:
        return b


def waiting(attempts: int, since: float = T0, announced_at: float | None = T0) -> Waiting:
    return Waiting(since=since, attempts=attempts, announced_at=announced_at)


# --- what kind of failure


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (DeliveryError("HTTP 503", retryable=True), FailureKind.outage),
        (DeliveryError("timeout: read", retryable=True), FailureKind.outage),
        (DeliveryError("HTTP 400: no queue", retryable=False), FailureKind.refused),
        (UnintelligibleAnswer("HTTP 200 answer is not JSON (text/html)"), FailureKind.refused),
        (CaseNotDelivered(), FailureKind.awaiting),
        (NotYet("a lost create may not be searchable yet"), FailureKind.awaiting),
        (IndexError("list index out of range"), FailureKind.fault),
        (json.JSONDecodeError("Expecting value", "<html>", 0), FailureKind.fault),
        (KeyError("id"), FailureKind.fault),
    ],
)
def test_every_exception_is_a_judged_failure(exc: Exception, kind: FailureKind) -> None:
    failure = failure_of(exc)
    assert failure.kind is kind
    assert failure.reason


def test_a_fault_names_its_exception_and_retry_after_is_kept() -> None:
    assert failure_of(IndexError("list index out of range")).reason == (
        "IndexError: list index out of range"
    )
    busy = failure_of(DeliveryError("HTTP 429", retryable=True, retry_after_s=7.0))
    assert busy.retry_after_s == 7.0
    assert failure_of(NotYet("search lags", retry_after_s=5.0)).retry_after_s == 5.0


# --- backoff


def test_backoff_doubles_per_attempt_up_to_the_cap() -> None:
    ceilings = [backoff(POLICY, attempt, rand=_Top()) for attempt in range(1, 10)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff(POLICY, 10_000, rand=_Top()) == 30.0  # no overflow after days of waiting


def test_backoff_is_jittered_between_half_and_all_of_the_ceiling() -> None:
    rand = random.Random(20250314)
    for attempt in range(1, 9):
        ceiling = min(30.0, 0.5 * 2 ** (attempt - 1))
        delays = [backoff(POLICY, attempt, rand=rand) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt
        assert len(set(delays)) > 40  # jitter spreads the herd


def test_retry_after_is_honoured_capped_and_never_a_busy_loop() -> None:
    assert backoff(POLICY, 1, retry_after_s=7.0) == 7.0
    assert backoff(POLICY, 1, retry_after_s=3600.0) == 120.0
    assert backoff(POLICY, 1, retry_after_s=0.0) == 0.5


# --- outage: pause, keep trying until the horizon


def test_an_outage_waits_and_is_announced_when_it_starts() -> None:
    first = after_failure(None, T0)
    assert first == Waiting(since=T0, attempts=1, announced_at=None)
    decision = decide(POLICY, first, OUTAGE, T0, destination_delivered_at=None, rand=_Top())
    assert decision == Retry(delay_s=0.5, announce=True)


def test_an_outage_is_announced_again_only_every_few_minutes() -> None:
    w = waiting(attempts=9, announced_at=T0)
    assert decide(POLICY, w, OUTAGE, T0 + 299, None).announce is False  # type: ignore[union-attr]
    assert decide(POLICY, w, OUTAGE, T0 + 300, None).announce is True  # type: ignore[union-attr]


def test_an_outage_never_parks_before_the_horizon_however_many_attempts() -> None:
    w = waiting(attempts=10_000)
    decision = decide(POLICY, w, OUTAGE, T0 + 72 * HOUR - 1, None, rand=_Top())
    assert isinstance(decision, Retry)
    assert decision.delay_s == 1.0  # the last wait ends at the horizon, not after it


def test_past_the_horizon_the_signal_is_parked_as_failed() -> None:
    decision = decide(POLICY, waiting(attempts=4000), OUTAGE, T0 + 72 * HOUR, None)
    assert isinstance(decision, Park)
    assert decision.status is DeliveryStatus.failed
    assert "horizon" in decision.reason and "connection failed" in decision.reason
    short = RetryPolicy(horizon_s=60.0)
    assert isinstance(decide(short, waiting(2), OUTAGE, T0 + 61, None), Park)


# --- bad payload vs outage


def test_failing_while_others_are_delivered_is_a_bad_payload() -> None:
    payload_500 = Failure(FailureKind.outage, "HTTP 500")
    delivered_since = T0 + 1.0
    assert isinstance(decide(POLICY, waiting(2), payload_500, T0 + 2, delivered_since), Retry)
    decision = decide(POLICY, waiting(3), payload_500, T0 + 3, delivered_since)
    assert isinstance(decision, Park)
    assert decision.status is DeliveryStatus.dead
    assert "other signals" in decision.reason and "HTTP 500" in decision.reason


def test_deliveries_from_before_it_started_failing_are_no_evidence() -> None:
    decision = decide(POLICY, waiting(50), OUTAGE, T0 + 600, destination_delivered_at=T0 - 1)
    assert isinstance(decision, Retry)


def test_a_duplicate_awaiting_its_case_waits_without_pausing_or_being_judged() -> None:
    awaiting = Failure(FailureKind.awaiting, "the case's ticket does not exist yet")
    decision = decide(POLICY, waiting(50, announced_at=None), awaiting, T0 + 60, T0 + 30)
    assert isinstance(decision, Retry) and decision.announce is False
    assert isinstance(decide(POLICY, waiting(50), awaiting, T0 + 72 * HOUR, T0), Park)


# --- refused and faults


def test_a_refusal_is_dead_at_once() -> None:
    refused = Failure(FailureKind.refused, "HTTP 400: missing field queue")
    assert decide(POLICY, waiting(1), refused, T0, None) == Park(
        DeliveryStatus.dead, "HTTP 400: missing field queue"
    )


def test_a_fault_is_tried_a_few_times_then_dead_without_evidence_or_announcement() -> None:
    fault = Failure(FailureKind.fault, "IndexError: list index out of range")
    first = decide(POLICY, waiting(1, announced_at=None), fault, T0, None)
    assert isinstance(first, Retry) and first.announce is False
    decision = decide(POLICY, waiting(3), fault, T0 + 2, None)
    assert isinstance(decision, Park) and decision.status is DeliveryStatus.dead
    assert decision.reason == "failed 3 times: IndexError: list index out of range"
