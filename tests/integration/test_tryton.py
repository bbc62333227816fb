"""The Tryton connector against a real Tryton 8.2 (sale_opportunity, SQLite, loopback),
then the whole pipeline delivering to it: an opportunity becomes one Tryton opportunity
with its party, a colleague's report of the same case one note on it, the employee's
status page shows the opportunity number, and the opportunity won comes back as one
outcome."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from schemas import Outcome, OutcomeStatus, RoutedSignal, topics
from services.common.broker import free_port
from services.connectors.base import Connector, ConnectorContext, DeliveryError, StartupError
from services.connectors.crm import CONSENT_MISSING
from services.connectors.outcomes import StatusSource
from services.connectors.records import CaseRecords, Record, TableRecords
from services.connectors.registry import build
from services.connectors.startup import check_connectors
from services.connectors.tryton import TrytonConnector
from tests.support.connectors import build_lead, build_lead_duplicate, deliver_once
from tests.support.kafka import records_until_now, wait_for_records
from tests.support.lossy_proxy import LossyProxy
from tests.support.metrics import sample
from tests.support.records import DictTable
from tests.support.services import API_KEY, Services, stack_on_own_broker, wait_for
from tests.support.tryton import Tryton, tryton_server

pytestmark = pytest.mark.integration
REPORT_PASSWORD = "report-page-password-0123"


@pytest.fixture(scope="module")
def tryton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tryton]:
    with tryton_server(tmp_path_factory.mktemp("tryton") / "server") as server:
        yield server


def options(tryton: Tryton, **more: Any) -> dict[str, Any]:
    return {
        "url": tryton.url,
        "database": tryton.database,
        "user": tryton.user,
        "password": tryton.password,
        **more,
    }


def connector(
    tryton: Tryton, tmp_path: Path, records: CaseRecords | None = None, **more: Any
) -> Connector:
    context = ConnectorContext("crm", tmp_path, records)
    return build("tryton", options(tryton, **more), context)


def lead(consent: bool = True, **signal: Any) -> RoutedSignal:
    """An opportunity with a customer of its own: the Tryton database is shared."""
    unique = free_port()
    customer = {
        "name": f"Jane Neighbour {unique}",
        "email": f"jane{unique}@example.com",
        "phone": f"+44 20 7946 {unique}",
    }
    signal.setdefault("reporter", {"employee_id": "E-1001", "name": "Sanne de Vries"})
    return build_lead(consent=consent, customer=customer, **signal)


def reference(routed: RoutedSignal) -> str:
    return f"antenna-{routed.signal.signal_id}"


def test_delivered_three_times_one_opportunity_one_party_one_note(
    tryton: Tryton, tmp_path: Path
) -> None:
    routed = lead()
    # Each delivery with a fresh, in-memory mapping: the worst case, a lost mapping.
    results = [deliver_once(connector(tryton, tmp_path), routed) for _ in range(3)]
    assert results[0] == results[1] == results[2]

    [opportunity] = tryton.opportunities(reference(routed))
    assert opportunity["state"] == "lead"
    assert results[0].external_id == opportunity["number"]
    assert results[0].external_url == (
        f"{tryton.url}/#{tryton.database}/model/sale.opportunity/{opportunity['id']}"
    )
    customer = routed.signal.customer
    assert customer is not None
    party = tryton.party(opportunity["party"])
    assert (party["name"], party["email"], party["phone"]) == (
        customer.name,
        customer.email,
        customer.phone,
    )
    assert tryton.parties_named(str(customer.name)) == 1
    comment = opportunity["comment"]
    assert "Employee referral: Sanne de Vries (E-1001)" in comment
    assert "Call back: tomorrow morning (due 2025-03-15 09:00 Europe/Amsterdam)" in comment
    assert "Why: lead cue: wants an offer" in comment

    duplicate = build_lead_duplicate(routed)
    for _ in range(3):
        assert deliver_once(connector(tryton, tmp_path), duplicate) == results[0]
    [note] = tryton.notes(opportunity["id"])
    assert note.startswith(
        f"Reported again (2 colleagues so far) [antenna {duplicate.signal.signal_id}]"
    )
    assert "Piet Bakker" in note


def test_a_lost_answer_after_commit_leaves_one_opportunity_and_one_note(
    tryton: Tryton, tmp_path: Path
) -> None:
    proxy = LossyProxy(tryton.url)
    try:
        records = TableRecords(DictTable(), "crm")  # durable: it outlives the attempt
        routed = lead()
        proxy.lose(lambda method, path, body: b"model.sale.opportunity.create" in body)
        with pytest.raises(DeliveryError) as lost:
            deliver_once(connector(tryton, tmp_path, records, url=proxy.url), routed)
        assert lost.value.retryable
        assert len(tryton.opportunities(reference(routed))) == 1  # committed nonetheless

        delivered = deliver_once(connector(tryton, tmp_path, records, url=proxy.url), routed)
        [opportunity] = tryton.opportunities(reference(routed))
        assert delivered.external_id == opportunity["number"]
        customer = routed.signal.customer
        assert customer is not None and tryton.parties_named(str(customer.name)) == 1

        duplicate = build_lead_duplicate(routed)
        proxy.lose(lambda method, path, body: b"model.ir.note.create" in body)
        with pytest.raises(DeliveryError):
            deliver_once(connector(tryton, tmp_path, records, url=proxy.url), duplicate)
        for _ in range(2):
            deliver_once(connector(tryton, tmp_path, records, url=proxy.url), duplicate)
        assert len(tryton.notes(opportunity["id"])) == 1
        assert len(proxy.lost) == 2
    finally:
        proxy.close()


def test_without_consent_the_lead_has_no_party_and_says_consent_is_missing(
    tryton: Tryton, tmp_path: Path
) -> None:
    routed = lead(consent=False)
    deliver_once(connector(tryton, tmp_path), routed)
    [opportunity] = tryton.opportunities(reference(routed))
    assert opportunity["party"] is None
    assert CONSENT_MISSING in opportunity["comment"]
    customer = routed.signal.customer
    assert customer is not None
    assert str(customer.email) not in json.dumps(opportunity)
    assert tryton.parties_named(str(customer.name)) == 0


def test_the_rest_api_with_an_application_key(tryton: Tryton, tmp_path: Path) -> None:
    login, key = tryton.application_key()
    rest = {"url": tryton.url, "database": tryton.database, "user": login, "key": key}
    routed = lead()
    first = deliver_once(build("tryton", rest, ConnectorContext("crm", tmp_path)), routed)
    again = deliver_once(build("tryton", rest, ConnectorContext("crm", tmp_path)), routed)
    assert first == again
    [opportunity] = tryton.opportunities(reference(routed))
    assert first.external_id == opportunity["number"]
    deliver_once(
        build("tryton", rest, ConnectorContext("crm", tmp_path)), build_lead_duplicate(routed)
    )
    assert len(tryton.notes(opportunity["id"])) == 1


def test_states_of_a_page_of_opportunities_in_one_read(tryton: Tryton, tmp_path: Path) -> None:
    login, key = tryton.application_key()
    rest = {"url": tryton.url, "database": tryton.database, "user": login, "key": key}
    delivered = [
        deliver_once(build("tryton", rest, ConnectorContext("crm", tmp_path)), lead())
        for _ in range(3)
    ]
    kept, lost, cancelled = (str(d.external_url).rsplit("/", 1)[1] for d in delivered)
    tryton.click("sale.opportunity", "lost", int(lost))
    tryton.click("sale.opportunity", "cancel", int(cancelled))
    sent: list[httpx.Request] = []

    async def read() -> Any:
        conn = build("tryton", rest, ConnectorContext("crm", tmp_path))
        assert isinstance(conn, StatusSource) and isinstance(conn, TrytonConnector)
        await conn.start()  # the worker does it once: user and company
        conn.client.http.event_hooks["request"].append(_record(sent))
        try:
            return await conn.read_statuses([Record(i) for i in (kept, lost, cancelled)])
        finally:
            await conn.close()

    statuses = asyncio.run(read())
    assert {k: v.status for k, v in statuses.items()} == {
        kept: OutcomeStatus.opened,
        lost: OutcomeStatus.lost,
        cancelled: OutcomeStatus.lost,
    }
    assert statuses[lost].changed_at > statuses[kept].changed_at
    assert len(sent) == 1  # the page in one query


def _record(sent: list[httpx.Request]) -> Any:
    async def hook(request: httpx.Request) -> None:
        sent.append(request)

    return hook


def test_wrong_credentials_fail_at_start_up_an_unreachable_tryton_does_not(
    tryton: Tryton, tmp_path: Path
) -> None:
    wrong_password = connector(tryton, tmp_path, password="not-the-password-0123456789")
    rest = {"url": tryton.url, "database": tryton.database, "user": "admin", "key": "k" * 64}
    wrong_key = build("tryton", rest, ConnectorContext("servicedesk", tmp_path))
    with pytest.raises(StartupError) as failure:
        check_connectors({"crm": wrong_password, "servicedesk": wrong_key})
    message = str(failure.value)
    assert "crm connector tryton: Tryton refused the login for user 'admin'" in message
    assert "check ANTENNA_CRM__PASSWORD" in message
    assert "servicedesk connector tryton: Tryton refused the application key" in message
    assert "not-the-password" not in message and "k" * 64 not in message

    down = connector(tryton, tmp_path, url=f"http://127.0.0.1:{free_port()}")
    check_connectors({"crm": down})  # logged; deliveries will wait


# --- the whole pipeline ------------------------------------------------------------------


@pytest.fixture(scope="module")
def crm_pipeline(tryton: Tryton, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The whole pipeline with Tryton as the CRM."""
    crm = {
        "ANTENNA_CRM__CONNECTOR": "tryton",
        "ANTENNA_CRM__URL": tryton.url,
        "ANTENNA_CRM__DATABASE": tryton.database,
        "ANTENNA_CRM__USER": tryton.user,
        "ANTENNA_CRM__PASSWORD": tryton.password,
        "ANTENNA_CRM__POLL_INTERVAL_S": "1",
        "ANTENNA_REPORT_USERS": f"e-1:{REPORT_PASSWORD}",
    }
    with stack_on_own_broker(tmp_path_factory.mktemp("tryton-var"), crm) as services:
        yield services


