"""An incident: several customers, one problem, within a short time (a possible outage)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.classification import Category
from schemas.signal import SCHEMA_VERSION, Channel, Contract, SignalId, UtcDatetime

# An Incident lists at most this many reports; reports_count goes on counting.
MAX_LISTED_REPORTS = 200


# signal.source of the records an incident sends to the desk (its ticket and notes): a
# desk, or the outbox, tells them from employees' reports by it. Ids from this source are
# derived, so a redelivery gives the same id.
INCIDENT_SOURCE = "antenna-incidents"


class IncidentStatus(StrEnum):
    opened = "opened"
    updated = "updated"  # another report joined
    closed = "closed"  # no report joined for the quiet period


class IncidentReport(Contract):
    """One report of an incident, as far as the desk and other teams need it: which signal
    (its own case, with the customer's details, is at the desk under this id), when,
    through which channel and department, and what it says, without the customer's
    name, e-mail address or phone number."""

    signal_id: SignalId
    reported_at: UtcDatetime
    channel: Channel
    department: str | None = Field(default=None, max_length=100)
    excerpt: str = Field(max_length=300, description="The start of the report's own words")


class Incident(Contract):
    """On signals.incidents, keyed by ``incident_id``. Every change is published as the
    whole incident with a higher ``version``: a consumer keeps the highest version per
    incident_id (a redelivery repeats a version, never changes it)."""

    schema_version: int = SCHEMA_VERSION
    incident_id: SignalId = Field(
        description="Also the case id of the incident's ticket at the service desk"
    )
    version: int = Field(ge=1)
    status: IncidentStatus
    category: Category
    place: str | None = Field(default=None, max_length=100)
    summary: str = Field(
        max_length=300,
        examples=["Possible outage: 7 reports about payments and cards in 40 minutes"],
    )
    words: list[str] = Field(
        default_factory=list, max_length=20, description="Words the reports share"
    )
    opened_at: UtcDatetime
    changed_at: UtcDatetime
    closed_at: UtcDatetime | None = None
    first_report_at: UtcDatetime
    last_report_at: UtcDatetime
    reports_count: int = Field(ge=1)
    customers_count: int = Field(ge=1, description="Different customers among the reports")
    employees_count: int = Field(ge=1, description="Different employees who reported them")
    reports: list[IncidentReport] = Field(
        max_length=MAX_LISTED_REPORTS, description="The first reports, oldest first"
    )
