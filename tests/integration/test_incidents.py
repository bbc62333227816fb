"""Incidents on the real broker: a burst of reports posted through the API becomes one
Incident on signals.incidents and one ticket at the (signed webhook) desk that lists the
reports; later reports become notes on it, also across a processor restart; the clock
closes it. Every report stays its own case with its own ticket, and the case topics
never carry the incident."""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from schemas import Incident, IncidentStatus, RoutedSignal, topics
from services.processor.incident_stage import TICK_KEY, clock_topic, tick_value
from tests.support.http_recorder import Recorder, Request
from tests.support.incident_traffic import APP_LOGIN_EN, CARD_PAYMENTS_EN, burst
from tests.support.kafka import (
    produce,
    records_until_now,
    wait_for_records,
    wait_until_processed,
)
from tests.support.services import WEBHOOK_SECRET, Services, stack_on_own_broker, wait_for

DESK = "/incident-desk"
PROCESSOR = "antenna-processor"
CLASSIFIED = f"{PROCESSOR}-classified"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, recorder: Recorder) -> Iterator[Services]:
    """Its own broker: the incident stage must see only this test's reports."""
    env = {
        "ANTENNA_SERVICEDESK__CONNECTOR": "webhook",
        "ANTENNA_SERVICEDESK__URL": f"{recorder.url}{DESK}",
        "ANTENNA_SERVICEDESK__SECRET": WEBHOOK_SECRET,
        "ANTENNA_INCIDENT_CLOCK_INTERVAL_S": "1",
    }
    with stack_on_own_broker(tmp_path_factory.mktemp("incidents-var"), env) as services:
        yield services


def post(stack: Services, row: dict[str, Any]) -> str:
    response = stack.post(
        {
            "text": row["text"],
            "channel": row["channel"],
            "reporter": row["reporter"],
            "customer": row["customer"],
        }
    )
    assert response.status_code == 202, response.text
    return str(response.json()["signal_id"])


def incidents(bootstrap: str, predicate: Any, count: int = 1) -> list[Incident]:
    records = wait_for_records(
        bootstrap,
        topics.INCIDENTS,
        lambda r: predicate(Incident.model_validate_json(r.value)),
        count=count,
        timeout_s=90,
    )
    return [Incident.model_validate_json(r.value) for r in records]


def latest(bootstrap: str, incident_id: str) -> list[Incident]:
    """The incident's newest version on signals.incidents now."""
    records = records_until_now(bootstrap, topics.INCIDENTS, lambda r: True)
    versions = [Incident.model_validate_json(r.value) for r in records]
    mine = [i for i in versions if i.incident_id == incident_id]
    return [max(mine, key=lambda i: i.version)] if mine else []


def note_on(case_id: str) -> Any:
    """A note on the case's ticket (the webhook desk takes it in any order)."""
    return lambda r: (
        r.headers["X-Antenna-Event"] == "signal.duplicate"
        and r.json()["dedupe"]["cluster_id"] == case_id
    )


def routed(request: Request) -> RoutedSignal:
    return RoutedSignal.model_validate_json(request.body)


def open_incidents(stack: Services) -> str:
    port = stack.env["ANTENNA_PROCESSOR_METRICS_PORT"]
    metrics = httpx.get(f"http://127.0.0.1:{port}/").text
    return next(
        (line for line in metrics.splitlines() if line.startswith("antenna_incidents_open{")), ""
    )


