"""What the notifier knows about a case, and which notices it owes. Pure.

A case file is folded from the events of one case, in any order: its reports (the first
and every colleague's, from the routed and duplicates topics), its record (the ticket or
lead, from signals.delivered or from an outcome) and its outcomes (signals.outcomes).
``due`` lists every notice the file justifies; which of them were sent already is the
ledger's business (``ledger.py``), so a redelivered event, or the same facts in another
order, never owes a notice twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from schemas import (
    Channel,
    DeliveryResult,
    DeliveryStatus,
    Outcome,
    OutcomeStatus,
    Reporter,
    RoutedSignal,
    topics,
)
from services.common.open_cases import awaited
from services.common.outcomes import DONE, current_outcome, fold_outcome

# Reporters remembered per case. A case reported more often is an incident; later
# reporters are still told their own "joined" notice only while it fits.
MAX_REPORTS = 200
# The metadata that says where an answer goes (see services/ingest/chat and email).
REPLY_PATH_KEYS = frozenset(
    {
        "message_id",  # e-mail: the original mail
        "platform",
        "slack_team_id",
        "slack_channel_id",
        "slack_ts",
        "slack_thread_ts",
        "slack_kind",
    }
)
# Destinations whose records notices name; triage has none.
DESTINATIONS = frozenset(topics.ROUTED_BY_DESTINATION)


class NoticeKind(StrEnum):
    recorded = "recorded"  # the case's ticket or lead exists (told to the first reporter)
    joined = "joined"  # a colleague had reported the case already (told to later reporters)
    resolved = "resolved"  # the ticket is resolved or closed
    won = "won"  # the lead is won


class _State(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Record(_State):
    id: str | None  # None: the destination gives no number (e.g. the outbox)
    url: str | None = None
    at: datetime  # when it was known to exist


class Report(_State):
    """One employee's report of the case: whom to tell, where, in which language."""

    signal_id: str
    ordinal: int  # 1: the case's first report; n: the n-th colleague to report it
    reporter: Reporter
    channel: Channel
    language: str  # nl or en
    subject: str | None = None
    reply_path: dict[str, str] = {}
    reported_at: datetime


class CaseFile(_State):
    case_id: str
    partition: int  # of the events that write it; expiry deletes it from there
    touched_at: float  # unix seconds of the last change
    destination: str | None = None
    record: Record | None = None
    reports: tuple[Report, ...] = ()
    outcomes: tuple[Outcome, ...] = ()

    def changed(self, **update: object) -> CaseFile:
        return self.model_copy(update=update)


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    report: Report
    case_id: str
    destination: str
    record: Record
    at: datetime  # when what it tells happened: news older than the age limit is not sent
    status: OutcomeStatus | None = None  # resolved/closed/won for outcome notices

    @property
    def key(self) -> str:
        """The ledger's key: each report hears of each kind once."""
        return f"{self.report.signal_id}|{self.kind.value}"


def new_case(case_id: str, partition: int, now: float) -> CaseFile:
    return CaseFile(case_id=case_id, partition=partition, touched_at=now)


def case_of_routed(routed: RoutedSignal) -> str:
    """The case a routed event belongs to (a first report's own id)."""
    return routed.dedupe.cluster_id


def language_of(routed: RoutedSignal) -> str:
    spoken = routed.classification.language or routed.signal.language or ""
    return "nl" if spoken.lower().startswith("nl") else "en"


def with_report(case: CaseFile, routed: RoutedSignal) -> CaseFile:
    signal = routed.signal
    if routed.destination.name not in DESTINATIONS:
        return case  # triage: no record will follow
    if any(r.signal_id == signal.signal_id for r in case.reports):
        return case  # a redelivery
    if len(case.reports) >= MAX_REPORTS:
        return case
    first = routed.dedupe.duplicate_of is None
    report = Report(
        signal_id=signal.signal_id,
        ordinal=1 if first else max(2, routed.dedupe.reporters_count),
        reporter=signal.reporter,
        channel=signal.channel,
        language=language_of(routed),
        subject=signal.subject,
        reply_path={k: v for k, v in signal.metadata.items() if k in REPLY_PATH_KEYS},
        reported_at=routed.routed_at,
    )
    reports = sorted((*case.reports, report), key=lambda r: (r.ordinal, r.reported_at))
    return case.changed(
        reports=tuple(reports), destination=case.destination or routed.destination.name
    )


def with_delivery(case: CaseFile, result: DeliveryResult) -> CaseFile:
    """The case's own delivery names its record. Only the first "delivered" counts: a
    redelivery's echo, or a later "retrying", changes nothing."""
    if result.status is not DeliveryStatus.delivered or case.record is not None:
        return case
    record = Record(id=result.external_id, url=result.external_url, at=result.at)
    return case.changed(record=record, destination=case.destination or result.destination)


def with_outcome(case: CaseFile, outcome: Outcome) -> CaseFile:
    outcomes = fold_outcome(case.outcomes, outcome)
    if outcomes == case.outcomes:
        return case
    record = case.record or Record(
        id=outcome.record_id, url=outcome.record_url, at=outcome.changed_at
    )
    return case.changed(
        outcomes=outcomes, record=record, destination=case.destination or outcome.destination
    )


Fact = RoutedSignal | DeliveryResult | Outcome


def read_fact(topic: str, value: bytes | None) -> Fact:
    """The event on ``topic``; ValidationError when it is not what the topic carries."""
    if topic == topics.DELIVERED:
        return DeliveryResult.model_validate_json(value or b"")
    if topic == topics.OUTCOMES:
        return Outcome.model_validate_json(value or b"")
    return RoutedSignal.model_validate_json(value or b"")


def case_of(fact: Fact) -> str:
    if isinstance(fact, RoutedSignal):
        return case_of_routed(fact)
    if isinstance(fact, DeliveryResult):
        return fact.signal_id  # a case's own delivery; a duplicate's names no case
    return fact.case_id


def with_fact(case: CaseFile, fact: Fact) -> CaseFile:
    if isinstance(fact, RoutedSignal):
        return with_report(case, fact)
    if isinstance(fact, DeliveryResult):
        return with_delivery(case, fact)
    return with_outcome(case, fact)


def awaiting_since(value: Any) -> float | None:
    """When a stored case file's record was made, while its outcome is still to be
    told (someone reported it, a record exists, no final outcome is known); else None.
    What keeps the file past the dedupe window (services/common/open_cases.py)."""
    try:
        case = CaseFile.model_validate(value)
    except ValidationError:
        return None
    current = current_outcome(case.outcomes)
    if case.record is None or not case.reports or not awaited(current.status if current else None):
        return None
    return case.record.at.timestamp()


def due(case: CaseFile) -> list[Notice]:
    """Every notice the case file justifies, in the order they should arrive."""
    record, destination = case.record, case.destination
    if record is None or destination is None:
        return []
    current = current_outcome(case.outcomes)
    notices = []
    for report in case.reports:
        first = report.signal_id == case.case_id
        notices.append(
            Notice(
                NoticeKind.recorded if first else NoticeKind.joined,
                report,
                case.case_id,
                destination,
                record,
                at=max(record.at, report.reported_at),
            )
        )
        if current is not None and (current.status in DONE or current.status is OutcomeStatus.won):
            kind = NoticeKind.won if current.status is OutcomeStatus.won else NoticeKind.resolved
            notices.append(
                Notice(
                    kind,
                    report,
                    case.case_id,
                    destination,
                    record,
                    at=current.changed_at,
                    status=current.status,
                )
            )
    return notices
