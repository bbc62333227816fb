"""The vendors' outcome webhooks end to end on a real broker: requests signed as Zendesk,
HubSpot and Jira sign them, posted to the running ingest, replayed and out of order, end
as the right outcomes on signals.outcomes, once each. HubSpot's deal events go through
the running connectors, which look the deal up in a stateful HubSpot fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from schemas import Outcome, OutcomeStatus, RecordChange, new_signal_id, topics
from services.common.outcomes import current_outcome, fold_outcomes
from services.connectors.crm import record_key
from tests.support.hubspot_fake import TOKEN, HubSpotFake
from tests.support.kafka import records_until_now, wait_for_records
from tests.support.services import Services, stack_on_own_broker
from tests.support.vendor_webhooks import (
    HUBSPOT_SECRET,
    JIRA_SECRET,
    ZENDESK_SECRET,
    body_of,
    hubspot_event,
    hubspot_headers,
    jira_event,
    jira_headers,
    zendesk_event,
    zendesk_headers,
)

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def hubspot() -> Iterator[HubSpotFake]:
    with HubSpotFake() as fake:
        yield fake


@pytest.fixture(scope="module")
def stack(hubspot: HubSpotFake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Ingest with the three webhooks on, and the connectors with HubSpot as the CRM."""
    env = {
        "ANTENNA_ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET,
        "ANTENNA_ZENDESK_URL": "https://acme.zendesk.com",
        "ANTENNA_HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET,
        "ANTENNA_JIRA_WEBHOOK_SECRET": JIRA_SECRET,
        "ANTENNA_CRM__CONNECTOR": "hubspot",
        "ANTENNA_CRM__TOKEN": TOKEN,
        "ANTENNA_CRM__URL": hubspot.url,
    }
    var_dir = tmp_path_factory.mktemp("outcome-webhooks")
    with stack_on_own_broker(var_dir, env, "ingest", "connectors") as services:
        yield services


def outcomes_of(stack: Services, case_id: str) -> list[Outcome]:
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    records = records_until_now(bootstrap, topics.OUTCOMES, lambda r: r.key == case_id.encode())
    return [Outcome.model_validate_json(r.value) for r in records]


def post(stack: Services, vendor: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{stack.api}/v1/outcomes/{vendor}", content=body, headers=headers, timeout=30
    )


def test_zendesk_replayed_and_out_of_order_is_resolved_once(stack: Services) -> None:
    case = new_signal_id()
    solved = body_of(zendesk_event(case, 4711, "SOLVED", NOW, "ev-solved"))
    working = body_of(
        zendesk_event(case, 4711, "OPEN", NOW - timedelta(minutes=3), "ev-open", previous="NEW")
    )
    for body in (solved, working, solved, working):  # late, and each one retried
        response = post(stack, "zendesk", body, zendesk_headers(body))
        assert response.status_code == 200, response.text

    outcomes = outcomes_of(stack, case)  # answered 200: on the broker already
    assert sorted(o.event_id for o in outcomes) == ["zendesk:ev-open", "zendesk:ev-solved"]
    current = current_outcome(fold_outcomes(outcomes))
    assert current is not None
    assert (current.status, current.record_id, current.record_url) == (
        OutcomeStatus.resolved,
        "4711",
        "https://acme.zendesk.com/agent/tickets/4711",
    )


def test_jira_replayed_and_out_of_order_is_resolved_once(stack: Services) -> None:
    case = new_signal_id()
    resolved = body_of(jira_event(case, "SD-12", "Resolved", "done", NOW, "10050"))
    working = body_of(
        jira_event(
            case, "SD-12", "In Progress", "indeterminate", NOW - timedelta(hours=0.5), "10049"
        )
    )
    for identifier, body in (("a", resolved), ("b", working), ("a", resolved)):
        response = post(stack, "jira", body, jira_headers(body, identifier=identifier))
        assert response.status_code == 200, response.text
    wrong = jira_headers(resolved, secret="not-the-jira-secret-0123456789")
    assert post(stack, "jira", resolved, wrong).status_code == 401

    outcomes = outcomes_of(stack, case)
    assert sorted(o.event_id for o in outcomes) == ["jira:10012:10049", "jira:10012:10050"]
    current = current_outcome(fold_outcomes(outcomes))
    assert current is not None and current.status is OutcomeStatus.resolved
    assert current.record_url == "https://example.atlassian.net/browse/SD-12"


def test_a_hubspot_deal_won_is_looked_up_and_its_case_told_once(
    stack: Services, hubspot: HubSpotFake
) -> None:
    case = new_signal_id()
    deal = int(
        hubspot.add_deal(
            antenna_case_key=record_key(case), pipeline="default", dealstage="appointmentscheduled"
        )
    )
    url = f"{stack.api}/v1/outcomes/hubspot"  # what HubSpot signs: the URL it calls
    first = body_of([hubspot_event(deal, "closedwon", NOW, 81)])
    retry = body_of([hubspot_event(deal, "closedwon", NOW, 81, attempt=1)])
    for body in (first, retry):
        response = post(stack, "hubspot", body, hubspot_headers(url, body))
        assert response.status_code == 200, response.text

    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    changes = [
        RecordChange.model_validate_json(r.value)
        for r in records_until_now(
            bootstrap, topics.RECORD_CHANGES, lambda r: r.key == str(deal).encode()
        )
    ]
    assert len(changes) == 1  # the retry was not published again

    def of_case(record: Any) -> bool:
        return bool(record.key == case.encode())

    [record] = wait_for_records(bootstrap, topics.OUTCOMES, of_case)
    won = Outcome.model_validate_json(record.value)
    assert (won.status, won.record_id, won.connector, won.event_id) == (
        OutcomeStatus.won,
        str(deal),
        "hubspot",
        changes[0].event_id,
    )
    assert won.changed_at == NOW