def test_a_burst_is_one_incident_and_one_ticket_that_later_reports_annotate(
    stack: Services, recorder: Recorder
) -> None:
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    rows = burst(random.Random(1), CARD_PAYMENTS_EN, datetime.now(UTC), reports=9, customers=9)
    first = [post(stack, row) for row in rows[:8]]

    # One incident, opened once: one ticket whose case is the incident.
    [opened] = incidents(bootstrap, lambda i: i.status is IncidentStatus.opened)
    incident_id = opened.incident_id
    [ticket] = recorder.wait_for(DESK, lambda r: routed(r).signal.signal_id == incident_id)
    assert ticket.headers["X-Antenna-Event"] == "signal.routed"
    assert ticket.headers["Idempotency-Key"] == incident_id
    text = routed(ticket).signal.text
    assert opened.summary in text
    listed = [r.signal_id for r in opened.reports]
    assert len(listed) >= 5 and set(listed) <= set(first)
    assert all(signal_id in text for signal_id in listed)
    assert all(row["customer"]["name"] not in text for row in rows)  # no customer details

    # Every report is still its own case with its own ticket.
    recorder.wait_for(DESK, lambda r: routed(r).signal.signal_id in first, count=len(first))
    wait_until_processed(bootstrap, [(PROCESSOR, topics.RAW), (PROCESSOR, CLASSIFIED)])

    # The reports that joined after the opening are notes on the incident's ticket.
    [before] = latest(bootstrap, incident_id)
    joined = [r.signal_id for r in before.reports if r.signal_id not in listed]
    assert before.reports_count == len(listed) + len(joined)
    notes = recorder.wait_for(DESK, note_on(incident_id), count=len(joined))
    received = recorder.received(DESK)
    assert all(received.index(ticket) < received.index(n) for n in notes)  # in order
    for signal_id in joined:
        assert sum(signal_id in routed(n).signal.text for n in notes) == 1

    # A restart keeps the open incident: a report made while the processor is down joins
    # it once the processor is back, as a note on the same ticket.
    stack.stop("processor")
    after_restart = post(stack, rows[8])
    stack.start("processor")
    recorder.wait_for(
        DESK, lambda r: note_on(incident_id)(r) and after_restart in routed(r).signal.text
    )
    # At least once: the restarted processor may hand the same version on again (events
    # not yet committed come again after a rebalance of its start), never another
    # version for the same report.
    [now, *again] = incidents(
        bootstrap, lambda i: after_restart in {r.signal_id for r in i.reports}
    )
    assert all(i == now for i in again)
    assert now.incident_id == incident_id and now.status is IncidentStatus.updated
    assert now.reports_count == before.reports_count + 1
    assert now.customers_count == now.reports_count
    tickets = [
        r for r in recorder.received(DESK) if r.headers["X-Antenna-Event"] == "signal.routed"
    ]
    assert [r for r in tickets if routed(r).signal.source == "antenna-incidents"] == [ticket]
    wait_for(lambda: 'category="payments_cards"} 1.0' in open_incidents(stack), "an open incident")

    # The clock closes it once it has been quiet (here: a tick from three hours on).
    later = datetime.now(UTC) + timedelta(hours=3)
    produce(bootstrap, clock_topic(PROCESSOR), tick_value(later), key=TICK_KEY)
    [closed] = incidents(bootstrap, lambda i: i.status is IncidentStatus.closed)
    assert closed.incident_id == incident_id
    recorder.wait_for(
        DESK, lambda r: note_on(incident_id)(r) and "closed the incident" in routed(r).signal.text
    )
    wait_for(lambda: 'category="payments_cards"} 0.0' in open_incidents(stack), "no open incident")

    # The case topics carry employees' reports only, once each: the status page, the
    # notifier and insight never see the incident's ticket or notes.
    for topic in (topics.ROUTED_SERVICEDESK, topics.DUPLICATES, topics.TRIAGE):
        assert not records_until_now(bootstrap, topic, lambda r: b"antenna-incidents" in r.value)


def test_a_processor_killed_after_remembering_an_incident_still_publishes_it_once(
    stack: Services, recorder: Recorder
) -> None:
    """The stage has written the opened incident to its table, and the processor dies
    (SIGKILL) before the Incident and the ticket are sent and before the input offset is
    committed. After the restart the report comes again; the detector knows it and gives
    back what it caused, so the Incident and its one ticket go out (this fails when a
    report seen before gives nothing back)."""
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    (stack.var_dir / "crash-points" / "incidents.remembered").unlink(missing_ok=True)
    rows = burst(random.Random(2), APP_LOGIN_EN, datetime.now(UTC))
    with stack.running_with("processor", {"ANTENNA_TEST_CRASH_AT": "incidents.remembered"}) as w:
        reports = [post(stack, row) for row in rows]
        assert w.wait(timeout=60) == -signal.SIGKILL

    [opened, *again] = incidents(
        bootstrap,
        lambda i: i.category.value == "app_website" and i.status is IncidentStatus.opened,
    )
    assert all(i == opened for i in again)  # at least once, never another version
    assert {r.signal_id for r in opened.reports} <= set(reports)
    recorder.wait_for(DESK, lambda r: routed(r).signal.signal_id == opened.incident_id)
    wait_until_processed(
        bootstrap,
        [
            (PROCESSOR, topics.RAW),
            (PROCESSOR, CLASSIFIED),
            ("antenna-connectors", topics.INCIDENTS_DESK),
        ],
    )
    tickets = [
        r
        for r in recorder.received(DESK)
        if r.headers["X-Antenna-Event"] == "signal.routed"
        and routed(r).signal.signal_id == opened.incident_id
    ]
    assert len(tickets) == 1
