"""The ingest API through FastAPI's TestClient, with a fake publisher at the Kafka edge."""

from __future__ import annotations

import json
import warnings
from datetime import UTC

import pytest
from prometheus_client import REGISTRY
from ulid import ULID

from schemas import Channel
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from tests.support.fakes import FakePublisher

with warnings.catch_warnings():
    # Starlette warns (UserWarning) that its TestClient prefers httpx2; not our concern here.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

KEY = "test-api-key-0123456789"
OTHER_KEY = "other-api-key-9876543210"
MAX_BODY = 4096
PROBLEM = "application/problem+json"


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def client(publisher):
    settings = IngestSettings(api_keys=[KEY, OTHER_KEY], max_body_bytes=MAX_BODY)
    with TestClient(create_app(settings, publisher=publisher)) as test_client:
        yield test_client


def _payload(**overrides):
    data = {
        "text": "De klant is boos: haar pinpas is geblokkeerd.",
        "channel": "chat",
        "reporter": {"employee_id": "E-1001", "name": "Sanne"},
        "customer": {"name": "Jan Jansen", "email": "jan@example.nl"},
    }
    data.update(overrides)
    return data


def _auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _post(client, payload=None, headers=None, key: str = KEY):
    return client.post(
        "/v1/signals", json=payload or _payload(), headers={**_auth(key), **(headers or {})}
    )


def _problem(response) -> dict:
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == response.status_code
    return body


def test_accepts_a_signal_and_publishes_it(client, publisher) -> None:
    response = _post(client)
    assert response.status_code == 202
    signal_id = response.json()["signal_id"]
    assert str(ULID.from_str(signal_id)) == signal_id
    [signal] = publisher.published
    assert signal.signal_id == signal_id
    assert signal.text == "De klant is boos: haar pinpas is geblokkeerd."
    assert signal.channel is Channel.chat
    assert signal.reporter.employee_id == "E-1001"
    assert signal.customer is not None and signal.customer.email == "jan@example.nl"
    assert signal.source.startswith("api-key-")
    assert KEY not in signal.source
    assert signal.idempotency_key == signal_id  # no client key: the id is the key
    assert signal.received_at.tzinfo is UTC


def test_each_api_key_is_its_own_source(client, publisher) -> None:
    assert _post(client).status_code == 202
    assert _post(client).status_code == 202
    assert _post(client, key=OTHER_KEY).status_code == 202
    sources = [s.source for s in publisher.published]
    assert sources[0] == sources[1] != sources[2]
    assert len({s.signal_id for s in publisher.published}) == 3


