"""The programme's insight: what the insight app (services/insight) publishes on the
compacted topic insight.summary under the key ``INSIGHT_KEY``, and ingest shows on
/insight and /v1/insight to operators.

Counts over the last ``horizon_weeks`` weeks (UTC, ISO weeks starting on Monday), and for
the reports that mattered the pseudonymous references of their reporters. Nothing about a
customer (no names, addresses, texts or record numbers) and no employee's name: ingest
adds the names of the employees who opted in (``NotificationPreference.credit_name``) at
the moment it shows the page, so that withdrawing consent takes effect at once."""

from __future__ import annotations

import hashlib
from datetime import date

from pydantic import Field

from schemas.classification import Category, Kind
from schemas.outcome import OutcomeStatus
from schemas.signal import SCHEMA_VERSION, Contract, UtcDatetime

INSIGHT_KEY = "summary"  # the record key of every snapshot: compaction keeps the latest
_REF_DERIVATION = b"antenna reporter ref v1\0"


def reporter_ref(key: str) -> str:
    """The pseudonymous reference of an employee in the insight data, from their
    preference key (schemas.preference.preference_key). The same on every worker and
    replica, so that ingest can credit an employee who opted in; not a secret (anyone who
    knows the employee id can compute it), but no id or address travels in the clear."""
    return hashlib.sha256(_REF_DERIVATION + key.encode()).hexdigest()[:20]


class WeekCounts(Contract):
    week: str = Field(pattern=r"^\d{4}-W\d{2}$", description="ISO week, e.g. 2026-W09")
    starts_on: date = Field(description="Its Monday")
    signals: int = Field(ge=0, description="Reports received that week, duplicates included")
    by_channel: dict[str, int] = Field(default_factory=dict)
    by_kind: dict[str, int] = Field(default_factory=dict)
    by_category: dict[str, int] = Field(default_factory=dict)
    by_department: dict[str, int] = Field(
        default_factory=dict,
        description="The reporting departments of the horizon's top departments (by "
        "reports); the empty name: not given",
    )
    other_departments: int = Field(default=0, ge=0, description="Reports of other departments")


class DepartmentParticipation(Contract):
    department: str = Field(max_length=100, description="The empty name: not given")
    employees: int = Field(ge=0, description="Distinct employees who reported")
    signals: int = Field(ge=0)


class Participation(Contract):
    employees: int = Field(ge=0, description="Distinct employees who reported in the horizon")
    by_department: list[DepartmentParticipation] = Field(
        default_factory=list, description="The top departments by employees, most first"
    )
    other_departments: DepartmentParticipation | None = Field(
        default=None, description="The departments beyond the top ones, together"
    )


class OutcomeCounts(Contract):
    """About the cases first reported in the horizon."""

    cases: int = Field(ge=0, description="Cases (first reports) in the horizon")
    recorded: int = Field(ge=0, description="Cases that became a ticket or lead")
    tickets_resolved: int = Field(ge=0, description="Tickets now resolved or closed")
    leads_won: int = Field(ge=0)
    leads_lost: int = Field(ge=0)
    median_to_record_s: float | None = Field(
        default=None, description="Median seconds from the first report to its ticket or lead"
    )
    median_to_resolution_s: float | None = Field(
        default=None,
        description="Median seconds from the first report until the case was settled "
        "(resolved or closed; won or lost) and stayed so",
    )


class MatteredReport(Contract):
    """A resolved complaint or a won lead, first reported in the horizon."""

    reported_on: date
    settled_at: UtcDatetime
    settled_after_s: float = Field(ge=0, description="Seconds from the first report")
    status: OutcomeStatus
    kind: Kind
    category: Category
    department: str = Field(max_length=100, description="Of the first report; empty: not given")
    reporters: int = Field(ge=1, description="Employees' reports of the case")
    reporter_refs: list[str] = Field(
        default_factory=list,
        max_length=40,
        description="reporter_ref of each reporting employee's ids (employee id, e-mail)",
    )


class InsightSnapshot(Contract):
    schema_version: int = SCHEMA_VERSION
    generated_at: UtcDatetime
    horizon_weeks: int = Field(ge=1)
    weeks: list[WeekCounts] = Field(description="Every week of the horizon, oldest first")
    participation: Participation
    outcomes: OutcomeCounts
    mattered: list[MatteredReport] = Field(
        default_factory=list, description="Most recently settled first, at most 50"
    )
