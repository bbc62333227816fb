"""An incident at the service desk (services/processor/incident_desk.py): one ticket
that lists the reports, a note per report that joins, a closing note; each a routed
event (on signals.incidents.desk) the connectors deliver exactly once, identified by the
incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from schemas import INCIDENT_SOURCE, RoutedSignal
from services.connectors.tickets import note_subject, ticket_body, ticket_subject
from services.processor.domain.incidents import (
    Change,
    DeskAction,
    IncidentDetector,
    IncidentPolicy,
)
from services.processor.domain.route import DEFAULT_RULES, parse_rules
from services.processor.incident_desk import desk_event
from tests.support.incident_traffic import outage_reports

MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
POLICY = IncidentPolicy()
SAMPLE_RULES = Path(__file__).parents[2] / "deploy" / "config" / "routing.yaml"
RULES = parse_rules(SAMPLE_RULES.read_text(), str(SAMPLE_RULES))


def an_outage() -> tuple[list[Change], IncidentDetector]:
    detector = IncidentDetector({}, POLICY)
    reports = outage_reports(7, MORNING, timedelta(minutes=5))
    return [c for r in reports for c in detector.observe(r)], detector


def event(change: Change) -> RoutedSignal:
    made = desk_event(change, RULES, POLICY.quiet)
    assert made is not None
    return made


def test_the_incident_opens_one_ticket_whose_case_is_the_incident() -> None:
    changes, _ = an_outage()
    routed = event(changes[0])
    incident = changes[0].incident
    assert routed.signal.signal_id == routed.dedupe.cluster_id == incident.incident_id
    assert routed.dedupe.duplicate_of is None
    assert routed.signal.source == INCIDENT_SOURCE and routed.rule_id == "incident"
    assert routed.destination.name == "servicedesk"
    # The rules' queue for an urgent payments complaint.
    assert routed.destination.target == "payments-urgent"
    assert routed.signal.customer is None  # the reports' own tickets have the customers
    subject = "payments cards: Possible outage: 5 reports about payments and cards in 20 minutes"
    assert ticket_subject(routed).startswith(subject)
    body = ticket_body(routed)
    for listed in incident.reports:
        assert listed.signal_id in body and listed.excerpt in body
    assert "Each report is its own case" in body and "120 minutes" in body


def test_without_a_desk_rule_the_incident_still_goes_to_the_desk() -> None:
    triage_only = parse_rules("version: 1\ndefault: {destination: triage}\n", "rules.yaml")
    changes, _ = an_outage()
    routed = desk_event(changes[0], triage_only, POLICY.quiet)
    assert routed is not None
    assert routed.destination.name == "servicedesk" and routed.destination.target is None
    assert desk_event(changes[0], DEFAULT_RULES, POLICY.quiet) is not None


def test_each_report_that_joins_is_one_note_on_the_incidents_ticket() -> None:
    changes, _ = an_outage()
    notes = [event(c) for c in changes[1:]]
    incident_id = changes[0].incident.incident_id
    assert len(notes) == 2
    for routed, change in zip(notes, changes[1:], strict=True):
        assert routed.dedupe.duplicate_of == routed.dedupe.cluster_id == incident_id
        assert change.report is not None
        assert change.report.signal_id in routed.signal.text
        assert change.report.excerpt in routed.signal.text
    ids = [routed.signal.signal_id for routed in notes]
    assert len(set(ids)) == 2 and incident_id not in ids
    # Its id comes from the incident and the report: sent again, it is the same note.
    assert [event(c).signal.signal_id for c in changes[1:]] == ids
    assert note_subject(notes[-1]).startswith("Reported again (4 colleagues so far)")


def test_the_closing_is_a_note_and_a_counted_report_adds_nothing() -> None:
    _, detector = an_outage()
    [closed] = detector.tick(MORNING + timedelta(hours=4), "t1")
    routed = event(closed)
    assert routed.dedupe.duplicate_of == closed.incident.incident_id
    assert "closed the incident" in routed.signal.text
    assert desk_event(Change(closed.incident, None), RULES, POLICY.quiet) is None
    assert closed.desk is DeskAction.close
