"""The Request Tracker connector against a real RT 5 (REST2, SQLite, loopback), then the
whole pipeline delivering to it: a complaint opens one ticket, a colleague's report of
the same case becomes one comment on it, the employee sees the ticket number, and the
ticket's resolution comes back as one outcome."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer

from schemas import Destination, Outcome, OutcomeStatus, Urgency, topics
from services.common.broker import free_port
from services.connectors.base import Connector, ConnectorContext, DeliveryError
from services.connectors.outcome_sources import partition_of
from services.connectors.records import Record
from services.connectors.registry import build
from services.connectors.request_tracker import RequestTrackerConnector
from tests.support.builders import build_duplicate, build_routed, build_signal
from tests.support.connectors import deliver_once
from tests.support.kafka import records_until_now, wait_for_records
from tests.support.metrics import sample
from tests.support.request_tracker import RequestTracker, request_tracker
from tests.support.services import API_KEY, Services, stack_on_own_broker, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RequestTracker]:
    with request_tracker(tmp_path_factory.mktemp("rt") / "rt") as server:
        yield server


def connector(rt: RequestTracker, tmp_path: Path, **options: Any) -> Connector:
    config = {"url": rt.url, "token": rt.token, **options}
    return build("request_tracker", config, ConnectorContext("servicedesk", tmp_path))


def test_a_new_case_opens_one_ticket_even_when_delivered_twice(
    rt: RequestTracker, tmp_path: Path
) -> None:
    routed = build_routed(
        build_signal(
            customer={
                "name": "Jan de Vries",
                "phone": "+31 6 11223344",
                "consent_to_contact": True,
            },
            callback_window={"text": "tomorrow morning"},
        ),
        destination=Destination(name="servicedesk", target="general"),
    )
    first = deliver_once(connector(rt, tmp_path), routed)
    again = deliver_once(connector(rt, tmp_path), routed)  # a redelivery after a crash

    assert again == first
    assert rt.tickets_for(routed.signal.signal_id) == [first.external_id]
    assert first.external_url == f"{rt.url}/Ticket/Display.html?id={first.external_id}"
    ticket = rt.ticket(first.external_id)
    assert ticket["Subject"].startswith("other: The customer is furious")
    assert ticket["Priority"] == "50"
    assert ticket["Requestor"] == []  # RT mails requestors: not the customer by default
    content = rt.content(first.external_id)
    assert routed.signal.text in content
    assert "Jan de Vries" in content and "+31 6 11223344" in content
    assert "Call back: tomorrow morning" in content
    assert routed.signal.signal_id in content


def test_a_duplicate_becomes_one_comment_on_its_case_ticket(
    rt: RequestTracker, tmp_path: Path
) -> None:
    first = build_routed()
    case = deliver_once(connector(rt, tmp_path), first)
    duplicate = build_duplicate(first)

    noted = deliver_once(connector(rt, tmp_path), duplicate)
    deliver_once(connector(rt, tmp_path), duplicate)  # redelivered: no second comment

    assert noted.external_id == case.external_id
    [comment] = rt.comments(case.external_id)
    assert f"[antenna {duplicate.signal.signal_id}]" in comment
    assert rt.tickets_for(duplicate.signal.signal_id) == []  # never a ticket of its own


def test_a_duplicate_waits_for_its_case_ticket(rt: RequestTracker, tmp_path: Path) -> None:
    duplicate = build_duplicate(build_routed())  # the case was never delivered
    with pytest.raises(DeliveryError) as failure:
        deliver_once(connector(rt, tmp_path), duplicate)
    assert failure.value.retryable


def test_queue_by_routing_target_priority_by_urgency_and_requestor_by_consent(
    rt: RequestTracker, tmp_path: Path
) -> None:
    routed = build_routed(
        build_signal(customer={"email": "fatima@example.nl", "consent_to_contact": True}),
        destination=Destination(name="servicedesk", target="Payments-Urgent"),
    )
    routed = routed.model_copy(
        update={
            "classification": routed.classification.model_copy(update={"urgency": Urgency.high})
        }
    )
    options = {"queues": {"payments-urgent": "General"}, "requestor_from_customer": True}
    delivered = deliver_once(connector(rt, tmp_path, **options), routed)
    ticket = rt.ticket(delivered.external_id)
    assert ticket["Priority"] == "80"
    assert [r["id"] for r in ticket["Requestor"]] == ["fatima@example.nl"]

    no_consent = build_routed(build_signal(customer={"email": "ben@example.nl"}))
    ticket = rt.ticket(deliver_once(connector(rt, tmp_path, **options), no_consent).external_id)
    assert ticket["Requestor"] == []

    only_high = {"priority": {"high": 90}}  # a normal urgency falls back to the queue's
    ticket = rt.ticket(
        deliver_once(connector(rt, tmp_path, **only_high), build_routed()).external_id
    )
    assert ticket["Priority"] == "0"


def test_unknown_queue_and_wrong_token_are_final_a_down_desk_is_retried(
    rt: RequestTracker, tmp_path: Path
) -> None:
    with pytest.raises(DeliveryError) as failure:
        deliver_once(connector(rt, tmp_path, queue="No Such Queue"), build_routed())
    assert not failure.value.retryable
    with pytest.raises(DeliveryError) as failure:
        deliver_once(connector(rt, tmp_path, token="x" * 32), build_routed())
    assert not failure.value.retryable and "401" in str(failure.value)
    down = {"url": f"http://127.0.0.1:{free_port()}", "token": rt.token}
    with pytest.raises(DeliveryError) as failure:
        deliver_once(
            build("request_tracker", down, ConnectorContext("servicedesk", tmp_path)),
            build_routed(),
        )
    assert failure.value.retryable


def test_statuses_of_a_page_of_tickets_in_one_search(rt: RequestTracker, tmp_path: Path) -> None:
    tickets = [deliver_once(connector(rt, tmp_path), build_routed()).external_id for _ in range(3)]
    new, taken, deleted = [str(t) for t in tickets]
    rt.set_status(taken, "open")
    rt.set_status(deleted, "deleted")  # RT's searches never show it again
    sent: list[httpx.Request] = []

    async def read() -> Any:
        conn = connector(rt, tmp_path)
        assert isinstance(conn, RequestTrackerConnector)

        async def record(request: httpx.Request) -> None:
            sent.append(request)

        conn._client.event_hooks["request"].append(record)
        try:
            return await conn.read_statuses([Record(t) for t in (new, taken, deleted)])
        finally:
            await conn.close()

    statuses = asyncio.run(read())
    assert {k: v.status for k, v in statuses.items()} == {
        new: OutcomeStatus.opened,
        taken: OutcomeStatus.in_progress,
        deleted: OutcomeStatus.closed,
    }
    # One search for the page, and the deleted ticket, which it leaves out, on its own.
    assert [r.url.path.rsplit("/", 1)[1] for r in sent] == ["tickets", deleted]


# --- the whole pipeline ------------------------------------------------------------------


@pytest.fixture(scope="module")
def desk_pipeline(
    rt: RequestTracker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    """The whole system with Request Tracker as the service desk."""
    env = {
        "ANTENNA_SERVICEDESK__CONNECTOR": "request_tracker",
        "ANTENNA_SERVICEDESK__URL": rt.url,
        "ANTENNA_SERVICEDESK__TOKEN": rt.token,
        "ANTENNA_SERVICEDESK__POLL_INTERVAL_S": "1",
    }
    with stack_on_own_broker(tmp_path_factory.mktemp("rt-var"), env) as services:
        yield services


def test_pipeline_opens_a_ticket_and_notes_a_colleague_s_report(
    desk_pipeline: Services, rt: RequestTracker
) -> None:
    customer = {"name": "Els Jansen", "phone": "06-55443322"}
    first = desk_pipeline.post(
        {
            "text": "Her bank card has been blocked for a week and nobody fixes it, she is angry.",
            "reporter": {"employee_id": "e-1"},
            "customer": customer,
        }
    ).json()["signal_id"]
    [ticket_id] = wait_for(lambda: rt.tickets_for(first), f"no ticket for {first}")

    second = desk_pipeline.post(
        {
            "text": "Mevrouw Jansen haar pinpas is nog steeds geblokkeerd, ze is er klaar mee.",
            "reporter": {"employee_id": "e-2"},
            "customer": {"name": "E. Jansen", "phone": "+31 6 55443322"},
        }
    ).json()["signal_id"]
    [comment] = wait_for(lambda: rt.comments(ticket_id), "no comment on the case's ticket")
    assert f"[antenna {second}]" in comment
    assert rt.tickets_for(second) == []

    status_url = f"{desk_pipeline.api}/v1/signals/{first}"
    auth = {"Authorization": f"Bearer {API_KEY}"}

    def ticket_in_status() -> bool:
        response = httpx.get(status_url, headers=auth, timeout=5)
        return response.status_code == 200 and ticket_id in response.text

    wait_for(ticket_in_status, "the status view does not name the ticket")


def _outcome_of(case_id: str, status: OutcomeStatus) -> Callable[[Any], bool]:
    def matches(record: Any) -> bool:
        return bool(
            record.key == case_id.encode()
            and Outcome.model_validate_json(record.value).status is status
        )

    return matches


def test_pipeline_reports_a_resolved_ticket_once(
    desk_pipeline: Services, rt: RequestTracker
) -> None:
    case = desk_pipeline.post(
        {
            "text": "The customer's direct debit was collected twice this month, she is upset.",
            "reporter": {"employee_id": "e-3"},
        }
    ).json()["signal_id"]
    [ticket_id] = wait_for(lambda: rt.tickets_for(case), f"no ticket for {case}")
    bootstrap = desk_pipeline.env["KAFKA_BOOTSTRAP_SERVERS"]
    [opened_record] = wait_for_records(
        bootstrap, topics.OUTCOMES, _outcome_of(case, OutcomeStatus.opened)
    )
    opened = Outcome.model_validate_json(opened_record.value)

    rt.set_status(ticket_id, "resolved")  # an agent resolves it in RT

    [record] = wait_for_records(
        bootstrap, topics.OUTCOMES, _outcome_of(case, OutcomeStatus.resolved)
    )
    resolved = Outcome.model_validate_json(record.value)
    assert (resolved.record_id, resolved.record_url) == (
        ticket_id,
        f"{rt.url}/Ticket/Display.html?id={ticket_id}",
    )
    assert (resolved.destination, resolved.connector) == ("servicedesk", "request_tracker")
    rt_resolved = datetime.fromisoformat(rt.ticket(ticket_id)["Resolved"].replace("Z", "+00:00"))
    # RT keeps whole seconds: a ticket resolved within the second it was opened in comes
    # out just after its opening (outcomes.changes), so that it folds as the latest.
    assert resolved.changed_at == max(rt_resolved, opened.changed_at + timedelta(microseconds=1))

    # Later reads see the same status: nothing more is published.
    metrics = f"http://127.0.0.1:{desk_pipeline.env['ANTENNA_CONNECTORS_METRICS_PORT']}/"
    polls = sample(metrics, "antenna_outcome_polls_total", destination="servicedesk")
    wait_for(
        lambda: (
            sample(metrics, "antenna_outcome_polls_total", destination="servicedesk") >= polls + 2
        ),
        "two more polls",
    )
    mine = records_until_now(bootstrap, topics.OUTCOMES, lambda r: r.key == case.encode())
    statuses = [Outcome.model_validate_json(r.value).status for r in mine]
    assert statuses == [OutcomeStatus.opened, OutcomeStatus.resolved]


# --- an open ticket outlives the dedupe window -------------------------------------------

WINDOW_S = 8.64  # ANTENNA_DEDUPE_WINDOW_DAYS=0.0001: the connectors sweep every 0.86 s


@pytest.fixture
def short_window(rt: RequestTracker, tmp_path: Path) -> Iterator[Services]:
    """The connectors alone (routed events are produced here), with a dedupe window of
    seconds and Request Tracker as the service desk."""
    env = {
        "ANTENNA_SERVICEDESK__CONNECTOR": "request_tracker",
        "ANTENNA_SERVICEDESK__URL": rt.url,
        "ANTENNA_SERVICEDESK__TOKEN": rt.token,
        "ANTENNA_SERVICEDESK__POLL_INTERVAL_S": "1",
        "ANTENNA_DEDUPE_WINDOW_DAYS": str(WINDOW_S / 86400),
    }
    with stack_on_own_broker(tmp_path, env, "connectors") as services:
        yield services


def _routed_into(producer: KafkaProducer, partition: int | None = None) -> str:
    """A new case routed to the service desk, into its key's partition (or, with
    ``partition``, a case whose key falls in that one)."""
    while True:
        routed = build_routed(destination=Destination(name="servicedesk"))
        case_id = routed.signal.signal_id
        if partition is None or partition_of(case_id, 3) == partition:
            break
    producer.send(
        topics.ROUTED_SERVICEDESK,
        key=case_id.encode(),
        value=routed.model_dump_json().encode(),
        partition=partition_of(case_id, 3),
    ).get(timeout=10)
    return case_id


def test_a_ticket_still_open_after_the_dedupe_window_is_still_polled_for_its_resolution(
    short_window: Services, rt: RequestTracker
) -> None:
    """Once its case's entries of the window were swept, an open ticket used to be polled
    no more: its resolution reached nobody."""
    bootstrap = short_window.env["KAFKA_BOOTSTRAP_SERVERS"]
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        case = _routed_into(producer)
        [ticket_id] = wait_for(lambda: rt.tickets_for(case), f"no ticket for {case}")
        wait_for_records(bootstrap, topics.OUTCOMES, _outcome_of(case, OutcomeStatus.opened))
        delivered_at = time.time()
        wait_for(lambda: time.time() > delivered_at + WINDOW_S, "the dedupe window passed")
        # A later case of the same partition: its delivery sweeps the partition's tables.
        later = _routed_into(producer, partition_of(case, 3))
        wait_for(lambda: rt.tickets_for(later), f"no ticket for {later}")
    finally:
        producer.close()
    log = short_window.log("connectors")
    wait_for(
        lambda: "table entries expired" in log.read_text(errors="replace"),
        "the case's ledger entry expired",
    )

    rt.set_status(ticket_id, "resolved")

    wait_for_records(
        bootstrap, topics.OUTCOMES, _outcome_of(case, OutcomeStatus.resolved), timeout_s=30
    )
