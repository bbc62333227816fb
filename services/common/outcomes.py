"""Folding a case's outcomes: what the status view, the notifier and the outcome sources
share. Pure.

Sources see a change at least once and in no particular order (a webhook retried, a
poller and a late webhook, two partitions). A case's outcomes are therefore kept as a set
of changes, one per ``event_id``, ordered by the time of the change at the source; the
latest is the current status. Folding the same outcome twice, or the same outcomes in
another order, gives the same history: a late "in progress" never overwrites "resolved",
while a ticket that is really reopened later (a later ``changed_at``) is in progress again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from schemas import Outcome, OutcomeStatus

# Kept per case: plenty for a ticket's life; an older change cannot become current again.
MAX_HISTORY = 20
# Two changes at the same instant (a poller's resolution is one second): the later stage
# wins, so that the order of arrival never decides.
STAGE = {
    OutcomeStatus.opened: 0,
    OutcomeStatus.in_progress: 1,
    OutcomeStatus.resolved: 2,
    OutcomeStatus.lost: 2,
    OutcomeStatus.won: 2,
    OutcomeStatus.closed: 3,
}
DONE = frozenset({OutcomeStatus.resolved, OutcomeStatus.closed})


def order_key(outcome: Outcome) -> tuple[datetime, int, str]:
    """A total order on a case's changes: time at the source, then stage, then id."""
    return outcome.changed_at, STAGE[outcome.status], outcome.event_id


def fold_outcome(
    history: Sequence[Outcome], outcome: Outcome, keep: int = MAX_HISTORY
) -> tuple[Outcome, ...]:
    """``history`` (as returned before) with ``outcome`` folded in, oldest first.

    One change per ``event_id``: the same change seen again changes nothing (of two
    different bodies under one id, the later by ``order_key`` stays, whatever arrived
    first). Only the latest ``keep`` changes are kept."""
    by_id = {known.event_id: known for known in history}
    prior = by_id.get(outcome.event_id)
    if prior is None or order_key(outcome) > order_key(prior):
        by_id[outcome.event_id] = outcome
    return tuple(sorted(by_id.values(), key=order_key)[-keep:])


def fold_outcomes(outcomes: Iterable[Outcome], keep: int = MAX_HISTORY) -> tuple[Outcome, ...]:
    history: tuple[Outcome, ...] = ()
    for outcome in outcomes:
        history = fold_outcome(history, outcome, keep)
    return history


def current_outcome(history: Sequence[Outcome]) -> Outcome | None:
    """The case's status now: the latest change at the source."""
    return history[-1] if history else None
