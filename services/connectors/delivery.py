"""The delivery engine: one routed signal, one connector, attempts until an outcome.

The signal keeps its place: while its destination is paused it waits here (the agent
reads nothing after it from its partition), and ``pause`` decides how the wait is spent
(the agent's version wakes up for a rebalance or a shutdown). What to do after a failed
attempt is ``retry.decide``'s judgement; the clock and the randomness are injected so
that tests run without waiting."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime

from schemas import DeliveryResult, DeliveryStatus, RoutedSignal
from services.common.logging import fields
from services.connectors import metrics
from services.connectors.base import Connector, Delivered
from services.connectors.pause import DestinationHealth
from services.connectors.retry import (
    Failure,
    FailureKind,
    Park,
    RetryPolicy,
    Waiting,
    after_failure,
    decide,
    failure_of,
)

log = logging.getLogger(__name__)
MAX_ERROR = 2000
# Waits ``seconds``; False when the wait was cut short and the signal must be let go.
Pause = Callable[[float], Awaitable[bool]]
# Told that a signal waits for its paused destination (publish "retrying", record it).
Announce = Callable[[DeliveryResult, Waiting], Awaitable[None]]
Clock = Callable[[], float]


async def deliver_in_order(
    connector: Connector,
    routed: RoutedSignal,
    policy: RetryPolicy,
    health: DestinationHealth,
    pause: Pause,
    announce: Announce,
    *,
    waiting: Waiting | None = None,
    clock: Clock = time.time,
    rand: random.Random | None = None,
) -> DeliveryResult | None:
    """Attempt until delivered or parked (failed/dead). None: the pause was cut short
    (rebalance, shutdown) and the signal was neither delivered nor parked.

    ``waiting``: the attempts made before a restart, from the ledger."""
    who = object()  # this wait, among the others paused on the same destination
    destination = connector.context.destination
    try:
        while True:
            try:
                delivered = await connector.deliver(routed)
            except Exception as exc:  # any failure is judged; none crashes the agent
                failure = failure_of(exc)
            else:
                now = clock()
                health.delivered(now)
                attempts = (waiting.attempts if waiting else 0) + 1
                return _delivered(connector, routed, delivered, attempts, now)
            now = clock()
            waiting = after_failure(waiting, now)
            metrics.FAILED_ATTEMPTS.labels(destination, failure.kind.value).inc()
            decision = decide(policy, waiting, failure, now, health.delivered_at, rand)
            if isinstance(decision, Park):
                _log(routed, destination, waiting, failure, decision.status.value, now)
                return _result(
                    connector, routed, decision.status, waiting.attempts, now, decision.reason
                )
            _log(routed, destination, waiting, failure, "waiting", now, decision.delay_s)
            if failure.kind is FailureKind.outage:
                health.waiting(who, waiting.since)
            if decision.announce:
                waiting = replace(waiting, announced_at=now)
                retrying = _result(
                    connector,
                    routed,
                    DeliveryStatus.retrying,
                    waiting.attempts,
                    now,
                    failure.reason,
                ).model_copy(
                    update={
                        "paused_since": _utc(waiting.since),
                        "next_attempt_at": _utc(now + decision.delay_s),
                    }
                )
                await announce(retrying, waiting)
            if not await pause(decision.delay_s):
                return None
    finally:
        health.done(who)


def _log(
    routed: RoutedSignal,
    destination: str,
    waiting: Waiting,
    failure: Failure,
    outcome: str,
    now: float,
    delay_s: float | None = None,
) -> None:
    log.info(
        "delivery attempt failed",
        extra=fields(
            signal_id=routed.signal.signal_id,
            destination=destination,
            attempt=waiting.attempts,
            kind=failure.kind.value,
            outcome=outcome,
            delay_s=round(delay_s, 2) if delay_s is not None else None,
            waiting_s=round(now - waiting.since, 1),
            error=failure.reason[:200],
        ),
    )


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _delivered(
    connector: Connector, routed: RoutedSignal, delivered: Delivered, attempts: int, now: float
) -> DeliveryResult:
    return _result(
        connector,
        routed,
        DeliveryStatus.delivered,
        attempts,
        now,
        external_id=delivered.external_id,
        external_url=delivered.external_url,
    )


def _result(
    connector: Connector,
    routed: RoutedSignal,
    status: DeliveryStatus,
    attempts: int,
    now: float,
    error: str | None = None,
    external_id: str | None = None,
    external_url: str | None = None,
) -> DeliveryResult:
    return DeliveryResult(
        signal_id=routed.signal.signal_id,
        destination=connector.context.destination,
        connector=connector.name,
        status=status,
        external_id=external_id,
        external_url=external_url,
        attempts=attempts,
        error=error[:MAX_ERROR] if error else None,
        at=_utc(now),
    )