def test_pipeline_makes_one_opportunity_and_notes_a_colleague_s_report(
    crm_pipeline: Services, tryton: Tryton
) -> None:
    customer = {"name": "Mirjam Visser", "phone": "06-24681357", "consent_to_contact": True}
    first = crm_pipeline.post(
        {
            "text": "Mijn buurvrouw is geïnteresseerd in zonnepanelen en wil morgen na 17 uur "
            "gebeld worden voor een offerte.",
            "reporter": {"employee_id": "e-1", "name": "Sam Example"},
            "customer": customer,
            "callback_window": {"text": "morgen na 17 uur"},
        }
    ).json()["signal_id"]
    [opportunity] = wait_for(
        lambda: tryton.opportunities(f"antenna-{first}"), f"no opportunity for {first}"
    )
    assert tryton.party(opportunity["party"])["name"] == "Mirjam Visser"

    second = crm_pipeline.post(
        {
            "text": "Mevrouw Visser wil graag een offerte voor zonnepanelen, bel haar morgen.",
            "reporter": {"employee_id": "e-2"},
            "customer": {"name": "M. Visser", "phone": "+31 6 24681357"},
        }
    ).json()["signal_id"]
    [note] = wait_for(lambda: tryton.notes(opportunity["id"]), "no note on the opportunity")
    assert f"[antenna {second}]" in note
    assert tryton.opportunities(f"antenna-{second}") == []

    auth = {"Authorization": f"Bearer {API_KEY}"}
    number = str(opportunity["number"])
    link = f"{tryton.url}/#{tryton.database}/model/sale.opportunity/{opportunity['id']}"

    def delivered() -> Any:
        response = httpx.get(f"{crm_pipeline.api}/v1/signals/{first}", headers=auth, timeout=5)
        return response.status_code == 200 and response.json().get("delivery")

    delivery = wait_for(delivered, "the status view does not show the delivery")
    assert (delivery["external_id"], delivery["external_url"]) == (number, link)
    page = httpx.get(
        f"{crm_pipeline.api}/report/status/{first}",
        auth=("e-1", REPORT_PASSWORD),  # the reporting employee
        timeout=5,
    )
    assert page.status_code == 200 and number in page.text and link in page.text


