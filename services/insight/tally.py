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
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict

from schemas import Outcome, OutcomeStatus
from services.common.outcomes import MAX_HISTORY, STAGE, fold_outcome
from services.insight.facts import Record, Report

When = TypeVar("When", datetime, int)


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


def expired(entries: Iterable[tuple[str, When]], cutoff: When, keep: int) -> list[str]:
    """The keys to delete: those dated before ``cutoff``, and the oldest of the rest
    beyond the newest ``keep``."""
    kept: list[tuple[When, str]] = []
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


# --------------------------------------------------------------------------- compact entries
#
# What the tables hold: each report and each case as one short string with only what the
# summary, the tally and expiry read, and their changelogs carry the same strings (a
# JSON-mode dict per report, as before, took about 1 KB in memory with its decoded copy).
#
# report: "{received µs:013x}{channel}{kind}{category}{n}{ref}...{case_id}|{department}"
#   microseconds since 1970 (UTC) in 13 hex digits; channel, kind and category one
#   character each (CODES); n (one digit) refs of 20 hex characters each; the case_id
#   empty when it is the report's own signal_id (the key); the department last, as given
#   (it may hold "|": only the first "|" after the refs separates).
# case: "{recorded µs:013x, or empty}|{touched µs:013x}" and per outcome, oldest first,
#   "|{status code}{changed µs:013x}{event_id}".
# Anything these cannot hold (a value without a code, a ref of another shape, "|" in an
#   id, a time before 1970 or from 2112 on) is kept as a JSON list of the same fields,
#   which starts with "[". A JSON-mode dict is what earlier versions wrote: still read
#   (a deployed worker restores its old changelog), and compacted as it is restored.

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)
WEEK_US: Final = 7 * 86_400_000_000
_TIME: Final = 13  # hex digits
_TIME_END: Final = 16**_TIME
_REF: Final = 20  # hex characters of a reporter_ref (schemas/insight.py)
_HEX_REF: Final = re.compile("[0-9a-f]{20}")
_DIGITS: Final = "0123456789"
SEP: Final = "|"
UNREADABLE: Final = -(2**63)  # the time of an unreadable entry: the first to go

# One character per known value. Append only, never reuse a character: the changelogs
# hold them. A value without one is kept in the JSON form.
CHANNELS: Final = {"form": "f", "chat": "c", "email": "e", "api": "a"}
KINDS: Final = {"complaint": "c", "opportunity": "o", "other": "x"}
CATEGORIES: Final = {
    "payments_cards": "p",
    "mortgage_loans": "m",
    "insurance_claims": "i",
    "energy": "e",
    "internet_telecom": "t",
    "invoice_billing": "b",
    "delivery": "d",
    "app_website": "w",
    "service_waiting": "s",
    "other": "x",
}
STATUSES: Final = {
    "opened": "o",
    "in_progress": "p",
    "resolved": "r",
    "closed": "c",
    "won": "w",
    "lost": "l",
}
_CHANNEL_NAMES: Final = {code: name for name, code in CHANNELS.items()}
_KIND_NAMES: Final = {code: name for name, code in KINDS.items()}
_CATEGORY_NAMES: Final = {code: name for name, code in CATEGORIES.items()}
_STATUS_NAMES: Final = {code: OutcomeStatus(name) for name, code in STATUSES.items()}


def micros(at: datetime) -> int:
    """Microseconds since 1970 (UTC) of an aware ``at``."""
    return (at - EPOCH) // _US


def instant(us: int) -> datetime:
    return EPOCH + us * _US


def _in_range(*times: int | None) -> bool:
    return all(t is None or 0 <= t < _TIME_END for t in times)


class KeptReport(NamedTuple):
    """What is kept of a report (its key is its signal_id)."""

    received_at: int  # µs since 1970, UTC
    channel: str
    kind: str
    category: str
    refs: tuple[str, ...]
    case_id: str
    department: str


def kept_report(report: Report) -> KeptReport:
    return KeptReport(
        micros(report.received_at),
        report.channel,
        report.kind,
        report.category,
        report.refs,
        report.case_id,
        report.department,
    )


def pack_report(signal_id: str, report: KeptReport) -> str:
    codes = (
        CHANNELS.get(report.channel, "")
        + KINDS.get(report.kind, "")
        + CATEGORIES.get(report.category, "")
    )
    case = "" if report.case_id == signal_id else report.case_id
    if (
        _in_range(report.received_at)
        and len(codes) == 3
        and len(report.refs) < len(_DIGITS)
        and all(_HEX_REF.fullmatch(ref) for ref in report.refs)
        and SEP not in case
        and report.case_id
    ):
        return (
            f"{report.received_at:013x}{codes}{len(report.refs)}"
            f"{''.join(report.refs)}{case}{SEP}{report.department}"
        )
    return json.dumps([*report[:4], list(report.refs), report.case_id, report.department])


def read_report(signal_id: str, value: Any) -> KeptReport | None:
    """A report as the table holds it (any form); None when it cannot be read."""
    try:
        if isinstance(value, str) and value[:1] != "[":
            end = 17 + _REF * _DIGITS.index(value[16])
            bar = value.index(SEP, end)
            return KeptReport(
                int(value[:_TIME], 16),
                _CHANNEL_NAMES[value[13]],
                _KIND_NAMES[value[14]],
                _CATEGORY_NAMES[value[15]],
                tuple(value[i : i + _REF] for i in range(17, end, _REF)),
                value[end:bar] or signal_id,
                value[bar + 1 :],
            )
        if isinstance(value, str):
            at, channel, kind, category, refs, case_id, department = json.loads(value)
            texts = (channel, kind, category, case_id, department, *refs)
            if type(at) is int and type(refs) is list and all(type(t) is str for t in texts):
                return KeptReport(at, channel, kind, category, tuple(refs), case_id, department)
            return None
        if isinstance(value, dict):
            return kept_report(Report.model_validate(value))
    except (ValueError, KeyError, TypeError, IndexError):  # ValidationError is a ValueError
        return None
    return None