def test_auth_via_x_api_key(client, publisher) -> None:
    response = client.post("/v1/signals", json=_payload(), headers={"X-API-Key": KEY})
    assert response.status_code == 202
    assert len(publisher.published) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-the-right-key-000000"},
        {"X-API-Key": "not-the-right-key-000000"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": "Bearer "},
    ],
)
def test_missing_or_wrong_key_is_401(client, publisher, headers) -> None:
    response = client.post("/v1/signals", json=_payload(), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert _problem(response)["title"] == "Missing or invalid API key"
    assert publisher.published == []


def test_plain_text_is_415(client, publisher) -> None:
    response = client.post(
        "/v1/signals",
        content=b"De klant is boos",
        headers={**_auth(), "Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    _problem(response)
    assert publisher.published == []


def test_json_with_a_suffix_media_type_is_accepted(client, publisher) -> None:
    response = client.post(
        "/v1/signals",
        content=json.dumps(_payload()).encode(),
        headers={**_auth(), "Content-Type": "application/vnd.antenna+json"},
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (_payload(customer={"email": "not-an-email"}), "customer.email"),
        (_payload(text="   "), "text"),
        (_payload(channel="fax"), "channel"),
        (_payload(reporter={"name": "Anonymous"}), "reporter"),
        (_payload(priority="high"), "priority"),
    ],
)
def test_invalid_fields_are_422_and_named(client, publisher, payload, field) -> None:
    response = _post(client, payload)
    assert response.status_code == 422
    body = _problem(response)
    assert field in body["detail"]
    assert field in [error["field"] for error in body["errors"]]
    assert publisher.published == []


def test_malformed_json_is_422(client, publisher) -> None:
    response = client.post(
        "/v1/signals", content=b'{"text": ', headers={**_auth(), "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    _problem(response)
    assert publisher.published == []


def test_the_body_is_validated_from_its_bytes_not_from_a_parsed_dict(
    client, publisher, monkeypatch
) -> None:
    """One parse per request (tests/bench/bench_ingest.py): pydantic validates the raw
    body; FastAPI's json.loads-then-validate is not on this route any more."""
    from starlette.requests import Request

    async def parsed(self):  # FastAPI's body parameter would call this
        raise AssertionError("the body was parsed into a dict")

    monkeypatch.setattr(Request, "json", parsed)
    assert _post(client).status_code == 202
    response = _post(client, _payload(customer={"email": "not-an-email"}))
    assert response.status_code == 422
    assert "customer.email" in [error["field"] for error in _problem(response)["errors"]]
    assert len(publisher.published) == 1


def test_the_endpoint_is_awaited_without_fastapis_request_handler(
    client, publisher, monkeypatch
) -> None:
    """It has no dependencies to solve (deps.DirectJsonKeyedRoute); checks stay in order."""
    import fastapi.routing

    def solve(*args, **kwargs):
        raise AssertionError("dependencies solved for POST /v1/signals")

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", solve)
    assert _post(client).status_code == 202
    assert _post(client, key="wrong-key").status_code == 401
    assert _post(client, _payload(channel="fax")).status_code == 422
    assert len(publisher.published) == 1


def test_a_body_that_is_not_an_object_is_422(client, publisher) -> None:
    response = client.post(
        "/v1/signals", content=b"[1, 2]", headers={**_auth(), "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert [error["field"] for error in _problem(response)["errors"]] == ["body"]
    assert publisher.published == []


def test_the_signal_body_is_documented(client) -> None:
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/v1/signals"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/SignalSubmission"
    components = schema["components"]["schemas"]
    assert {"text", "reporter"} <= set(components["SignalSubmission"]["required"])
    for name in json.dumps(schema).split('"#/components/schemas/')[1:]:
        assert name.split('"')[0] in components  # every reference resolves


def test_body_over_the_limit_is_413(client, publisher) -> None:
    response = _post(client, _payload(text="x" * (MAX_BODY + 1)))
    assert response.status_code == 413
    assert "4096" in _problem(response)["detail"]
    assert publisher.published == []


def test_body_just_under_the_limit_is_accepted(client, publisher) -> None:
    payload = _payload()
    size = len(json.dumps(payload).encode())
    payload["text"] += "x" * (MAX_BODY - size - 10)
    response = _post(client, payload)
    assert response.status_code == 202


def test_chunked_body_over_the_limit_is_413(client, publisher) -> None:
    body = json.dumps(_payload(text="x" * (MAX_BODY + 1))).encode()
    response = client.post(
        "/v1/signals",
        content=iter([body[:1000], body[1000:]]),
        headers={**_auth(), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert publisher.published == []


def test_same_idempotency_key_twice_publishes_once(client, publisher) -> None:
    headers = {"Idempotency-Key": "form-2025-03-14-0001"}
    first = _post(client, headers=headers)
    second = _post(client, headers=headers)
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["signal_id"] == second.json()["signal_id"]
    [signal] = publisher.published
    assert signal.idempotency_key == "form-2025-03-14-0001"


def test_same_idempotency_key_with_another_body_is_422(client, publisher) -> None:
    headers = {"Idempotency-Key": "form-2025-03-14-0002"}
    assert _post(client, headers=headers).status_code == 202
    response = _post(client, _payload(text="Iets heel anders"), headers=headers)
    assert response.status_code == 422
    assert "Idempotency-Key" in _problem(response)["title"]
    assert len(publisher.published) == 1


def test_idempotency_keys_are_per_client(client, publisher) -> None:
    headers = {"Idempotency-Key": "shared-key"}
    a = _post(client, headers=headers)
    b = _post(client, headers=headers, key=OTHER_KEY)
    assert a.json()["signal_id"] != b.json()["signal_id"]
    assert len(publisher.published) == 2


def test_every_replica_and_every_restart_answers_the_same_id_for_a_key() -> None:
    """Each create_app is a replica (or the process after a restart): nothing shared."""
    headers = {"Idempotency-Key": "form-2025-03-14-0003"}
    answers, published = [], []
    for body in (_payload(), _payload(), _payload(text="Another report entirely")):
        publisher = FakePublisher()
        settings = IngestSettings(api_keys=[KEY], max_body_bytes=MAX_BODY)
        with TestClient(create_app(settings, publisher=publisher)) as replica:
            response = _post(replica, body, headers)
        assert response.status_code == 202, response.text
        answers.append(response.json()["signal_id"])
        published.extend(publisher.published)
    assert len(set(answers)) == 1
    assert str(ULID.from_str(answers[0])) == answers[0]
    # The reuse with another body is not visible to one replica: it travels with a
    # fingerprint of its own, for the status follower to find (tests/unit/test_status.py).
    fingerprints = [signal.body_fingerprint for signal in published]
    assert fingerprints[0] == fingerprints[1] != fingerprints[2]
    assert all(f is not None and len(f) == 64 for f in fingerprints)


def test_without_a_key_every_post_is_a_new_signal(client, publisher) -> None:
    first, second = _post(client), _post(client)
    assert first.json() != second.json()
    assert [s.body_fingerprint for s in publisher.published] == [None, None]


def test_broker_unavailable_is_503_never_202(client, publisher) -> None:
    publisher.unavailable = True
    response = _post(client)
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert _problem(response)["title"] == "Broker unavailable"
    assert publisher.published == []


def test_a_retry_after_503_with_the_same_key_is_accepted(client, publisher) -> None:
    headers = {"Idempotency-Key": "retry-me"}
    publisher.unavailable = True
    assert _post(client, headers=headers).status_code == 503
    publisher.unavailable = False
    response = _post(client, headers=headers)
    assert response.status_code == 202
    assert [s.signal_id for s in publisher.published] == [response.json()["signal_id"]]


def test_healthz_needs_no_auth(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_follows_the_publisher(client, publisher) -> None:
    assert client.get("/readyz").status_code == 200
    publisher.is_ready = False
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    _problem(response)
    publisher.is_ready = True
    assert client.get("/readyz").json() == {"status": "ready"}


def _accepted_count() -> float:
    labels = {"channel": "chat", "outcome": "accepted"}
    return REGISTRY.get_sample_value("antenna_ingest_signals_total", labels) or 0.0


def test_metrics_need_no_auth_and_count_signals(client) -> None:
    before = _accepted_count()
    assert _post(client).status_code == 202
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "antenna_ingest_signals_total" in response.text
    assert 'antenna_ingest_signals_total{channel="chat",outcome="accepted"}' in response.text
    assert _accepted_count() == before + 1


def test_shutdown_closes_the_publisher(publisher) -> None:
    settings = IngestSettings(api_keys=[KEY])
    with TestClient(create_app(settings, publisher=publisher)):
        assert publisher.closed is False
    assert publisher.closed is True


def test_uploads_get_their_own_body_limit() -> None:
    from services.ingest.api.limits import BodySizeLimit

    limits = BodySizeLimit(app=None, max_bytes=1_000, larger={"/v1/email/": 50_000})  # type: ignore[arg-type]
    assert limits.limit_for("/v1/signals") == 1_000
    assert limits.limit_for("/v1/email/inbound") == 50_000


def test_a_direct_route_takes_the_request_alone() -> None:
    from fastapi import APIRouter

    from services.ingest.api.deps import DirectJsonKeyedRoute

    router = APIRouter(route_class=DirectJsonKeyedRoute)
    with pytest.raises(TypeError, match="takes \\(request: Request\\) only"):

        @router.post("/v1/other")
        async def other(count: int) -> None: ...


def test_posts_are_dispatched_without_the_router_and_answer_as_before(
    client, publisher, monkeypatch
) -> None:
    """POST /v1/signals skips the middleware chain and the router (api.direct): each
    answer, errors included, is the one the routed app gave."""
    from starlette.routing import Router

    async def routed(self, scope, receive, send):
        raise AssertionError(f"{scope['method']} {scope['path']} went through the router")

    monkeypatch.setattr(Router, "__call__", routed)
    assert _post(client).status_code == 202
    refused = _post(client, key="wrong-key")
    assert (refused.status_code, refused.headers["www-authenticate"]) == (401, "Bearer")
    _problem(refused)
    unsupported = client.post("/v1/signals", content=b"text", headers=_auth())
    assert unsupported.status_code == 415
    _problem(unsupported)
    invalid = _post(client, _payload(channel="fax"))
    assert invalid.status_code == 422
    assert [error["field"] for error in _problem(invalid)["errors"]] == ["channel"]
    assert _post(client, _payload(text="x" * (MAX_BODY + 1))).status_code == 413
    publisher.unavailable = True
    assert _post(client).status_code == 503
    assert len(publisher.published) == 1


def test_a_direct_route_runs_behind_the_apps_middlewares_in_order() -> None:
    from fastapi import APIRouter, Request
    from fastapi.responses import PlainTextResponse

    from services.ingest.api.deps import DirectJsonKeyedRoute
    from services.ingest.api.direct import DirectRoutesApp

    seen: list[str] = []

    def tagging(name: str):
        class Tag:
            def __init__(self, app) -> None:
                self.app = app

            async def __call__(self, scope, receive, send) -> None:
                if scope["type"] == "http":
                    seen.append(name)
                await self.app(scope, receive, send)

        return Tag

    router = APIRouter(route_class=DirectJsonKeyedRoute)

    @router.post("/v1/echo")
    async def echo(request: Request) -> PlainTextResponse:
        raise ValueError("not handled by the app")

    app = DirectRoutesApp()
    app.state.settings = IngestSettings(api_keys=[KEY])
    app.add_middleware(tagging("inner"))
    app.add_middleware(tagging("outer"))
    app.include_router(router)
    [route] = router.routes
    app.add_direct_route(route)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        assert test_client.post("/v1/echo", json={}, headers=_auth()).status_code == 500
        assert test_client.post("/v1/echo", json={}).status_code == 401  # handled by the app
    assert seen == ["outer", "inner", "outer", "inner"]
