"""The vendors' outcome webhooks: their signatures (real HMACs, computed the vendors' way in
tests/support/vendor_webhooks.py), their payloads as outcomes, and the routes through
FastAPI's TestClient with a fake publisher at the Kafka edge."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from schemas import Outcome, OutcomeStatus, RecordChange, new_signal_id, topics
from services.common.outcomes import current_outcome, fold_outcomes
from services.ingest.app import create_app
from services.ingest.chat import Verdict
from services.ingest.outcomes import Ignored, OutcomePayloadError, hubspot, jira, zendesk
from services.ingest.settings import IngestSettings
from tests.support.fakes import FakePublisher
from tests.support.vendor_webhooks import (
    HUBSPOT_SECRET,
    JIRA_SECRET,
    PORTAL,
    ZENDESK_SECRET,
    body_of,
    hubspot_event,
    hubspot_headers,
    jira_event,
    jira_headers,
    zendesk_event,
    zendesk_headers,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

NOW = datetime.now(UTC).replace(microsecond=0)
HUBSPOT_URL = "https://antenna.example.com/v1/outcomes/hubspot"


def refusals(vendor: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "antenna_ingest_webhook_refusals_total", {"vendor": vendor, "reason": reason}
    )
    return value or 0.0


# --- signatures ---------------------------------------------------------------------------


def test_zendesk_signature() -> None:
    body = body_of(zendesk_event(new_signal_id(), 7, "SOLVED", NOW, "ev-1"))
    headers = zendesk_headers(body)
    ts, sig = (
        headers["X-Zendesk-Webhook-Signature-Timestamp"],
        headers["X-Zendesk-Webhook-Signature"],
    )
    secret = ZENDESK_SECRET.encode()
    now = time.time()
    assert zendesk.verify(secret, body, ts, sig, now) is Verdict.ok
    assert zendesk.verify(b"another-secret-0123456789", body, ts, sig, now) is Verdict.invalid
    assert zendesk.verify(secret, body + b" ", ts, sig, now) is Verdict.invalid
    assert zendesk.verify(secret, body, None, sig, now) is Verdict.missing
    assert zendesk.verify(secret, body, ts, None, now) is Verdict.missing
    assert zendesk.verify(secret, body, "yesterday", sig, now) is Verdict.invalid
    signed_at = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    old = (signed_at - timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = zendesk_headers(body, timestamp=old)
    assert (
        zendesk.verify(secret, body, old, stale["X-Zendesk-Webhook-Signature"], now)
        is Verdict.stale
    )
    # The timestamp is signed: a fresh one put on an old signature does not pass.
    fresh = (signed_at + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert zendesk.verify(secret, body, fresh, sig, now) is Verdict.invalid


def test_hubspot_signature_v3() -> None:
    body = body_of([hubspot_event(1001, "closedwon", NOW, 1)])
    headers = hubspot_headers(HUBSPOT_URL, body)
    ts, sig = headers["X-HubSpot-Request-Timestamp"], headers["X-HubSpot-Signature-v3"]
    secret = HUBSPOT_SECRET.encode()
    now = time.time()
    assert hubspot.verify(secret, "POST", HUBSPOT_URL, body, ts, sig, now) is Verdict.ok
    assert hubspot.verify(b"x" * 36, "POST", HUBSPOT_URL, body, ts, sig, now) is Verdict.invalid
    other_url = HUBSPOT_URL.replace("antenna", "evil")
    assert hubspot.verify(secret, "POST", other_url, body, ts, sig, now) is Verdict.invalid
    assert hubspot.verify(secret, "PUT", HUBSPOT_URL, body, ts, sig, now) is Verdict.invalid
    # URL-encoded characters are decoded before signing, as HubSpot does.
    encoded = HUBSPOT_URL + "?portal%3D4711"
    decoded = hubspot_headers(HUBSPOT_URL + "?portal=4711", body, timestamp_ms=int(ts))
    assert (
        hubspot.verify(secret, "POST", encoded, body, ts, decoded["X-HubSpot-Signature-v3"], now)
        is Verdict.ok
    )
    old_ms = int((now - 301) * 1000)
    stale = hubspot_headers(HUBSPOT_URL, body, timestamp_ms=old_ms)["X-HubSpot-Signature-v3"]
    assert hubspot.verify(secret, "POST", HUBSPOT_URL, body, str(old_ms), stale, now) is (
        Verdict.stale
    )
    assert hubspot.check_headers(str(int(now)), sig, now) is Verdict.stale  # seconds, not ms
    assert hubspot.check_headers(None, sig, now) is Verdict.missing


def test_jira_signature() -> None:
    body = body_of(jira_event(new_signal_id(), "SD-12", "Resolved", "done", NOW, "100"))
    sig = jira_headers(body)["X-Hub-Signature"]
    secret = JIRA_SECRET.encode()
    assert sig.startswith("sha256=") and jira.verify(secret, body, sig) is Verdict.ok
    assert jira.verify(b"wrong-secret-0123456789", body, sig) is Verdict.invalid
    assert jira.verify(secret, body[:-1] + b" ", sig) is Verdict.invalid
    assert jira.verify(secret, body, sig.replace("sha256=", "sha1=")) is Verdict.invalid
    assert jira.verify(secret, body, None) is Verdict.missing
    # NOW is when the module was imported, maybe minutes ago in a long run: time from it.
    assert jira.fresh(NOW - timedelta(minutes=50), NOW.timestamp()) is Verdict.ok
    assert jira.fresh(NOW - timedelta(minutes=61), NOW.timestamp()) is Verdict.stale


# --- status mappings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("NEW", OutcomeStatus.opened),
        ("OPEN", OutcomeStatus.in_progress),
        ("PENDING", OutcomeStatus.in_progress),
        ("HOLD", OutcomeStatus.in_progress),
        ("SOLVED", OutcomeStatus.resolved),
        ("CLOSED", OutcomeStatus.closed),
        ("DELETED", OutcomeStatus.closed),
        ("solved", OutcomeStatus.resolved),
        ("custom-waiting", None),
    ],
)
def test_zendesk_statuses(status: str, expected: OutcomeStatus | None) -> None:
    assert zendesk.outcome_status(status) is expected


@pytest.mark.parametrize(
    ("category", "name", "expected"),
    [
        ("new", "Waiting for support", OutcomeStatus.opened),
        ("indeterminate", "Waiting for customer", OutcomeStatus.in_progress),
        ("done", "Resolved", OutcomeStatus.resolved),
        ("done", "Done", OutcomeStatus.resolved),
        ("done", "Closed", OutcomeStatus.closed),
        ("done", "Canceled", OutcomeStatus.closed),
        ("done", "Declined", OutcomeStatus.closed),
        ("undefined", "Triage", None),
    ],
)
def test_jira_statuses(category: str, name: str, expected: OutcomeStatus | None) -> None:
    assert jira.outcome_status(category, name) is expected


# --- payloads -----------------------------------------------------------------------------


def test_a_zendesk_status_event_is_its_case_s_outcome() -> None:
    case = new_signal_id()
    body = body_of(zendesk_event(case, 4711, "SOLVED", NOW, "01HNX-EV"))
    outcome = zendesk.parse(body, NOW, "https://acme.zendesk.com/")
    assert isinstance(outcome, Outcome)
    assert (outcome.case_id, outcome.status, outcome.record_id, outcome.changed_at) == (
        case,
        OutcomeStatus.resolved,
        "4711",
        NOW,
    )
    assert outcome.record_url == "https://acme.zendesk.com/agent/tickets/4711"
    assert (outcome.event_id, outcome.destination, outcome.connector) == (
        "zendesk:01HNX-EV",
        "servicedesk",
        "zendesk",
    )
    assert zendesk.parse(body, NOW, None).record_url is None  # type: ignore[union-attr]
    created = zendesk_event(case, 4711, "NEW", NOW, "ev-0")
    created["type"] = "zen:event-type:ticket.created"
    created["event"] = {"current": {"status": "NEW"}}
    opened = zendesk.parse(body_of(created), NOW, None)
    assert isinstance(opened, Outcome) and opened.status is OutcomeStatus.opened


def test_zendesk_events_that_are_not_antenna_s_status_changes_are_ignored() -> None:
    other = zendesk_event(new_signal_id(), 1, "OPEN", NOW, "e")
    other["type"] = "zen:event-type:ticket.priority_changed"
    assert zendesk.parse(body_of(other), NOW, None) == Ignored("not_a_status_change")
    for external in (None, "CRM-123"):
        event = zendesk_event(external, 1, "SOLVED", NOW, "e")
        assert zendesk.parse(body_of(event), NOW, None) == Ignored("not_antennas")
    custom = zendesk_event(new_signal_id(), 1, "CUSTOM", NOW, "e")
    assert zendesk.parse(body_of(custom), NOW, None) == Ignored("unknown_status")
    broken = zendesk_event(new_signal_id(), 1, "SOLVED", NOW, "e")
    del broken["time"]
    with pytest.raises(OutcomePayloadError, match="time"):
        zendesk.parse(body_of(broken), NOW, None)
    with pytest.raises(OutcomePayloadError, match="JSON"):
        zendesk.parse(b"<xml/>", NOW, None)


def test_hubspot_stage_changes_become_record_changes_one_id_across_retries() -> None:
    events = [
        hubspot_event(1001, "closedwon", NOW, 555, attempt=0),
        hubspot_event(1001, "closedwon", NOW, 555, attempt=3),  # the same, retried
        {**hubspot_event(1002, "x", NOW, 556), "propertyName": "amount"},
        hubspot_event(1003, "closedlost", NOW, 557, subscriptionType="deal.creation"),
        {
            **hubspot_event(1004, "qualifiedtobuy", NOW, 558),
            "subscriptionType": "object.propertyChange",
            "objectTypeId": "0-3",
        },
    ]
    changes = hubspot.parse(body_of(events), NOW)
    assert [(c.record_id, c.value) for c in changes] == [
        ("1001", "closedwon"),
        ("1001", "closedwon"),
        ("1004", "qualifiedtobuy"),
    ]
    first, retried, _ = changes
    assert first.event_id == retried.event_id
    assert (
        first.event_id == f"hubspot:{PORTAL}:1001:dealstage:closedwon:{int(NOW.timestamp() * 1000)}"
    )
    assert (first.vendor, first.destination, first.field, first.changed_at) == (
        "hubspot",
        "crm",
        "dealstage",
        NOW,
    )
    with pytest.raises(OutcomePayloadError, match="objectId"):
        hubspot.parse(body_of([hubspot_event(1001, "won", NOW, 1, objectId="1 OR 2")]), NOW)
    with pytest.raises(OutcomePayloadError, match="array"):
        hubspot.parse(body_of({"eventId": 1}), NOW)


def test_a_jira_status_change_is_its_case_s_outcome() -> None:
    case = new_signal_id()
    event = jira_event(case, "SD-12", "Resolved", "done", NOW, "10050")
    outcome = jira.parse(body_of(event), NOW, "wh-1")
    assert isinstance(outcome, Outcome)
    assert (outcome.case_id, outcome.status, outcome.record_id, outcome.changed_at) == (
        case,
        OutcomeStatus.resolved,
        "SD-12",
        NOW,
    )
    assert outcome.record_url == "https://example.atlassian.net/browse/SD-12"
    assert outcome.event_id == "jira:10012:10050"  # the change's id, not the delivery's
    assert outcome.connector == "jira_servicedesk"

    comment = jira_event(case, "SD-12", "Resolved", "done", NOW, "10051")
    comment["changelog"]["items"] = [{"field": "assignee", "fieldId": "assignee"}]
    assert jira.parse(body_of(comment), NOW, "wh-2") == Ignored("not_a_status_change")
    foreign = jira_event(None, "SD-13", "Resolved", "done", NOW, "10052")
    assert jira.parse(body_of(foreign), NOW, "wh-3") == Ignored("not_antennas")
    created = jira_event(case, "SD-12", "Waiting for support", "new", NOW, "x")
    created["webhookEvent"] = "jira:issue_created"
    del created["changelog"]
    opened = jira.parse(body_of(created), NOW, "wh-4")
    assert isinstance(opened, Outcome)
    assert (opened.status, opened.event_id) == (OutcomeStatus.opened, "jira:10012:created")


# --- the routes ---------------------------------------------------------------------------


def _settings(**overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "api_keys": ["outcome-webhooks-key-0123456789"],
        "max_body_bytes": 65_536,
        "zendesk_webhook_secret": ZENDESK_SECRET,
        "zendesk_url": "https://acme.zendesk.com",
        "hubspot_client_secret": HUBSPOT_SECRET,
        "hubspot_webhook_url": HUBSPOT_URL,
        "jira_webhook_secret": JIRA_SECRET,
        **overrides,
    }
    return IngestSettings(**values)


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def client(publisher: FakePublisher) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(), publisher=publisher)) as test_client:
        yield test_client


def published(publisher: FakePublisher, topic: str = topics.OUTCOMES) -> list[Any]:
    model = Outcome if topic == topics.OUTCOMES else RecordChange
    return [model.model_validate_json(value) for t, _, value in publisher.records if t == topic]


def post_zendesk(client: TestClient, payload: Any, **headers: str) -> Any:
    body = body_of(payload)
    return client.post(
        "/v1/outcomes/zendesk", content=body, headers={**zendesk_headers(body), **headers}
    )


def post_jira(client: TestClient, payload: Any, **headers: str) -> Any:
    body = body_of(payload)
    return client.post("/v1/outcomes/jira", content=body, headers={**jira_headers(body), **headers})


def post_hubspot(client: TestClient, events: list[Any], **headers: str) -> Any:
    body = body_of(events)
    signed = hubspot_headers(HUBSPOT_URL, body)
    return client.post("/v1/outcomes/hubspot", content=body, headers={**signed, **headers})


def test_each_webhook_is_off_until_its_secret_is_set(publisher: FakePublisher) -> None:
    settings = _settings(
        zendesk_webhook_secret="", hubspot_client_secret=None, jira_webhook_secret=""
    )
    before = refusals("jira", "not_configured")
    with TestClient(create_app(settings, publisher=publisher)) as off:
        for vendor in ("zendesk", "hubspot", "jira"):
            response = off.post(f"/v1/outcomes/{vendor}", content=b"[]")
            assert response.status_code == 404, vendor
    assert refusals("jira", "not_configured") == before + 1
    assert publisher.records == []


def test_a_signed_change_is_published_once_replays_are_not(
    client: TestClient, publisher: FakePublisher
) -> None:
    case = new_signal_id()
    event = zendesk_event(case, 4711, "SOLVED", NOW, "ev-solved")
    first = post_zendesk(client, event)
    again = post_zendesk(client, event)  # Zendesk's retry, freshly signed
    assert first.status_code == again.status_code == 200
    assert (first.json(), again.json()) == (
        {"published": 1, "replayed": 0},
        {"published": 0, "replayed": 1},
    )
    [outcome] = published(publisher)
    assert (outcome.case_id, outcome.status) == (case, OutcomeStatus.resolved)
    [(topic, key, _)] = publisher.records
    assert (topic, key) == (topics.OUTCOMES, case)  # keyed by the case


def test_a_late_in_progress_never_overwrites_resolved(
    client: TestClient, publisher: FakePublisher
) -> None:
    """Jira delivers the resolution, then (late, retried) the earlier 'in progress': both
    are published, each once, and the case's fold says resolved."""
    case = new_signal_id()
    resolved = jira_event(case, "SD-7", "Resolved", "done", NOW, "201")
    working = jira_event(
        case, "SD-7", "In Progress", "indeterminate", NOW - timedelta(minutes=5), "200"
    )
    for payload in (resolved, working, working, resolved):
        assert post_jira(client, payload).status_code == 200
    outcomes = published(publisher)
    assert sorted(o.event_id for o in outcomes) == ["jira:10007:200", "jira:10007:201"]
    current = current_outcome(fold_outcomes(outcomes))
    assert current is not None and current.status is OutcomeStatus.resolved