def report_time(value: Any) -> int:
    """When a report (any form) was received, in µs: what expiry goes by."""
    if isinstance(value, str) and value[:1] != "[":
        try:
            return int(value[:_TIME], 16)
        except ValueError:
            return UNREADABLE
    report = read_report("", value)
    return UNREADABLE if report is None else report.received_at


# One outcome, as its case keeps it: sorted as services.common.outcomes.order_key sorts.
Step = tuple[int, int, str, str]  # changed µs, stage, event_id, status


class KeptCase(NamedTuple):
    """What is kept of a case: as CaseProgress, each outcome a Step."""

    recorded_at: int | None
    touched_at: int
    steps: tuple[Step, ...] = ()


def _step(outcome: Outcome) -> Step:
    return micros(outcome.changed_at), STAGE[outcome.status], outcome.event_id, outcome.status


def kept_case(progress: CaseProgress) -> KeptCase:
    recorded = None if progress.recorded_at is None else micros(progress.recorded_at)
    steps = tuple(_step(outcome) for outcome in progress.outcomes)
    return KeptCase(recorded, micros(progress.touched_at), steps)


def case_with_record(case: KeptCase | None, record: Record) -> KeptCase:
    """with_record, on what is kept."""
    at = micros(record.at)
    if case is None:
        return KeptCase(at, at)
    recorded = at if case.recorded_at is None else min(case.recorded_at, at)
    return case._replace(recorded_at=recorded, touched_at=max(case.touched_at, at))


def case_with_change(case: KeptCase | None, outcome: Outcome) -> KeptCase:
    """with_change, on what is kept: the outcomes folded as fold_outcome folds them."""
    step = _step(outcome)
    if case is None:
        return KeptCase(None, step[0], (step,))
    by_id = {known[2]: known for known in case.steps}
    prior = by_id.get(step[2])
    if prior is None or step[:2] > prior[:2]:  # one event id: (changed, stage) decides
        by_id[step[2]] = step
    steps = tuple(sorted(by_id.values())[-MAX_HISTORY:])
    return case._replace(steps=steps, touched_at=max(case.touched_at, step[0]))


def pack_case(case: KeptCase) -> str:
    times = (case.recorded_at, case.touched_at, *(step[0] for step in case.steps))
    if _in_range(*times) and not any(SEP in step[2] for step in case.steps):
        recorded = "" if case.recorded_at is None else f"{case.recorded_at:013x}"
        steps = "".join(
            f"{SEP}{STATUSES[status]}{changed:013x}{event_id}"
            for changed, _, event_id, status in case.steps
        )
        return f"{recorded}{SEP}{case.touched_at:013x}{steps}"
    steps_json = [[changed, event_id, status] for changed, _, event_id, status in case.steps]
    return json.dumps([case.recorded_at, case.touched_at, steps_json])


def read_case(value: Any) -> KeptCase | None:
    """A case as the table holds it (any form); None when it cannot be read."""
    try:
        if isinstance(value, str) and value[:1] != "[":
            recorded, touched, *parts = value.split(SEP)
            steps: list[Step] = []
            for part in parts:
                status = _STATUS_NAMES[part[0]]
                changed = int(part[1 : 1 + _TIME], 16)
                steps.append((changed, STAGE[status], part[1 + _TIME :], status))
            return KeptCase(int(recorded, 16) if recorded else None, int(touched, 16), (*steps,))
        if isinstance(value, str):
            recorded, touched, steps_json = json.loads(value)
            times = (touched, *(() if recorded is None else (recorded,)))
            if not all(type(t) is int for t in times):
                return None
            steps = []
            for changed, event_id, name in steps_json:
                if type(changed) is not int or type(event_id) is not str:
                    return None
                status = OutcomeStatus(name)
                steps.append((changed, STAGE[status], event_id, status))
            return KeptCase(recorded, touched, (*steps,))
        if isinstance(value, dict):
            return kept_case(CaseProgress.model_validate(value))
    except (ValueError, KeyError, TypeError, IndexError):  # ValidationError is a ValueError
        return None
    return None


def case_time(value: Any) -> int:
    """The latest time in a case (any form), in µs: what expiry goes by."""
    if isinstance(value, str) and value[:1] != "[":
        try:
            start = value.index(SEP) + 1
            return int(value[start : start + _TIME], 16)
        except ValueError:
            return UNREADABLE
    case = read_case(value)
    return UNREADABLE if case is None else case.touched_at


def compact_report(value: Any) -> Any:
    """A report of an earlier version (a JSON-mode dict) in the compact form; any other
    value as it is (an unreadable one stays, and is the first to go)."""
    if not isinstance(value, dict):
        return value
    report = read_report("", value)
    return value if report is None else pack_report(str(value.get("signal_id")), report)


def compact_case(value: Any) -> Any:
    """A case of an earlier version (a JSON-mode dict) in the compact form; any other
    value as it is."""
    if not isinstance(value, dict):
        return value
    case = read_case(value)
    return value if case is None else pack_case(case)
