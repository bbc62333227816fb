"""What the insight app keeps, and when it forgets it. Pure.

Two changelog-backed tables, each written by one kind of fact and each write idempotent,
so that a fact seen twice (at least once), facts in another order, or a crash between two
writes change nothing:

- reports (signal_id -> Report): set once per report;
- cases (case_id -> CaseProgress): the earliest time its ticket or lead was known, and
  its outcomes folded with services.common.outcomes (one per event id, ordered by the
  time of the change at the source).

The counts on the insight page are derived from these (services/insight/summary.py)
rather than kept as counters: a counter incremented twice on a redelivery would be wrong
for good, a derived count cannot be.

Bounded: whatever is older than the horizon's first week is deleted, and neither table
keeps more than its cap (the oldest go first)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from schemas import Outcome
from services.common.outcomes import fold_outcome
from services.insight.facts import Record


class CaseProgress(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    recorded_at: datetime | None = None  # when its ticket or lead was first known
    outcomes: tuple[Outcome, ...] = ()
    touched_at: datetime  # the latest time in it: what expiry goes by


def with_record(progress: CaseProgress | None, record: Record) -> CaseProgress:
    if progress is None:
        return CaseProgress(recorded_at=record.at, touched_at=record.at)
    recorded = min(filter(None, (progress.recorded_at, record.at)))
    return progress.model_copy(
        update={"recorded_at": recorded, "touched_at": max(progress.touched_at, record.at)}
    )


def with_change(progress: CaseProgress | None, outcome: Outcome) -> CaseProgress:
    if progress is None:
        return CaseProgress(outcomes=(outcome,), touched_at=outcome.changed_at)
    return progress.model_copy(
        update={
            "outcomes": fold_outcome(progress.outcomes, outcome),
            "touched_at": max(progress.touched_at, outcome.changed_at),
        }
    )


# --------------------------------------------------------------------------- weeks


def week_start(at: datetime) -> datetime:
    """Monday 00:00 UTC of ``at``'s ISO week."""
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def week_name(at: datetime) -> str:
    year, week, _ = at.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def horizon_start(now: datetime, weeks: int) -> datetime:
    """The first instant kept: Monday of the oldest of the last ``weeks`` weeks (this
    week included)."""
    return week_start(now) - timedelta(weeks=weeks - 1)


def expired(entries: Iterable[tuple[str, datetime]], cutoff: datetime, keep: int) -> list[str]:
    """The keys to delete: those dated before ``cutoff``, and the oldest of the rest
    beyond the newest ``keep``."""
    kept: list[tuple[datetime, str]] = []
    gone: list[str] = []
    for key, at in entries:
        if at < cutoff:
            gone.append(key)
        else:
            kept.append((at, key))
    if len(kept) > keep:
        newest = {key for _, key in heapq.nlargest(keep, kept)}
        gone.extend(key for _, key in kept if key not in newest)
    return gone