def test_hubspot_batches_become_record_changes_keyed_by_the_deal(
    client: TestClient, publisher: FakePublisher
) -> None:
    events = [hubspot_event(1001, "closedwon", NOW, 9), hubspot_event(1002, "closedlost", NOW, 9)]
    response = post_hubspot(client, events)
    assert response.status_code == 200 and response.json() == {"published": 2, "replayed": 0}
    retried = [{**event, "attemptNumber": 1} for event in events]
    assert post_hubspot(client, retried).json() == {"published": 0, "replayed": 2}
    changes = published(publisher, topics.RECORD_CHANGES)
    assert [(c.record_id, c.value) for c in changes] == [
        ("1001", "closedwon"),
        ("1002", "closedlost"),
    ]
    assert [key for _, key, _ in publisher.records] == ["1001", "1002"]
    other = [{**hubspot_event(1003, "x", NOW, 10), "propertyName": "amount"}]
    assert post_hubspot(client, other).json() == {"ignored": "not_a_stage_change"}


def test_bad_signatures_are_refused_and_counted(
    client: TestClient, publisher: FakePublisher
) -> None:
    event = zendesk_event(new_signal_id(), 1, "SOLVED", NOW, "ev")
    before = {r: refusals("zendesk", r) for r in ("missing", "invalid", "stale")}
    body = body_of(event)
    wrong = zendesk_headers(body, secret="not-the-zendesk-secret-0123456789")
    assert client.post("/v1/outcomes/zendesk", content=body, headers=wrong).status_code == 401
    old = (NOW - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = zendesk_headers(body, timestamp=old)
    assert client.post("/v1/outcomes/zendesk", content=body, headers=stale).status_code == 401
    bare = {"Content-Type": "application/json"}
    assert client.post("/v1/outcomes/zendesk", content=body, headers=bare).status_code == 401
    assert {r: refusals("zendesk", r) - before[r] for r in before} == {
        "missing": 1,
        "invalid": 1,
        "stale": 1,
    }

    case = new_signal_id()
    old_jira = jira_event(case, "SD-9", "Resolved", "done", NOW - timedelta(hours=2), "300")
    response = post_jira(client, old_jira)  # signed, but two hours old: a replay
    assert response.status_code == 401 and "too old" in response.json()["detail"]
    events = [hubspot_event(1001, "closedwon", NOW, 1)]
    body = body_of(events)
    elsewhere = hubspot_headers("https://evil.example.com/hook", body)
    assert client.post("/v1/outcomes/hubspot", content=body, headers=elsewhere).status_code == 401
    assert publisher.records == []


def test_payloads_that_are_not_status_changes_are_answered_not_retried(
    client: TestClient, publisher: FakePublisher
) -> None:
    other = zendesk_event(new_signal_id(), 1, "OPEN", NOW, "e")
    other["type"] = "zen:event-type:ticket.comment_added"
    response = post_zendesk(client, other)
    assert response.status_code == 200 and response.json() == {"ignored": "not_a_status_change"}
    broken = jira_event(new_signal_id(), "SD-1", "Resolved", "done", NOW, "1")
    broken["issue"]["fields"]["status"] = None
    assert post_jira(client, broken).status_code == 422  # not retried by Jira
    body = b"ticket=1"
    headers = {**zendesk_headers(body), "Content-Type": "application/x-www-form-urlencoded"}
    assert client.post("/v1/outcomes/zendesk", content=body, headers=headers).status_code == 415
    assert publisher.records == []


def test_a_broker_that_does_not_acknowledge_gets_the_vendor_to_retry(
    client: TestClient, publisher: FakePublisher
) -> None:
    event = zendesk_event(new_signal_id(), 2, "CLOSED", NOW, "ev-closed")
    publisher.unavailable = True
    response = post_zendesk(client, event)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert publisher.records == []
    publisher.unavailable = False
    assert post_zendesk(client, event).json() == {"published": 1, "replayed": 0}
    assert len(published(publisher)) == 1
