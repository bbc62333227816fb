"""What the insight tables keep: one short string per report and per case (tally.py).

The compact forms round-trip, what earlier versions wrote (JSON-mode dicts, still in a
deployed worker's changelogs) is read and compacted, hostile values round-trip in linear
time, and the summary over the compact tables equals the earlier computation over
models (kept below as the reference) on a generated set."""

from __future__ import annotations

import json
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import Outcome, OutcomeStatus, new_signal_id
from schemas.classification import Category, Kind
from schemas.insight import (
    DepartmentParticipation,
    InsightSnapshot,
    MatteredReport,
    OutcomeCounts,
    Participation,
    WeekCounts,
    reporter_ref,
)
from services.common.outcomes import current_outcome
from services.insight.facts import Record, Report, decode, encode
from services.insight.summary import MATTERED, settled_at, summarise, summarise_tables
from services.insight.tally import (
    CATEGORIES,
    CHANNELS,
    KINDS,
    STATUSES,
    UNREADABLE,
    CaseProgress,
    KeptCase,
    case_time,
    case_with_change,
    case_with_record,
    compact_case,
    compact_report,
    horizon_start,
    kept_case,
    kept_report,
    micros,
    pack_case,
    pack_report,
    read_case,
    read_report,
    report_time,
    week_name,
    week_start,
    with_change,
    with_record,
)

NOW = datetime(2026, 3, 12, 15, 0, tzinfo=UTC)
HOSTILE = '|[]{}",\\\x00\x1f\n é€😀'


def make_report(
    rng: random.Random,
    at: datetime,
    *,
    case_id: str | None = None,
    channel: str | None = None,
    department: str | None = None,
    refs: tuple[str, ...] | None = None,
) -> Report:
    signal_id = new_signal_id()
    if refs is None:
        people = [reporter_ref(f"e{rng.randrange(400)}") for _ in range(rng.choice([0, 1, 2, 2]))]
        refs = tuple(people)
    return Report(
        signal_id=signal_id,
        case_id=case_id or signal_id,
        received_at=at,
        channel=channel or rng.choice(list(CHANNELS)),
        kind=rng.choice(list(KINDS)),
        category=rng.choice(list(CATEGORIES)),
        department=department if department is not None else f"D{rng.randrange(30)}",
        refs=refs,
        destination="servicedesk",
    )


def make_outcome(case_id: str, status: OutcomeStatus, at: datetime, event: str) -> Outcome:
    return Outcome(
        case_id=case_id,
        status=status,
        changed_at=at,
        record_id="4711",
        destination="servicedesk",
        connector="request_tracker",
        event_id=event,
        observed_at=at,
    )


# --------------------------------------------------------------------------- reports


def test_a_report_round_trips_in_one_short_string() -> None:
    rng = random.Random(1)
    first = make_report(rng, NOW, refs=(reporter_ref("anna"), reporter_ref("anna@x.example")))
    joined = make_report(rng, NOW, case_id=first.signal_id, refs=())
    for report in (first, joined):
        value = pack_report(report.signal_id, kept_report(report))
        assert isinstance(value, str) and not value.startswith("[")
        assert read_report(report.signal_id, value) == kept_report(report)
        assert report_time(value) == micros(report.received_at)
    # Only what the summary reads: no destination, the own case id not repeated.
    value = pack_report(first.signal_id, kept_report(first))
    assert len(value) == 13 + 3 + 1 + 40 + 1 + len(first.department)
    assert first.signal_id not in value and "servicedesk" not in value


@pytest.mark.parametrize(
    "change",
    [
        {"department": HOSTILE * 10},
        {"department": "|" * 100},
        {"channel": "fax"},
        {"kind": HOSTILE},
        {"category": "|"},
        {"case_id": "a|b"},
        {"case_id": ""},
        {"refs": ("not-a-ref",)},
        {"refs": (HOSTILE,)},
        {"refs": tuple(reporter_ref(str(i)) for i in range(12))},
        {"received_at": datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)},
        {"received_at": datetime(2200, 1, 1, tzinfo=UTC)},
        {"received_at": datetime(2026, 3, 12, 16, 0, tzinfo=UTC).astimezone()},
    ],
)
def test_any_report_round_trips(change: dict[str, Any]) -> None:
    report = make_report(random.Random(2), NOW).model_copy(update=change)
    value = pack_report(report.signal_id, kept_report(report))
    assert read_report(report.signal_id, value) == kept_report(report)
    assert json.loads(json.dumps(value)) == value  # the changelog carries it as JSON
    assert report_time(value) == micros(report.received_at)