def test_pipeline_reports_an_opportunity_won_once(crm_pipeline: Services, tryton: Tryton) -> None:
    case = crm_pipeline.post(
        {
            "text": "My neighbour wants a quote for a heat pump and would like a call.",
            "reporter": {"employee_id": "e-4"},
            "customer": {"name": "Ruud Bakker", "phone": "06-13572468", "consent_to_contact": True},
        }
    ).json()["signal_id"]
    [opportunity] = wait_for(
        lambda: tryton.opportunities(f"antenna-{case}"), f"no opportunity for {case}"
    )
    bootstrap = crm_pipeline.env["KAFKA_BOOTSTRAP_SERVERS"]

    def of_case(status: OutcomeStatus) -> Any:
        return lambda r: (
            r.key == case.encode() and Outcome.model_validate_json(r.value).status is status
        )

    wait_for_records(bootstrap, topics.OUTCOMES, of_case(OutcomeStatus.opened))
    tryton.win(opportunity["id"])

    [record] = wait_for_records(bootstrap, topics.OUTCOMES, of_case(OutcomeStatus.won))
    won = Outcome.model_validate_json(record.value)
    assert (won.record_id, won.destination, won.connector) == (
        str(opportunity["id"]),
        "crm",
        "tryton",
    )
    assert won.record_url == (
        f"{tryton.url}/#{tryton.database}/model/sale.opportunity/{opportunity['id']}"
    )

    metrics = f"http://127.0.0.1:{crm_pipeline.env['ANTENNA_CONNECTORS_METRICS_PORT']}/"
    polls = sample(metrics, "antenna_outcome_polls_total", destination="crm")
    wait_for(
        lambda: sample(metrics, "antenna_outcome_polls_total", destination="crm") >= polls + 2,
        "two more polls",
    )
    mine = records_until_now(bootstrap, topics.OUTCOMES, lambda r: r.key == case.encode())
    statuses = [Outcome.model_validate_json(r.value).status for r in mine]
    # A poll may have caught the opportunity on its way (qualified, converted).
    assert statuses[0] is OutcomeStatus.opened and statuses[-1] is OutcomeStatus.won
    assert statuses.count(OutcomeStatus.won) == 1 and len(set(statuses)) == len(statuses)
