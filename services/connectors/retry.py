"""When to try a delivery again, and when to give it up. Pure: the clock's reading and
the randomness are passed in; nothing here sleeps or does I/O.

A failed attempt is judged by its kind:

- ``outage`` (connection refused, timeout, 5xx, 429): the destination is paused. The
  signal keeps its place and is tried again with capped exponential backoff and jitter
  until the horizon (72 h by default) has passed, then it is parked as ``failed``.
- ``refused`` (a 4xx other than 429, an answer that cannot be understood): parked as
  ``dead`` at once; trying again cannot help.
- ``fault`` (any other exception: a connector bug, or a payload it cannot handle): not an
  outage's signature, so it is tried a few times (a fluke passes) and then parked ``dead``
  rather than holding up the destination.
- ``awaiting`` (the target works but this signal must wait: a duplicate whose case has
  no ticket yet, a create whose lookup lags): waits like an outage up to the horizon,
  but the destination is not paused and is not announced as such.

One signal that keeps failing like an outage while other signals to the same destination
are delivered is a bad payload, not an outage: after ``suspect_attempts`` it is parked
``dead`` so that it cannot hold up the destination."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from schemas import DeliveryStatus
from services.connectors.base import DeliveryError, NotYet

HOUR = 3600.0


class FailureKind(StrEnum):
    outage = "outage"
    refused = "refused"
    fault = "fault"
    awaiting = "awaiting"


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    reason: str  # for operators (logs, signals.dlq); employees never see it
    retry_after_s: float | None = None


def failure_of(exc: Exception) -> Failure:
    """Any exception a connector raises becomes a judged failure, never a crashed agent."""
    if isinstance(exc, NotYet):
        return Failure(FailureKind.awaiting, str(exc), exc.retry_after_s)
    if isinstance(exc, DeliveryError):
        kind = FailureKind.outage if exc.retryable else FailureKind.refused
        return Failure(kind, str(exc), exc.retry_after_s)
    return Failure(FailureKind.fault, f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class RetryPolicy:
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    # A server's Retry-After is honoured up to this; a larger one is probed earlier.
    max_retry_after_s: float = 300.0
    horizon_s: float = 72 * HOUR
    # Attempts before a signal is set aside when it fails while its destination works
    # (bad payload), or when the connector raised something unexpected (fault).
    suspect_attempts: int = 5
    # A waiting signal is announced (DeliveryResult retrying) at most this often.
    announce_every_s: float = 300.0


@dataclass(frozen=True)
class Waiting:
    """A signal whose attempts have failed so far. Survives a restart in the ledger."""

    since: float  # unix seconds of its first failed attempt
    attempts: int  # failed attempts so far
    announced_at: float | None = None  # when a "retrying" result was last published


@dataclass(frozen=True)
class Retry:
    delay_s: float
    announce: bool  # publish DeliveryResult(retrying) before waiting


@dataclass(frozen=True)
class Park:
    status: DeliveryStatus  # failed (horizon) or dead (permanent)
    reason: str


def after_failure(waiting: Waiting | None, now: float) -> Waiting:
    if waiting is None:
        return Waiting(since=now, attempts=1)
    return Waiting(waiting.since, waiting.attempts + 1, waiting.announced_at)


def backoff(
    policy: RetryPolicy,
    attempts: int,
    retry_after_s: float | None = None,
    rand: random.Random | None = None,
) -> float:
    """Seconds to wait after ``attempts`` failed attempts: the server's Retry-After when
    given (capped, and never a busy loop), else exponential backoff with jitter between
    half and all of a ceiling that doubles per attempt up to ``max_delay_s``."""
    if retry_after_s is not None:
        return max(min(retry_after_s, policy.max_retry_after_s), policy.base_delay_s)
    ceiling = min(policy.max_delay_s, policy.base_delay_s * 2 ** min(attempts - 1, 62))
    return (rand or random).uniform(ceiling / 2, ceiling)


def decide(
    policy: RetryPolicy,
    waiting: Waiting,
    failure: Failure,
    now: float,
    destination_delivered_at: float | None,
    rand: random.Random | None = None,
) -> Retry | Park:
    """What to do after the failed attempt counted in ``waiting``.

    ``destination_delivered_at``: when another signal to the same destination was last
    delivered (by this worker), the evidence that tells a bad payload from an outage."""
    if failure.kind is FailureKind.refused:
        return Park(DeliveryStatus.dead, failure.reason)
    if failure.kind is FailureKind.fault:
        if waiting.attempts >= policy.suspect_attempts:
            return Park(DeliveryStatus.dead, f"failed {waiting.attempts} times: {failure.reason}")
        return Retry(backoff(policy, waiting.attempts, rand=rand), announce=False)
    waited = now - waiting.since
    if waited >= policy.horizon_s:
        hours = waited / HOUR
        return Park(
            DeliveryStatus.failed,
            f"retry horizon passed after {hours:.1f} h and {waiting.attempts} attempts: "
            f"{failure.reason}",
        )
    others_delivered = (
        destination_delivered_at is not None and destination_delivered_at > waiting.since
    )
    if (
        failure.kind is FailureKind.outage
        and others_delivered
        and waiting.attempts >= policy.suspect_attempts
    ):
        return Park(
            DeliveryStatus.dead,
            f"failed {waiting.attempts} times while other signals to this destination "
            f"were delivered: {failure.reason}",
        )
    delay = min(
        backoff(policy, waiting.attempts, failure.retry_after_s, rand), policy.horizon_s - waited
    )
    announce = failure.kind is FailureKind.outage and (
        waiting.announced_at is None or now - waiting.announced_at >= policy.announce_every_s
    )
    return Retry(delay, announce)