def test_a_report_without_a_time_zone_is_not_a_fact() -> None:
    with pytest.raises(ValidationError):
        make_report(random.Random(3), NOW.replace(tzinfo=None))
    record = encode(Record(signal_id=new_signal_id(), at=NOW)).replace(b"+00:00", b"")
    record = record.replace(b'Z"', b'"')
    with pytest.raises(ValidationError):
        decode(record)


def test_what_an_earlier_version_wrote_is_still_read_and_compacted() -> None:
    rng = random.Random(4)
    report = make_report(rng, NOW, department=HOSTILE)
    old = report.model_dump(mode="json")  # an old changelog's value
    assert read_report(report.signal_id, old) == kept_report(report)
    assert report_time(old) == micros(report.received_at)
    assert compact_report(old) == pack_report(report.signal_id, kept_report(report))
    progress = with_change(
        with_record(None, Record(signal_id=report.signal_id, at=NOW)),
        make_outcome(report.signal_id, OutcomeStatus.resolved, NOW + timedelta(days=1), "e|1"),
    )
    old_case = progress.model_dump(mode="json")
    assert read_case(old_case) == kept_case(progress)
    assert case_time(old_case) == micros(progress.touched_at)
    assert compact_case(old_case) == pack_case(kept_case(progress))
    # Compacting again changes nothing; what cannot be read stays, and goes first.
    assert compact_report(compact_report(old)) == compact_report(old)
    assert report_time("garbage") == case_time("garbage") == UNREADABLE
    for junk in ({"signal_id": "x"}, "garbage", "[1, 2]", "0" * 20, 42, None):
        assert read_report("k", junk) is None and read_case(junk) is None
        assert report_time(junk) <= 0 and case_time(junk) <= 0  # before any horizon
        assert compact_report(junk) == junk and compact_case(junk) == junk


def test_the_tables_compact_old_values_as_they_are_restored(tmp_path: Path) -> None:
    from services.insight.app import create_app
    from services.insight.settings import InsightSettings

    app = create_app(InsightSettings(var_dir=tmp_path))
    report = make_report(random.Random(5), NOW)
    restore = app.tables["insight-reports"]._to_value
    assert restore(report.model_dump(mode="json")) == pack_report(
        report.signal_id, kept_report(report)
    )
    progress = with_record(None, Record(signal_id=report.signal_id, at=NOW))
    restore_case = app.tables["insight-cases"]._to_value
    assert restore_case(progress.model_dump(mode="json")) == pack_case(kept_case(progress))


# --------------------------------------------------------------------------- cases


def random_facts(rng: random.Random, case_id: str, count: int) -> list[Record | Outcome]:
    facts: list[Record | Outcome] = []
    for i in range(count):
        at = NOW + timedelta(hours=rng.randrange(6))  # ties on purpose
        if rng.random() < 0.2:
            facts.append(Record(signal_id=case_id, at=at))
        else:
            status = rng.choice(list(OutcomeStatus))
            event = rng.choice([f"e{i % 7}", f"ev|{i % 5}", HOSTILE + str(i % 3)])
            facts.append(make_outcome(case_id, status, at, event))
    return facts


def test_a_case_folds_as_case_progress_folds_and_round_trips() -> None:
    rng = random.Random(6)
    for _ in range(200):
        case_id = new_signal_id()
        progress: CaseProgress | None = None
        case: KeptCase | None = None
        for fact in random_facts(rng, case_id, rng.randrange(1, 40)):
            if isinstance(fact, Record):
                progress, case = with_record(progress, fact), case_with_record(case, fact)
            else:
                progress, case = with_change(progress, fact), case_with_change(case, fact)
            assert case == kept_case(progress)
            value = pack_case(case)
            assert read_case(value) == case
            assert json.loads(json.dumps(value)) == value
            assert case_time(value) == case.touched_at


