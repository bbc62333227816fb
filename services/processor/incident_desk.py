"""An incident at the service desk: one ticket that lists the reports, a note for each
report that joins later, a note when it closes. Pure.

They travel on their own topic, signals.incidents.desk, as RoutedSignals that the
connectors deliver exactly once like any case: the opening's signal_id is the
incident_id (the case id, so a redelivery finds the ticket instead of opening another),
and every note names the incident as its case (``dedupe.cluster_id``) with an id of its
own derived from the incident and what it adds, so each note is added once. All are
keyed by incident_id: the ticket and its notes come in order, from one partition, and
their records live in that partition of the connectors' tables.

Not on the routed and duplicates topics: those carry each employee's report once, and
the status page, the notifier and insight count on that.

A desk that receives webhooks tells an incident by ``signal.source`` (antenna-incidents)
and ``rule_id`` (incident); the ticket connectors (Request Tracker, Zendesk, Jira SM)
open and annotate it like any case.
"""

from __future__ import annotations

from datetime import timedelta

from schemas import (
    INCIDENT_SOURCE,
    Category,
    Channel,
    Classification,
    Dedupe,
    Destination,
    Incident,
    IncidentReport,
    Kind,
    Reporter,
    RoutedSignal,
    Signal,
    Urgency,
    signal_id_for,
)
from services.processor.domain.incidents import Change, DeskAction
from services.processor.domain.route import RuleSet, route

RULE_ID = "incident"
DESTINATION = "servicedesk"
DETECTOR = Reporter(name="Antenna incident detector")
CLASSIFIER_VERSION = "incident-detector-1"
# Marks the incident in the ticket's signal, for desks that look at metadata.
METADATA_KEY = "antenna_incident"


def desk_event(change: Change, rules: RuleSet, quiet: timedelta) -> RoutedSignal | None:
    """The routed event that brings ``change`` to the desk (on signals.incidents.desk);
    None when the change adds nothing to the ticket (a report counted beyond the listed
    ones)."""
    incident = change.incident
    if change.desk is DeskAction.open:
        text = ticket_text(incident, quiet)
        signal = _signal(incident, incident.incident_id, incident.summary, text)
        chosen = route(rules, _classification(incident), signal)
        # The rules' queue for an urgent complaint of this category, if they send it to the
        # desk at all; an incident goes to the desk whatever they say.
        target = chosen.target if chosen.destination == DESTINATION else None
        return _routed(incident, signal, None, target)
    if change.desk is DeskAction.note and change.report is not None:
        note_id = signal_id_for(
            INCIDENT_SOURCE, f"{incident.incident_id} note {change.report.signal_id}"
        )
        subject = f"Incident update: {incident.reports_count} reports"
        signal = _signal(incident, note_id, subject, note_text(incident, change.report))
        return _routed(incident, signal, incident.incident_id, None)
    if change.desk is DeskAction.close:
        close_id = signal_id_for(INCIDENT_SOURCE, f"{incident.incident_id} closed")
        subject = f"Incident closed: {incident.reports_count} reports"
        signal = _signal(incident, close_id, subject, closing_text(incident, quiet))
        return _routed(incident, signal, incident.incident_id, None)
    return None


def ticket_text(incident: Incident, quiet: timedelta) -> str:
    place = f", in {incident.place}" if incident.place else ""
    lines = [
        incident.summary,
        "",
        f"{_counts(incident)}, between {incident.first_report_at:%Y-%m-%d %H:%M} and "
        f"{incident.last_report_at:%H:%M} UTC{place}.",
        "Each report is its own case with its own ticket (find it by its signal id); this "
        "ticket gathers them. Antenna adds every report that joins as a note, and a closing "
        f"note once none has come in for {_minutes(quiet)}.",
        "",
        "Reports:",
    ]
    lines += [_report_line(n, r) for n, r in enumerate(incident.reports, start=1)]
    if incident.reports_count > len(incident.reports):
        lines.append(f"... and {incident.reports_count - len(incident.reports)} more.")
    return "\n".join(lines) + "\n"


def note_text(incident: Incident, report: IncidentReport) -> str:
    return (
        f"Another report joined: {_counts(incident)} so far.\n\n"
        f"{_report_line(incident.reports_count, report)}\n"
    )


def closing_text(incident: Incident, quiet: timedelta) -> str:
    return (
        f"No report has joined for {_minutes(quiet)}: Antenna closed the incident.\n"
        f"{_counts(incident)}, between {incident.first_report_at:%Y-%m-%d %H:%M} and "
        f"{incident.last_report_at:%Y-%m-%d %H:%M} UTC.\n"
    )


def _counts(incident: Incident) -> str:
    return (
        f"{incident.reports_count} reports about {incident.customers_count} different "
        f"customers, by {incident.employees_count} employees"
    )


def _report_line(number: int, report: IncidentReport) -> str:
    where = report.channel.value
    if report.department:
        where += f", {report.department}"
    return (
        f"{number}. {report.reported_at:%Y-%m-%d %H:%M} UTC ({where}): {report.excerpt} "
        f"[signal {report.signal_id}]"
    )


def _minutes(span: timedelta) -> str:
    minutes = round(span.total_seconds() / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _signal(incident: Incident, signal_id: str, subject: str, text: str) -> Signal:
    return Signal(
        signal_id=signal_id,
        idempotency_key=signal_id,
        channel=Channel.api,
        source=INCIDENT_SOURCE,
        received_at=incident.changed_at,
        reporter=DETECTOR,
        subject=subject,
        text=text,
        language="en",
        metadata={METADATA_KEY: incident.incident_id},
    )


def _classification(incident: Incident) -> Classification:
    return Classification(
        kind=Kind.complaint,
        confidence=1.0,
        category=Category(incident.category),
        urgency=Urgency.high,
        language="en",
        reasons=[incident.summary],
        classifier_version=CLASSIFIER_VERSION,
    )


def _routed(
    incident: Incident, signal: Signal, case_of: str | None, target: str | None
) -> RoutedSignal:
    return RoutedSignal(
        signal=signal,
        classification=_classification(incident),
        dedupe=Dedupe(
            duplicate_of=case_of,
            cluster_id=incident.incident_id,
            reporters_count=incident.employees_count,
        ),
        destination=Destination(name=DESTINATION, target=target),
        rule_id=RULE_ID,
        routed_at=incident.changed_at,
    )
