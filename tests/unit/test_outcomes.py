"""The Outcome contract and the fold that the status view, the notifier and the outcome
sources share."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import Outcome, OutcomeStatus, new_signal_id, topics
from services.common.outcomes import (
    MAX_HISTORY,
    current_outcome,
    fold_outcome,
    fold_outcomes,
)

CASE = new_signal_id()
T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


def outcome(status: OutcomeStatus, minutes: float, event_id: str | None = None) -> Outcome:
    at = T0 + timedelta(minutes=minutes)
    return Outcome(
        case_id=CASE,
        status=status,
        changed_at=at,
        record_id="4711",
        record_url="https://rt.example.com/Ticket/Display.html?id=4711",
        destination="servicedesk",
        connector="request_tracker",
        event_id=event_id or f"rt:4711:{status.value}:{at.isoformat()}",
        observed_at=T0 + timedelta(hours=1),
    )


OPENED = outcome(OutcomeStatus.opened, 0)
IN_PROGRESS = outcome(OutcomeStatus.in_progress, 10)
RESOLVED = outcome(OutcomeStatus.resolved, 20)


def test_the_latest_change_at_the_source_is_current() -> None:
    history = fold_outcomes([OPENED, IN_PROGRESS, RESOLVED])
    assert current_outcome(history) == RESOLVED
    assert [o.status for o in history] == ["opened", "in_progress", "resolved"]


def test_a_late_in_progress_never_overwrites_resolved() -> None:
    history = fold_outcomes([OPENED, RESOLVED, IN_PROGRESS])
    assert current_outcome(history) == RESOLVED


def test_a_ticket_reopened_later_is_in_progress_again() -> None:
    reopened = outcome(OutcomeStatus.in_progress, 30)
    assert current_outcome(fold_outcomes([RESOLVED, reopened])) == reopened


def test_the_same_change_seen_twice_is_one_outcome() -> None:
    once = fold_outcomes([OPENED, RESOLVED])
    assert fold_outcome(once, RESOLVED) == once
    assert fold_outcome(once, OPENED) == once


@pytest.mark.parametrize(
    "order", list(itertools.permutations([OPENED, IN_PROGRESS, RESOLVED, RESOLVED]))
)
def test_any_order_of_arrival_folds_to_the_same_history(order: tuple[Outcome, ...]) -> None:
    assert fold_outcomes(order) == (OPENED, IN_PROGRESS, RESOLVED)


def test_two_changes_at_one_instant_are_decided_by_stage_not_by_arrival() -> None:
    progress = outcome(OutcomeStatus.in_progress, 5, event_id="a")
    resolved = outcome(OutcomeStatus.resolved, 5, event_id="b")
    assert current_outcome(fold_outcomes([resolved, progress])) == resolved
    assert current_outcome(fold_outcomes([progress, resolved])) == resolved


def test_one_event_id_with_two_bodies_keeps_the_later_whatever_came_first() -> None:
    early = outcome(OutcomeStatus.in_progress, 5, event_id="evt-1")
    late = outcome(OutcomeStatus.resolved, 6, event_id="evt-1")
    assert fold_outcomes([early, late]) == fold_outcomes([late, early]) == (late,)


def test_history_is_bounded_and_keeps_the_latest() -> None:
    changes = [outcome(OutcomeStatus.in_progress, m) for m in range(MAX_HISTORY + 10)]
    history = fold_outcomes(reversed(changes))
    assert len(history) == MAX_HISTORY
    assert history == tuple(changes[-MAX_HISTORY:])
    # An old change that fell off cannot come back.
    assert fold_outcome(history, changes[0]) == history


def test_no_outcome_yet_has_no_current_status() -> None:
    assert current_outcome(()) is None


def _data(**overrides: Any) -> dict[str, Any]:
    data = OPENED.model_dump(mode="json")
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("case_id", "not-a-ulid"),
        ("changed_at", "2025-03-14T09:00:00"),  # no time zone
        ("status", "reopened"),
        ("event_id", ""),
        ("record_id", ""),
    ],
)
def test_an_outcome_refuses_what_the_contract_does_not_allow(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        Outcome.model_validate(_data(**{field: value}))
    assert {tuple(e["loc"]) for e in info.value.errors()} == {(field,)}


def test_an_outcome_round_trips_through_json_in_utc() -> None:
    data = _data(changed_at="2025-03-14T11:00:00+02:00")
    parsed = Outcome.model_validate(data)
    assert parsed.changed_at == T0
    assert Outcome.model_validate_json(parsed.model_dump_json()) == parsed


def test_the_new_topics_are_created_and_preferences_are_compacted() -> None:
    assert {topics.OUTCOMES, topics.PREFERENCES} <= set(topics.ALL)
    compacted = {topics.PREFERENCES, topics.INSIGHT, topics.LABELS, topics.CASE_CORRECTIONS}
    assert compacted == topics.COMPACTED
