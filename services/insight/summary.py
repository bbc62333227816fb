"""The insight snapshot, derived from the insight app's tables. Pure.

Everything is about the last ``horizon_weeks`` ISO weeks (UTC), this one included:
reports received in them, and the cases first reported in them (a colleague's later
report of an older case counts as a report, not as a case). The snapshot is bounded
whatever the input: one row per week, the top departments by name and the rest together,
at most ``max_mattered`` reports that mattered.

Medians are exact: the durations of the horizon's cases are sorted each time a snapshot
is made. That is bounded by the cases table, which keeps the horizon and at most
ANTENNA_INSIGHT_MAX_CASES cases (services/insight/tally.py).

The tables hold each entry as one short string (tally.py); the summary reads them in one
counting pass and makes no model of a report, so what it holds while it works is
counters, one duration per case and the reports that joined a case."""

from __future__ import annotations

import heapq
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

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
from services.insight.facts import Report
from services.insight.tally import (
    WEEK_US,
    CaseProgress,
    KeptReport,
    Step,
    horizon_start,
    instant,
    kept_case,
    kept_report,
    micros,
    pack_case,
    pack_report,
    read_case,
    read_report,
    week_name,
    week_start,
)

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


class _Week:
    __slots__ = ("category", "channel", "department", "kind")

    def __init__(self) -> None:
        self.channel: Counter[str] = Counter()
        self.kind: Counter[str] = Counter()
        self.category: Counter[str] = Counter()
        self.department: Counter[str] = Counter()

    def counts(self, monday: datetime, top: set[str]) -> WeekCounts:
        in_top = {name: n for name, n in self.department.items() if name in top}
        return WeekCounts(
            week=week_name(monday),
            starts_on=monday.date(),
            signals=sum(self.kind.values()),
            by_channel=dict(sorted(self.channel.items())),
            by_kind=dict(sorted(self.kind.items())),
            by_category=dict(sorted(self.category.items())),
            by_department=dict(sorted(in_top.items())),
            other_departments=sum(self.department.values()) - sum(in_top.values()),
        )


def _participation(
    signals: Counter[str], people: Mapping[str, set[str]], top: int
) -> Participation:
    rows = sorted(
        (
            DepartmentParticipation(
                department=name, employees=len(people.get(name, ())), signals=signals[name]
            )
            for name in signals
        ),
        key=lambda row: (-row.employees, -row.signals, row.department),
    )
    rest = rows[top:]
    other = None
    if rest:
        everyone_else = set().union(*(people.get(row.department, ()) for row in rest))
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


def _settled_at(steps: Sequence[Step]) -> int | None:
    """settled_at, on a case's kept outcomes."""
    at: int | None = None
    for changed, _, _, status in steps:
        if status not in SETTLED:
            at = None
        elif at is None:
            at = changed
    return at


def summarise(
    reports: Iterable[Report],
    cases: Mapping[str, CaseProgress],
    now: datetime,
    horizon_weeks: int,
    *,
    top_departments: int = TOP_DEPARTMENTS,
    max_mattered: int = MAX_MATTERED,
) -> InsightSnapshot:
    """The summary of reports and cases given as models: as the tables would hold them."""
    return summarise_tables(
        [(r.signal_id, pack_report(r.signal_id, kept_report(r))) for r in reports],
        {key: pack_case(kept_case(progress)) for key, progress in cases.items()},
        now,
        horizon_weeks,
        top_departments=top_departments,
        max_mattered=max_mattered,
    )


def summarise_tables(
    reports: Iterable[tuple[str, Any]],
    cases: Mapping[str, Any],
    now: datetime,
    horizon_weeks: int,
    *,
    top_departments: int = TOP_DEPARTMENTS,
    max_mattered: int = MAX_MATTERED,
) -> InsightSnapshot:
    """The summary of the tables' entries (signal_id -> report, case_id -> case, in any
    form they hold), in one counting pass over the reports. An unreadable entry is left
    out. What the pass keeps besides counters: each case's durations, the reports that
    joined a case (to name its reporters), and the ``max_mattered`` latest settlements."""
    start_at = horizon_start(now, horizon_weeks)
    start = micros(start_at)
    end = micros(week_start(now) + timedelta(weeks=1))
    weeks = [_Week() for _ in range(horizon_weeks)]
    signals: Counter[str] = Counter()  # per department
    people: dict[str, set[str]] = defaultdict(set)  # per department
    joined: dict[str, list[tuple[int, Any]]] = defaultdict(list)  # case -> (place, value)
    to_record: list[float] = []
    to_settle: list[float] = []
    status_counts: Counter[str] = Counter()
    case_count = recorded = 0
    # The latest settlements that mattered: (settled, -place, ...), the least at [0].
    # ``place``: where the case first appears among the horizon's reports (ties go to the
    # first to appear, as a stable sort of the reports in table order would have it).
    latest: list[tuple[int, int, float, str, str, int, KeptReport]] = []
    for place, (key, value) in enumerate(reports):
        report = read_report(key, value)
        if report is None or not start <= report.received_at < end:
            continue
        week = weeks[(report.received_at - start) // WEEK_US]
        department = report.department
        week.channel[report.channel] += 1
        week.kind[report.kind] += 1
        week.category[report.category] += 1
        week.department[department] += 1
        signals[department] += 1
        if report.refs:
            people[department].add(report.refs[0])
        if report.case_id != key:
            joined[report.case_id].append((place, value))
            continue
        case_count += 1  # first reported in the horizon: a new case
        case = read_case(cases.get(key))
        if case is None:
            continue
        record_at = case.recorded_at
        if record_at is None and case.steps:
            record_at = min(step[0] for step in case.steps)
        if record_at is not None:
            recorded += 1
            to_record.append(max(0.0, (record_at - report.received_at) / 1_000_000))
        settled = _settled_at(case.steps)
        if not case.steps or settled is None:
            continue
        status = case.steps[-1][3]  # the current outcome
        status_counts[status] += 1
        after = max(0.0, (settled - report.received_at) / 1_000_000)
        to_settle.append(after)
        if status in MATTERED and max_mattered > 0:
            earlier = joined.get(key)
            first_place = earlier[0][0] if earlier else place
            entry = (settled, -first_place, after, status, key, place, report)
            if len(latest) < max_mattered:
                heapq.heappush(latest, entry)
            elif entry[:2] > latest[0][:2]:
                heapq.heapreplace(latest, entry)
    mattered = []
    for settled, _, after, status, key, place, first in sorted(
        latest, key=lambda entry: entry[:2], reverse=True
    ):
        others = joined.get(key, [])
        its: list[tuple[int, KeptReport | None]] = [(place, first)]
        its += ((p, read_report(key, v)) for p, v in others)
        its.sort(key=lambda pair: pair[0])
        refs = (ref for _, report in its if report is not None for ref in report.refs)
        mattered.append(
            MatteredReport(
                reported_on=instant(first.received_at).date(),
                settled_at=instant(settled),
                settled_after_s=after,
                status=OutcomeStatus(status),
                kind=Kind(first.kind),
                category=Category(first.category),
                department=first.department,
                reporters=len(its),
                reporter_refs=list(dict.fromkeys(refs))[:MAX_REFS],
            )
        )
    top = set(_ranked(signals, top_departments))
    mondays = [start_at + timedelta(weeks=i) for i in range(horizon_weeks)]
    return InsightSnapshot(
        generated_at=now,
        horizon_weeks=horizon_weeks,
        weeks=[week.counts(monday, top) for week, monday in zip(weeks, mondays, strict=True)],
        participation=_participation(signals, people, top_departments),
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