def test_case_statuses_are_all_coded() -> None:
    assert set(STATUSES) == {status.value for status in OutcomeStatus}
    assert set(KINDS) == {kind.value for kind in Kind}
    assert set(CATEGORIES) == {category.value for category in Category}
    for table in (CHANNELS, KINDS, CATEGORIES, STATUSES):
        assert len(set(table.values())) == len(table)
        assert all(len(code) == 1 and code != "|" for code in table.values())


# --------------------------------------------------------------------------- hostile sizes


def _cost(work: Callable[[], object], repeat: int = 7) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("text", ["|", HOSTILE])
def test_hostile_text_round_trips_in_linear_time(text: str) -> None:
    rng = random.Random(7)

    def round_trip(size: int) -> Callable[[], object]:
        report = make_report(rng, NOW, department=text * size, case_id=text * size)
        kept = kept_report(report)
        at = micros(NOW)
        # Longer than an Outcome takes (255): what a changelog could hold all the same.
        case = KeptCase(None, at, ((at, 2, text * size, OutcomeStatus.resolved),))
        junk = (text + "0") * size

        def work() -> object:
            assert read_report(report.signal_id, pack_report(report.signal_id, kept)) == kept
            assert read_case(pack_case(case)) == case
            read_report("k", junk), read_case(junk), report_time(junk), case_time(junk)
            return None

        return work

    small, large = _cost(round_trip(10_000)), _cost(round_trip(80_000))
    assert large < 30 * max(small, 1e-4)  # 8 times the text: not 64 times the time


def test_the_largest_accepted_values_round_trip() -> None:
    """department: 100 characters (facts.department); an event id: 255 (Outcome)."""
    report = make_report(random.Random(8), NOW, department="|" * 100)
    assert read_report(report.signal_id, pack_report(report.signal_id, kept_report(report)))
    event = "|" * 255
    case = case_with_change(None, make_outcome(report.signal_id, OutcomeStatus.won, NOW, event))
    assert read_case(pack_case(case)) == case


# --------------------------------------------------------------------------- the summary


def generated(rng: random.Random, size: int) -> tuple[list[Report], dict[str, CaseProgress]]:
    """Reports over 30 weeks around the horizon (some before, some next week), a third
    of them joining an earlier case (some listed before that case's first report), and
    cases with records and outcomes, with ties in the times on purpose."""
    reports: list[Report] = []
    firsts: list[Report] = []
    for i in range(size):
        at = NOW - timedelta(hours=rng.randrange(-24 * 7, 24 * 7 * 29))
        at = at.replace(minute=0, second=0, microsecond=rng.choice([0, 0, 1, 999_999]))
        department = rng.choice([f"D{rng.randrange(40)}", "", HOSTILE, "a|b"])
        channel = "fax" if i % 97 == 0 else None  # a value without a code: the JSON form
        if firsts and rng.random() < 0.33:
            joined = make_report(rng, at, case_id=rng.choice(firsts).case_id)
            reports.append(joined.model_copy(update={"department": department}))
        else:
            first = make_report(rng, at, department=department, channel=channel)
            firsts.append(first)
            reports.append(first)
    rng.shuffle(reports)  # the table's order: a case's colleague may come first
    cases: dict[str, CaseProgress] = {}
    for first in firsts:
        if rng.random() < 0.2:
            continue
        progress: CaseProgress | None = None
        base = first.received_at
        for j in range(rng.randrange(0, 5)):
            day = timedelta(days=rng.choice([1, 2, 2, 3]))  # equal settlements across cases
            if rng.random() < 0.3:
                progress = with_record(progress, Record(signal_id=first.signal_id, at=base + day))
            else:
                status = rng.choice(list(OutcomeStatus))
                outcome = make_outcome(first.signal_id, status, base + day, f"{j}|{status}")
                progress = with_change(progress, outcome)
        if progress is not None:
            cases[first.signal_id] = progress
    return reports, cases


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_summary_equals_the_earlier_computation(seed: int) -> None:
    rng = random.Random(seed)
    reports, cases = generated(rng, 3000)
    for weeks, top, most in ((26, 20, 50), (4, 3, 5), (1, 1, 0)):
        expected = reference_summarise(reports, cases, NOW, weeks, top, most)
        got = summarise(reports, cases, NOW, weeks, top_departments=top, max_mattered=most)
        assert got.model_dump_json() == expected.model_dump_json()
        # The same from tables holding every form at once: compact, JSON, earlier dicts.
        forms = [compact_report, lambda v: v]
        table = [(r.signal_id, rng.choice(forms)(r.model_dump(mode="json"))) for r in reports]
        case_table = {
            key: rng.choice([compact_case, lambda v: v])(p.model_dump(mode="json"))
            for key, p in cases.items()
        }
        mixed = summarise_tables(
            table, case_table, NOW, weeks, top_departments=top, max_mattered=most
        )
        assert mixed.model_dump_json() == expected.model_dump_json()
    assert expected.outcomes.cases > 0  # the set exercises every part
    assert any(m.reporters > 1 for m in summarise(reports, cases, NOW, 26).mattered)


