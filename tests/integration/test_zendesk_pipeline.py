"""The whole system delivering to Zendesk (the stateful fake on loopback) through the
real connectors service, its durable case -> record table and the embedded broker. The
fake loses the answer to the first ticket create and to the first comment after it has
committed them, and its lookup by external_id lags: a complaint still opens one ticket,
a colleague's report of the same case still adds one private comment, and the employee
sees the ticket number."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.services import API_KEY, Services, stack_on_own_broker, wait_for
from tests.support.zendesk_fake import ZendeskFake

pytestmark = pytest.mark.integration
CREATE = r"/api/v2/tickets\.json"
UPDATE = r"/api/v2/tickets/\d+\.json"


@pytest.fixture(scope="module")
def zendesk() -> Iterator[ZendeskFake]:
    with ZendeskFake() as fake:
        yield fake


@pytest.fixture(scope="module")
def desk_pipeline(
    zendesk: ZendeskFake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    env = {
        "ANTENNA_SERVICEDESK__CONNECTOR": "zendesk",
        "ANTENNA_SERVICEDESK__URL": zendesk.url,
        "ANTENNA_SERVICEDESK__EMAIL": zendesk.email,
        "ANTENNA_SERVICEDESK__TOKEN": zendesk.token,
        "ANTENNA_SERVICEDESK__GROUP_ID": "360001",
    }
    with stack_on_own_broker(tmp_path_factory.mktemp("zendesk-var"), env) as services:
        yield services


def status(services: Services, signal_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{services.api}/v1/signals/{signal_id}",
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=5,
    )
    return response.json() if response.status_code == 200 else {}


def delivered_to(services: Services, signal_id: str) -> str | None:
    delivery = status(services, signal_id).get("delivery") or {}
    return delivery.get("external_id") if delivery.get("status") == "delivered" else None


def test_lost_answers_still_give_one_ticket_and_one_comment(
    desk_pipeline: Services, zendesk: ZendeskFake
) -> None:
    zendesk.search_lags = True  # the retry cannot find the ticket by its external_id
    zendesk.lose_answer("POST", CREATE)
    zendesk.lose_answer("PUT", UPDATE)
    first = desk_pipeline.post(
        {
            "text": "Her bank card has been blocked for a week and nobody fixes it, she is angry.",
            "reporter": {"employee_id": "e-1"},
            "customer": {"name": "Els Jansen", "phone": "06-55443322"},
        }
    ).json()["signal_id"]
    ticket_id = wait_for(lambda: delivered_to(desk_pipeline, first), "the ticket on the status")

    [ticket] = zendesk.tickets_for(first)
    assert ticket_id == str(ticket["id"]) and ticket["group_id"] == 360001
    replayed = zendesk.received("POST", CREATE)  # the lost one, and its replay by the key
    assert len(replayed) == 2 and replayed[0].body == replayed[1].body

    second = desk_pipeline.post(
        {
            "text": "Mevrouw Jansen haar pinpas is nog steeds geblokkeerd, ze is er klaar mee.",
            "reporter": {"employee_id": "e-2"},
            "customer": {"name": "E. Jansen", "phone": "+31 6 55443322"},
        }
    ).json()["signal_id"]
    noted = wait_for(lambda: delivered_to(desk_pipeline, second), "the duplicate delivered")

    assert noted == ticket_id
    [note] = zendesk.private_comments(ticket["id"])[1:]
    assert f"[antenna {second}]" in note["body"]
    assert len(zendesk.received("PUT", UPDATE)) == 1  # the lost comment was found, not re-sent
    assert zendesk.tickets_for(second) == []
