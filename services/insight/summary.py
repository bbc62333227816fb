"""The insight snapshot, derived from the insight app's tables. Pure.

Everything is about the last ``horizon_weeks`` ISO weeks (UTC), this one included:
reports received in them, and the cases first reported in them (a colleague's later
report of an older case counts as a report, not as a case). The snapshot is bounded
whatever the input: one row per week, the top departments by name and the rest together,
at most ``max_mattered`` reports that mattered.

Medians are exact: the durations of the horizon's cases are sorted each time a snapshot
is made. That is bounded by the cases table, which keeps the horizon and at most
ANTENNA_INSIGHT_MAX_CASES cases (services/insight/tally.py)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

from schemas import Outcome, OutcomeStatus
from schemas.classification import Category, Kind
from schemas.insight import (
    DepartmentParticipation,
    InsightSnapshot,
    MatteredReport,
    OutcomeCounts,
    Participation,
    WeekCounts,
)
from services.common.outcomes import current_outcome
from services.insight.facts import Report
from services.insight.tally import CaseProgress, horizon_start, week_name, week_start

TOP_DEPARTMENTS: Final = 20
MAX_MATTERED: Final = 50
MAX_REFS: Final = 40
# A case is settled when its ticket is resolved or closed, or its lead won or lost.
SETTLED: Final = frozenset(
    {OutcomeStatus.resolved, OutcomeStatus.closed, OutcomeStatus.won, OutcomeStatus.lost}
)
# Reports that mattered: resolved complaints and won leads.
MATTERED: Final = frozenset({OutcomeStatus.resolved, OutcomeStatus.closed, OutcomeStatus.won})


def settled_at(history: Sequence[Outcome]) -> datetime | None:
    """When the case became settled and stayed so: the first change of the last unbroken
    run of settled statuses (resolved, then closed: the resolution; resolved, reopened,
    resolved again: the second resolution). None while it is not settled."""
    at: datetime | None = None
    for change in history:  # oldest first, as fold_outcome keeps them
        if change.status not in SETTLED:
            at = None
        elif at is None:
            at = change.changed_at
    return at


def median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _ranked(counts: Counter[str], top: int) -> list[str]:
    return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]


def _weeks(kept: list[Report], start: datetime, count: int, top: set[str]) -> list[WeekCounts]:
    rows: dict[str, dict[str, Counter[str]]] = {}
    mondays = [start + timedelta(weeks=i) for i in range(count)]
    for monday in mondays:
        rows[week_name(monday)] = defaultdict(Counter)
    for report in kept:
        row = rows[week_name(report.received_at)]
        row["channel"][report.channel] += 1
        row["kind"][report.kind] += 1
        row["category"][report.category] += 1
        department = report.department if report.department in top else None
        row["department" if department is not None else "other"][report.department] += 1
    weeks = []
    for monday in mondays:
        row = rows[week_name(monday)]
        weeks.append(
            WeekCounts(
                week=week_name(monday),
                starts_on=monday.date(),
                signals=sum(row["kind"].values()),
                by_channel=dict(sorted(row["channel"].items())),
                by_kind=dict(sorted(row["kind"].items())),
                by_category=dict(sorted(row["category"].items())),
                by_department=dict(sorted(row["department"].items())),
                other_departments=sum(row["other"].values()),
            )
        )
    return weeks


def _participation(kept: list[Report], top: int) -> Participation:
    people: dict[str, set[str]] = defaultdict(set)
    signals: Counter[str] = Counter()
    for report in kept:
        signals[report.department] += 1
        if report.refs:
            people[report.department].add(report.refs[0])
    rows = sorted(
        (
            DepartmentParticipation(
                department=name, employees=len(people[name]), signals=signals[name]
            )
            for name in signals
        ),
        key=lambda row: (-row.employees, -row.signals, row.department),
    )
    rest = rows[top:]
    other = None
    if rest:
        everyone_else = set().union(*(people[row.department] for row in rest))
        other = DepartmentParticipation(
            department="",
            employees=len(everyone_else),
            signals=sum(row.signals for row in rest),
        )
    return Participation(
        employees=len(set().union(*people.values())) if people else 0,
        by_department=rows[:top],
        other_departments=other,
    )


def summarise(
    reports: Iterable[Report],
    cases: Mapping[str, CaseProgress],
    now: datetime,
    horizon_weeks: int,
    *,
    top_departments: int = TOP_DEPARTMENTS,
    max_mattered: int = MAX_MATTERED,
) -> InsightSnapshot:
    start = horizon_start(now, horizon_weeks)
    end = week_start(now) + timedelta(weeks=1)
    kept = [r for r in reports if start <= r.received_at < end]
    top = set(_ranked(Counter(r.department for r in kept), top_departments))

    by_case: dict[str, list[Report]] = defaultdict(list)
    for report in kept:
        by_case[report.case_id].append(report)
    to_record: list[float] = []
    to_settle: list[float] = []
    status_counts: Counter[OutcomeStatus] = Counter()
    case_count = recorded = 0
    candidates: list[tuple[datetime, float, OutcomeStatus, Report, list[Report]]] = []
    for case_id, its in by_case.items():
        first = next((r for r in its if r.signal_id == case_id), None)
        if first is None:
            continue  # first reported before the horizon (or not seen yet): not a new case
        case_count += 1
        progress = cases.get(case_id)
        if progress is None:
            continue
        record_at = progress.recorded_at or min(
            (o.changed_at for o in progress.outcomes), default=None
        )
        if record_at is not None:
            recorded += 1
            to_record.append(max(0.0, (record_at - first.received_at).total_seconds()))
        current = current_outcome(progress.outcomes)
        settled = settled_at(progress.outcomes)
        if current is None or settled is None:
            continue
        status_counts[current.status] += 1
        after = max(0.0, (settled - first.received_at).total_seconds())
        to_settle.append(after)
        if current.status in MATTERED:
            candidates.append((settled, after, current.status, first, its))
    # Only the most recent are made into entries (there may be many thousands).
    candidates.sort(key=lambda c: c[0], reverse=True)
    mattered = [
        MatteredReport(
            reported_on=first.received_at.date(),
            settled_at=settled,
            settled_after_s=after,
            status=status,
            kind=Kind(first.kind),
            category=Category(first.category),
            department=first.department,
            reporters=len(its),
            reporter_refs=list(dict.fromkeys(ref for r in its for ref in r.refs))[:MAX_REFS],
        )
        for settled, after, status, first, its in candidates[:max_mattered]
    ]
    return InsightSnapshot(
        generated_at=now,
        horizon_weeks=horizon_weeks,
        weeks=_weeks(kept, start, horizon_weeks, top),
        participation=_participation(kept, top_departments),
        outcomes=OutcomeCounts(
            cases=case_count,
            recorded=recorded,
            tickets_resolved=status_counts[OutcomeStatus.resolved]
            + status_counts[OutcomeStatus.closed],
            leads_won=status_counts[OutcomeStatus.won],
            leads_lost=status_counts[OutcomeStatus.lost],
            median_to_record_s=median(to_record),
            median_to_resolution_s=median(to_settle),
        ),
        mattered=mattered,
    )