def test_the_tables_take_a_fraction_of_what_they_took() -> None:
    import tracemalloc

    rng = random.Random(9)
    reports = [make_report(rng, NOW) for _ in range(2000)]
    sizes = []
    for keep in (lambda value: value, compact_report):
        dumped = [r.model_dump(mode="json") for r in reports]
        tracemalloc.start()
        values = [keep(json.loads(json.dumps(value))) for value in dumped]
        sizes.append(tracemalloc.get_traced_memory()[0])
        tracemalloc.stop()
        assert len(values) == len(reports)
    old_size, new_size = sizes
    assert new_size < 0.25 * old_size, sizes


# The summary as it was computed before the tables were compacted (commit dcc0418):
# models in, the same figures out. Kept as the reference for the test above.


def _ref_ranked(counts: Counter[str], top: int) -> list[str]:
    return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]


def _ref_weeks(kept: list[Report], start: datetime, count: int, top: set[str]) -> list[Any]:
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
    return [
        WeekCounts(
            week=week_name(monday),
            starts_on=monday.date(),
            signals=sum(rows[week_name(monday)]["kind"].values()),
            by_channel=dict(sorted(rows[week_name(monday)]["channel"].items())),
            by_kind=dict(sorted(rows[week_name(monday)]["kind"].items())),
            by_category=dict(sorted(rows[week_name(monday)]["category"].items())),
            by_department=dict(sorted(rows[week_name(monday)]["department"].items())),
            other_departments=sum(rows[week_name(monday)]["other"].values()),
        )
        for monday in mondays
    ]


def _ref_participation(kept: list[Report], top: int) -> Participation:
    people: dict[str, set[str]] = defaultdict(set)
    signals: Counter[str] = Counter()
    for report in kept:
        signals[report.department] += 1
        if report.refs:
            people[report.department].add(report.refs[0])
    rows = sorted(
        (
            DepartmentParticipation(department=n, employees=len(people[n]), signals=signals[n])
            for n in signals
        ),
        key=lambda row: (-row.employees, -row.signals, row.department),
    )
    other = None
    if rows[top:]:
        other = DepartmentParticipation(
            department="",
            employees=len(set().union(*(people[row.department] for row in rows[top:]))),
            signals=sum(row.signals for row in rows[top:]),
        )
    everyone = len(set().union(*people.values())) if people else 0
    return Participation(employees=everyone, by_department=rows[:top], other_departments=other)


def reference_summarise(
    reports: Iterable[Report],
    cases: Mapping[str, CaseProgress],
    now: datetime,
    horizon_weeks: int,
    top_departments: int,
    max_mattered: int,
) -> InsightSnapshot:
    start = horizon_start(now, horizon_weeks)
    end = week_start(now) + timedelta(weeks=1)
    kept = [r for r in reports if start <= r.received_at < end]
    top = set(_ref_ranked(Counter(r.department for r in kept), top_departments))
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
            continue
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
            reporter_refs=list(dict.fromkeys(ref for r in its for ref in r.refs))[:40],
        )
        for settled, after, status, first, its in candidates[:max_mattered]
    ]

    def median(values: list[float]) -> float | None:
        return float(statistics.median(values)) if values else None

    return InsightSnapshot(
        generated_at=now,
        horizon_weeks=horizon_weeks,
        weeks=_ref_weeks(kept, start, horizon_weeks, top),
        participation=_ref_participation(kept, top_departments),
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
