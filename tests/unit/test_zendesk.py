"""The zendesk connector against a stateful Zendesk fake on loopback
(tests/support/zendesk_fake.py): one ticket per case and one private comment per
duplicate, however often an event is delivered and whichever answer is lost."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import Destination, RoutedSignal, Urgency
from services.connectors.base import StartupError
from services.connectors.zendesk import ZendeskConfig
from tests.support.builders import build_duplicate, build_routed, build_signal
from tests.support.connectors import Deliveries
from tests.support.zendesk_fake import ZendeskFake, rate_limited

CREATE = r"/api/v2/tickets\.json"


@pytest.fixture
def zendesk() -> Iterator[ZendeskFake]:
    with ZendeskFake() as fake:
        yield fake


def deliveries(fake: ZendeskFake, **options: Any) -> Deliveries:
    return Deliveries(
        "zendesk", {"url": fake.url, "email": fake.email, "token": fake.token, **options}
    )


def urgent(routed: RoutedSignal, urgency: Urgency) -> RoutedSignal:
    classification = routed.classification.model_copy(update={"urgency": urgency})
    return routed.model_copy(update={"classification": classification})


def test_the_same_event_delivered_three_times_opens_one_ticket(zendesk: ZendeskFake) -> None:
    deliver = deliveries(zendesk)
    routed = build_routed(
        build_signal(customer={"name": "Jan de Vries", "phone": "+31 6 11223344"})
    )
    results = [deliver(routed) for _ in range(3)]

    [ticket] = zendesk.tickets_for(routed.signal.signal_id)
    assert results == [results[0]] * 3
    assert results[0].external_id == str(ticket["id"])
    assert results[0].external_url == f"{zendesk.url}/agent/tickets/{ticket['id']}"
    assert len(zendesk.received("POST", CREATE)) == 1  # the mapping answered the others
    assert ticket["subject"].startswith("other: The customer is furious")
    assert ticket["priority"] == "normal"
    assert ticket["tags"] == ["antenna", "antenna_complaint", "other"]
    assert ticket["requester_id"] == 1  # no consent: the API user, never the customer
    [comment] = zendesk.comments[ticket["id"]]
    assert not comment["public"]  # Antenna's internal wording stays private
    assert "Jan de Vries" in comment["body"] and routed.signal.signal_id in comment["body"]


def test_a_lost_create_answer_is_replayed_by_the_idempotency_key(zendesk: ZendeskFake) -> None:
    deliver = deliveries(zendesk)
    routed = build_routed()
    zendesk.search_lags = True  # the lookup by external_id cannot help either
    zendesk.lose_answer("POST", CREATE)

    lost = deliver.failure(routed)
    delivered = deliver(routed)
    deliver(routed)

    assert lost.retryable
    [ticket] = zendesk.tickets_for(routed.signal.signal_id)
    assert delivered.external_id == str(ticket["id"])
    first, again = zendesk.received("POST", CREATE)
    assert first.body == again.body  # byte for byte: no send-time values
    key = f"antenna-{routed.signal.signal_id}"
    assert first.headers["idempotency-key"] == again.headers["idempotency-key"] == key


def test_after_the_key_expired_the_external_id_finds_the_ticket(zendesk: ZendeskFake) -> None:
    deliver = deliveries(zendesk)
    routed = build_routed()
    zendesk.lose_answer("POST", CREATE)
    deliver.failure(routed)
    zendesk.advance(3 * 3600)  # a replay from the dead-letter queue, hours later

    delivered = deliver(routed)

    [ticket] = zendesk.tickets_for(routed.signal.signal_id)
    assert delivered.external_id == str(ticket["id"])
    assert len(zendesk.received("POST", CREATE)) == 1


def test_a_key_reused_with_another_body_finds_the_first_ticket(zendesk: ZendeskFake) -> None:
    deliver = deliveries(zendesk)
    routed = build_routed()
    zendesk.search_lags = True
    zendesk.lose_answer("POST", CREATE)
    deliver.failure(routed)

    # Meanwhile an operator changed a setting: the retried body differs, Zendesk says 400.
    waiting = deliver.failure(routed, tags=["antenna", "desk"])
    assert waiting.retryable
    zendesk.catch_up()
    delivered = deliver(routed, tags=["antenna", "desk"])

    [ticket] = zendesk.tickets_for(routed.signal.signal_id)
    assert delivered.external_id == str(ticket["id"])


def test_a_duplicate_delivered_three_times_adds_one_private_comment(zendesk: ZendeskFake) -> None:
    deliver = deliveries(zendesk)
    first = build_routed()
    case = deliver(first)
    duplicate = build_duplicate(first)

    noted = [deliver(duplicate) for _ in range(3)]

    assert noted == [case] * 3
    [note] = zendesk.private_comments(int(case.external_id or 0))[1:]
    assert note["body"].startswith(
        f"Reported again (2 colleagues so far) [antenna {duplicate.signal.signal_id}]"
    )
    assert zendesk.tickets_for(duplicate.signal.signal_id) == []


def test_a_lost_comment_answer_adds_the_comment_once(zendesk: ZendeskFake) -> None:
    deliver = deliveries(zendesk)
    first = build_routed()
    case = deliver(first)
    duplicate = build_duplicate(first)
    zendesk.lose_answer("PUT", r"/api/v2/tickets/\d+\.json")

    assert deliver.failure(duplicate).retryable
    deliver(duplicate)
    deliver(duplicate)

    notes = zendesk.private_comments(int(case.external_id or 0))[1:]
    assert len(notes) == 1
    assert len(zendesk.received("PUT", r"/api/v2/tickets/\d+\.json")) == 1


def test_a_duplicate_waits_for_its_case_ticket(zendesk: ZendeskFake) -> None:
    failure = deliveries(zendesk).failure(build_duplicate(build_routed()))
    assert failure.retryable
    assert zendesk.received("PUT", r"/api/v2/tickets/\d+\.json") == []


def test_requester_only_with_consent_group_by_target_priority_by_urgency(
    zendesk: ZendeskFake,
) -> None:
    deliver = deliveries(
        zendesk, groups={"Payments-Urgent": 360002}, group_id=360001, priority={"high": "urgent"}
    )
    consenting = urgent(
        build_routed(
            build_signal(
                customer={
                    "name": "Fatima",
                    "email": "fatima@example.nl",
                    "consent_to_contact": True,
                }
            ),
            destination=Destination(name="servicedesk", target="payments-urgent"),
        ),
        Urgency.high,
    )
    deliver(consenting)
    [ticket] = zendesk.tickets_for(consenting.signal.signal_id)
    assert ticket["requester_id"] == zendesk.users["fatima@example.nl"]
    assert ticket["group_id"] == 360002 and ticket["priority"] == "urgent"

    silent = build_routed(build_signal(customer={"email": "ben@example.nl"}))
    deliver(silent)
    [ticket] = zendesk.tickets_for(silent.signal.signal_id)
    assert ticket["requester_id"] == 1 and "ben@example.nl" not in zendesk.users
    assert ticket["group_id"] == 360001
    assert ticket["priority"] is None  # normal is not mapped here: Zendesk's default

    opted_out = build_routed(build_signal(customer=consenting.signal.customer))
    deliveries(zendesk, requester_from_customer=False)(opted_out)
    [ticket] = zendesk.tickets_for(opted_out.signal.signal_id)
    assert ticket["requester_id"] == 1


def test_errors_are_classified(zendesk: ZendeskFake) -> None:
    deliver = deliveries(zendesk)
    zendesk.fail("POST", CREATE, rate_limited(retry_after_s=7))
    busy = deliver.failure(build_routed())
    assert busy.retryable and busy.retry_after_s == 7.0

    zendesk.fail("POST", CREATE, 503)
    assert deliver.failure(build_routed()).retryable

    first = build_routed()
    deliver(first)
    zendesk.fail("PUT", r"/api/v2/tickets/\d+\.json", 409)  # a concurrent update of the ticket
    assert deliver.failure(build_duplicate(first)).retryable

    invalid_group = deliver.failure(build_routed(), group_id=999)
    assert not invalid_group.retryable and "422" in str(invalid_group)

    wrong_token = deliver.failure(build_routed(), token="w" * 40)
    assert not wrong_token.retryable and "401" in str(wrong_token)


def test_start_refuses_wrong_credentials_and_lets_a_down_desk_pass(zendesk: ZendeskFake) -> None:
    deliver = deliveries(zendesk)
    deliver.start()
    with pytest.raises(StartupError, match="ANTENNA_SERVICEDESK__EMAIL and __TOKEN") as refused:
        deliver.start(token="w" * 40)
    assert "401" in str(refused.value) and "w" * 40 not in str(refused.value)
    zendesk.fail("GET", r"/api/v2/users/me\.json", 503)
    deliver.start()  # unreachable now: deliveries wait for it


def test_config_takes_a_subdomain_or_a_url_and_a_real_token() -> None:
    config = ZendeskConfig.model_validate(
        {"subdomain": "acme", "email": "a@acme.com", "token": "t" * 40, "tags": "antenna, desk"}
    )
    assert config.base_url == "https://acme.zendesk.com"
    assert config.tags == ["antenna", "desk"]
    for bad in (
        {"email": "a@acme.com", "token": "t" * 40},  # neither
        {
            "subdomain": "acme",
            "url": "https://acme.example",
            "email": "a@acme.com",
            "token": "t" * 40,
        },
        {"subdomain": "acme", "email": "a@acme.com", "token": "changeme"},
        {"subdomain": "acme", "email": "a@acme.com", "token": "t" * 40, "tags": "two words"},
        {"subdomain": "acme", "email": "a@acme.com", "token": "t" * 40, "priority": {"high": "p1"}},
    ):
        with pytest.raises(ValidationError):
            ZendeskConfig.model_validate(bad)
