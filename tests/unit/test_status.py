"""The status view: StatusBook folding and its LRU bound, the follower's loop with a fake
consumer, GET /v1/signals/{id} and the employee's page GET /report/status/{id}."""

from __future__ import annotations

import base64
import json
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest
from prometheus_client import REGISTRY

from schemas import (
    Dedupe,
    DeliveryResult,
    Destination,
    RoutedSignal,
    Signal,
    new_signal_id,
    topics,
)
from services.ingest.api.deps import key_fingerprint
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.ingest.status import StatusBook, StatusFollower
from tests.support import builders
from tests.support.builders import RECEIVED_AT
from tests.support.fakes import FakePublisher

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

KEY = "status-test-api-key-0123456789"
ANNA = ("anna", "anna-password-0123")
AT = datetime(2025, 3, 14, 9, 32, tzinfo=UTC)
OWNER = {"employee_id": "anna", "name": "Anna"}  # signed in as ANNA
SOURCE = key_fingerprint(KEY)  # posted with KEY


def build_signal(**overrides: Any) -> Signal:
    """Anna's signal, posted with KEY: hers and that client's to read."""
    return builders.build_signal(**{"reporter": OWNER, "source": SOURCE, **overrides})


def build_routed(signal: Signal | None = None, **overrides: Any) -> RoutedSignal:
    return builders.build_routed(signal or build_signal(), **overrides)


def delivery(signal_id: str, status: str = "delivered", **overrides: Any) -> DeliveryResult:
    data: dict[str, Any] = {
        "signal_id": signal_id,
        "destination": "servicedesk",
        "connector": "webhook",
        "status": status,
        "attempts": 1,
        "at": AT,
    }
    if status == "delivered":
        data.update(external_id="EXT-12", external_url="https://desk.example/t/12")
    data.update(overrides)
    return DeliveryResult.model_validate(data)


# ------------------------------------------------------------------------- the book


def test_a_received_signal_is_received() -> None:
    book = StatusBook()
    signal = build_signal()
    status = book.apply_received(signal)
    assert status.state == "received"
    assert status.updated_at == RECEIVED_AT
    assert book.get(signal.signal_id) == status
    assert book.get(new_signal_id()) is None


def test_a_first_read_report_is_known_as_a_later_one_would_be() -> None:
    """The book builds a report it has not seen in one go (the follower's usual case):
    its readers, fingerprint and times are those of a report read after another record."""
    signal = build_signal(
        reporter={"employee_id": "Anna", "email": "Anna@Example.org"},
        body_fingerprint="ab" * 32,
        metadata={"client": "form-tool"},
        received_at=RECEIVED_AT,
    )
    first = StatusBook().apply_received(signal)
    later_book = StatusBook()
    later_book.apply_delivery(delivery(signal.signal_id, at=RECEIVED_AT))
    later = later_book.apply_received(signal)
    for status in (first, later):
        assert status.received_at == status.updated_at == RECEIVED_AT
        assert status.body_fingerprint == "ab" * 32
        assert status.reporters == {"anna", "anna@example.org"}
        assert status.clients == {SOURCE, "form-tool"}
        assert not status.key_reused


def test_routed_then_delivered() -> None:
    book = StatusBook()
    routed = build_routed(destination=Destination(name="servicedesk", target="cards"))
    signal_id = routed.signal.signal_id
    assert book.apply_routed(topics.ROUTED_SERVICEDESK, routed).state == "routed"
    status = book.apply_delivery(delivery(signal_id))
    assert status.state == "delivered"
    body = status.as_json()
    assert body == {
        "signal_id": signal_id,
        "state": "delivered",
        "destination": "servicedesk",
        "target": "cards",
        "rule_id": "complaints-to-servicedesk",
        "duplicate_of": None,
        "cluster_id": signal_id,
        "reporters_count": 1,
        "received_at": RECEIVED_AT.isoformat(),
        "routed_at": routed.routed_at.isoformat(),
        "delivery": {
            "status": "delivered",
            "external_id": "EXT-12",
            "external_url": "https://desk.example/t/12",
            "attempts": 1,
            "error": None,
            "at": AT.isoformat(),
        },
        "key_reused": False,
        "updated_at": AT.isoformat(),
    }


def test_a_delivery_before_its_routing_keeps_both() -> None:
    book = StatusBook()
    routed = build_routed()
    signal_id = routed.signal.signal_id
    book.apply_delivery(delivery(signal_id))
    status = book.apply_routed(topics.ROUTED_SERVICEDESK, routed)
    assert status.state == "delivered"
    assert status.rule_id == "complaints-to-servicedesk"
    assert status.updated_at == AT  # never goes back in time


def test_triage_and_duplicate() -> None:
    book = StatusBook()
    triaged = build_routed(destination=Destination(name="triage"), rule_id="no-rule")
    assert book.apply_routed(topics.TRIAGE, triaged).state == "triage"
    first = new_signal_id()
    dup = build_routed(
        dedupe=Dedupe(duplicate_of=first, cluster_id=first, reporters_count=3), rule_id="duplicate"
    )
    status = book.apply_routed(topics.DUPLICATES, dup)
    assert status.state == "duplicate"
    assert (status.duplicate_of, status.cluster_id, status.reporters_count) == (first, first, 3)


def test_a_final_outcome_is_not_undone() -> None:
    book = StatusBook()
    signal_id = new_signal_id()
    book.apply_delivery(delivery(signal_id, "retrying", attempts=1))
    assert book.get(signal_id).state == "received"  # type: ignore[union-attr]
    book.apply_delivery(delivery(signal_id, attempts=2))
    book.apply_delivery(delivery(signal_id, "retrying", attempts=1))
    book.apply_delivery(delivery(signal_id, "dead", error="HTTP 400"))
    status = book.get(signal_id)
    assert status is not None and status.state == "delivered"
    assert status.delivery is not None and status.delivery.attempts == 2


def test_failed_then_delivered_after_a_replay() -> None:
    book = StatusBook()
    signal_id = new_signal_id()
    assert book.apply_delivery(delivery(signal_id, "failed", error="timeout")).state == "failed"
    assert book.apply_delivery(delivery(signal_id)).state == "delivered"


def test_the_book_is_bounded_least_recently_used_first() -> None:
    book = StatusBook(capacity=3)
    signals = [build_signal() for _ in range(4)]
    for signal in signals[:3]:
        book.apply_received(signal)
    assert book.get(signals[0].signal_id) is not None  # now the most recent
    book.apply_received(signals[3])
    assert len(book) == 3
    assert book.get(signals[1].signal_id) is None  # the least recently used went
    assert all(book.get(s.signal_id) for s in (signals[0], signals[2], signals[3]))
    with pytest.raises(ValueError):
        StatusBook(capacity=0)


def test_records_that_do_not_decode_are_skipped() -> None:
    book = StatusBook()
    routed = build_routed()
    assert book.apply_record(topics.DELIVERED, b"not json") is None
    assert book.apply_record(topics.ROUTED_CRM, b'{"signal": 1}') is None
    assert book.apply_record(topics.DELIVERED, None) is None
    assert book.apply_record("elsewhere", routed.model_dump_json().encode()) is None
    with pytest.raises(ValueError):
        book.apply_routed(topics.DELIVERED, routed)
    status = book.apply_record(topics.ROUTED_CRM, routed.model_dump_json().encode())
    assert status is not None and status.state == "routed"
    assert len(book) == 1


# ---------------------------------------------------------------------- the follower


@dataclass
class FakeRecord:
    offset: int
    value: bytes | None


class FakeConsumer:
    """Partitions of the followed topics, a queue of records per (topic, partition)."""

    def __init__(self, records: dict[tuple[str, int], list[bytes]]) -> None:
        self.records = records
        self.assigned: list[Any] = []
        self.positions: dict[tuple[str, int], int] = {}
        self.closed = False

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {p for (t, p) in self.records if t == topic}

    def assign(self, partitions: list[Any]) -> None:
        self.assigned = partitions

    def seek(self, tp: Any, offset: int) -> None:
        self.positions[(tp.topic, tp.partition)] = offset

    def seek_to_beginning(self, *partitions: Any) -> None:
        for tp in partitions:
            self.positions[(tp.topic, tp.partition)] = 0

    def poll(self, timeout_ms: int) -> dict[Any, list[FakeRecord]]:
        out: dict[Any, list[FakeRecord]] = {}
        for tp in self.assigned:
            key = (tp.topic, tp.partition)
            start = self.positions[key]
            values = self.records[key][start:]
            if values:
                out[tp] = [FakeRecord(start + i, v) for i, v in enumerate(values)]
                self.positions[key] = start + len(values)
        if not out:
            time.sleep(timeout_ms / 1000)
        return out

    def close(self) -> None:
        self.closed = True


def wait_until(condition: Any, timeout_s: float = 5) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_the_follower_reconnects_and_resumes_where_it_left_off() -> None:
    routed = build_routed()
    signal_id = routed.signal.signal_id
    records = {
        (topics.ROUTED_SERVICEDESK, 0): [b"garbage", routed.model_dump_json().encode()],
        (topics.DELIVERED, 0): [],
    }
    consumers: list[FakeConsumer] = []
    calls = 0

    def factory() -> FakeConsumer:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("broker down")
        consumer = FakeConsumer(records)
        consumers.append(consumer)
        return consumer

    book = StatusBook()
    follower = StatusFollower(
        book,
        ["127.0.0.1:1"],
        poll_timeout_s=0.01,
        retry_delay_s=0.01,
        consumer_factory=factory,
    )
    follower.start()
    try:
        wait_until(lambda: book.get(signal_id) is not None)
        assert follower.records_skipped == 1

        # The broker drops us: the next consumer starts where the last one stopped.
        def broken(timeout_ms: int) -> dict[Any, list[FakeRecord]]:
            raise OSError("connection reset")

        records[(topics.DELIVERED, 0)].append(delivery(signal_id).model_dump_json().encode())
        consumers[0].poll = broken  # type: ignore[method-assign]
        wait_until(lambda: len(consumers) == 2)
        wait_until(lambda: book.get(signal_id).state == "delivered")  # type: ignore[union-attr]
        assert consumers[1].positions[(topics.ROUTED_SERVICEDESK, 0)] == 2
        assert follower.records_skipped == 1  # not read twice
    finally:
        follower.close()
    assert not follower.running
    assert all(c.closed for c in consumers)


def test_one_consumer_feeds_the_status_and_the_triage_views() -> None:
    """services.common.follower.merged: a routed record reaches both books, a raw one only
    the status; a record one book cannot read is counted skipped once."""
    from services.common.follower import merged
    from services.ingest.triage import TriageBook, follow_triage

    routed = build_routed(destination=Destination(name="triage"), rule_id="no-rule")
    signal = build_signal()
    records = {
        (topics.RAW, 0): [signal.model_dump_json().encode()],
        (topics.TRIAGE, 0): [b"garbage", routed.model_dump_json().encode()],
    }
    consumers: list[FakeConsumer] = []

    def factory() -> FakeConsumer:
        consumers.append(FakeConsumer(records))
        return consumers[-1]

    status, triage = StatusBook(), TriageBook()
    follower = merged(
        [
            StatusFollower(status, ["127.0.0.1:1"]),
            follow_triage(triage, ["127.0.0.1:1"]),
        ],
        name="views",
        client_id="test-views",
        poll_timeout_s=0.01,
        consumer_factory=factory,
    )
    follower.start()
    try:
        wait_until(lambda: follower.records_applied == 2)
        assert status.get(signal.signal_id) is not None
        assert status.get(routed.signal.signal_id).routing == "triage"  # type: ignore[union-attr]
        assert triage.is_waiting(routed.signal.signal_id)
        assert follower.records_skipped == 1
        assert len(consumers) == 1
    finally:
        follower.close()


def test_ingest_follows_its_views_with_one_consumer(monkeypatch) -> None:
    """Each kafka-python consumer costs CPU on every fetch round, busy or idle
    (tests/bench/bench_ingest.py): the status, programme and triage views share one."""
    from services.common.follower import TopicFollower

    started: list[TopicFollower] = []
    monkeypatch.setattr(TopicFollower, "start", lambda self: started.append(self))
    settings = IngestSettings(api_keys=[KEY])
    with TestClient(create_app(settings, publisher=FakePublisher(), follow_status=True)):
        [follower] = started
    for topic in (topics.RAW, topics.TRIAGE, topics.LABELS, topics.INSIGHT, topics.PREFERENCES):
        assert topic in follower.topic_names
    assert len(follower.topic_names) == len(set(follower.topic_names))


def test_close_stops_a_follower_that_waits_for_the_broker() -> None:
    def factory() -> Any:
        raise OSError("no broker")

    follower = StatusFollower(StatusBook(), ["127.0.0.1:1"], consumer_factory=factory)
    follower.start()
    started = time.monotonic()
    follower.close()
    assert time.monotonic() - started < 3
    assert not follower.running
    assert not any(t.name == "status-follower" for t in threading.enumerate())


# -------------------------------------------------------------------------- the routes


def _settings(**overrides: object) -> IngestSettings:
    values: dict[str, object] = {"api_keys": [KEY], "report_users": [":".join(ANNA)]}
    values.update(overrides)
    return IngestSettings.model_validate(values)


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(_settings(), publisher=FakePublisher())) as test_client:
        yield test_client


@pytest.fixture
def book(client: TestClient) -> StatusBook:
    status_book: StatusBook = client.app.state.status_book  # type: ignore[attr-defined]
    return status_book


def api(client: TestClient, signal_id: str, key: str | None = KEY) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.get(f"/v1/signals/{signal_id}", headers=headers)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def page(client: TestClient, signal_id: str, lang: str = "en", auth: bool = True) -> Any:
    headers = basic(*ANNA) if auth else {}
    return client.get(f"/report/status/{signal_id}?lang={lang}", headers=headers)


def text_of(response: Any) -> str:
    return " ".join(unescape(response.text).split())


def test_status_json(client: TestClient, book: StatusBook) -> None:
    routed = build_routed()
    signal_id = routed.signal.signal_id
    book.apply_routed(topics.ROUTED_SERVICEDESK, routed)
    book.apply_delivery(delivery(signal_id))
    response = api(client, signal_id)
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "delivered"
    assert body["delivery"]["external_id"] == "EXT-12"
    assert api(client, signal_id.lower()).json()["signal_id"] == signal_id


def test_status_json_needs_a_key_and_a_ulid(client: TestClient, book: StatusBook) -> None:
    signal_id = new_signal_id()
    book.apply_received(build_signal(signal_id=signal_id))
    assert api(client, signal_id, key=None).status_code == 401
    assert api(client, signal_id, key="wrong-key-0123456789").status_code == 401
    invalid = api(client, "not-a-ulid")
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    unknown = api(client, new_signal_id())
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["detail"] == "unknown signal (it may still be on its way)"


def test_page_in_plain_words(client: TestClient, book: StatusBook) -> None:
    routed = build_routed(destination=Destination(name="servicedesk"))
    signal_id = routed.signal.signal_id
    book.apply_received(routed.signal)
    assert "Received, being processed" in text_of(page(client, signal_id))
    assert "Ontvangen, wordt verwerkt" in text_of(page(client, signal_id, "nl"))
    book.apply_routed(topics.ROUTED_SERVICEDESK, routed)
    assert "Being sent to the service desk" in text_of(page(client, signal_id))
    book.apply_delivery(delivery(signal_id))
    response = page(client, signal_id)
    assert response.status_code == 200
    assert "Sent to the service desk, ticket EXT-12" in text_of(response)
    assert 'href="https://desk.example/t/12"' in response.text
    assert "<script" not in response.text
    assert response.headers["cache-control"] == "no-store"
    assert "script-src" not in response.headers["content-security-policy"]
    nl = text_of(page(client, signal_id, "nl"))
    assert "Doorgestuurd naar de servicedesk, ticket EXT-12" in nl
    assert f'href="/report/status/{signal_id}?lang=en"' in page(client, signal_id, "nl").text


def test_page_for_crm_triage_duplicate_and_failure(client: TestClient, book: StatusBook) -> None:
    lead = build_routed(destination=Destination(name="crm"), rule_id="leads")
    book.apply_routed(topics.ROUTED_CRM, lead)
    book.apply_delivery(
        delivery(lead.signal.signal_id, destination="crm", external_id="L-9", external_url=None)
    )
    assert "Doorgestuurd naar sales, lead L-9" in text_of(page(client, lead.signal.signal_id, "nl"))

    triaged = build_routed(destination=Destination(name="triage"), rule_id="no-rule")
    book.apply_routed(topics.TRIAGE, triaged)
    assert "Waiting for a colleague to look at it (triage)" in text_of(
        page(client, triaged.signal.signal_id)
    )

    first = build_routed()
    book.apply_routed(topics.ROUTED_SERVICEDESK, first)
    book.apply_delivery(delivery(first.signal.signal_id, external_id="EXT-3"))
    first_id = first.signal.signal_id
    dup = build_routed(
        dedupe=Dedupe(duplicate_of=first_id, cluster_id=first_id, reporters_count=2),
        rule_id="duplicate",
    )
    book.apply_routed(topics.DUPLICATES, dup)
    text = text_of(page(client, dup.signal.signal_id))
    assert "Already reported by a colleague — added to that case" in text
    assert "Reported by 2 people so far." in text
    assert "ticket EXT-3" in text

    failed = build_routed()
    book.apply_routed(topics.ROUTED_SERVICEDESK, failed)
    book.apply_delivery(
        delivery(failed.signal.signal_id, "dead", error="HTTP 400 " + "x" * 500, attempts=1)
    )
    text = text_of(page(client, failed.signal.signal_id))
    assert "Set aside, an operator has been told" in text
    assert "HTTP 400" not in text  # the target system's words are for operators


# ------------------------------------------------------------------ who sees what


def test_an_employee_sees_only_their_own_signals(client: TestClient, book: StatusBook) -> None:
    bens = build_routed(build_signal(reporter={"employee_id": "ben"}))
    book.apply_routed(topics.ROUTED_SERVICEDESK, bens)
    mine = build_routed(build_signal(reporter={"email": "Anna@Bank.example"}))
    book.apply_routed(topics.ROUTED_SERVICEDESK, mine)
    theirs = page(client, bens.signal.signal_id)
    assert theirs.status_code == 404
    assert "Not known yet" in text_of(theirs)  # the same answer as an unknown id
    sso = _settings(report_users=[], report_trusted_user_header="X-Forwarded-Email")
    with TestClient(create_app(sso, publisher=FakePublisher())) as proxied:
        proxied.app.state.status_book = book  # type: ignore[attr-defined]
        own = proxied.get(
            f"/report/status/{mine.signal.signal_id}",
            headers={"X-Forwarded-Email": "anna@bank.example"},
        )
    assert own.status_code == 200
    assert "Being sent to the service desk" in text_of(own)


def test_an_operator_sees_every_signal_and_the_error_text() -> None:
    settings = _settings(operators=["Anna"])
    with TestClient(create_app(settings, publisher=FakePublisher())) as client:
        book: StatusBook = client.app.state.status_book  # type: ignore[attr-defined]
        bens = build_routed(build_signal(reporter={"employee_id": "ben"}))
        book.apply_routed(topics.ROUTED_SERVICEDESK, bens)
        book.apply_delivery(delivery(bens.signal.signal_id, "dead", error="HTTP 400 " + "x" * 500))
        text = text_of(page(client, bens.signal.signal_id))
    assert "Set aside, an operator has been told" in text
    assert "Error from the service desk (shown to operators only): HTTP 400" in text
    assert "x" * 300 not in text


def test_an_api_client_sees_its_own_signals_without_error_text(
    client: TestClient, book: StatusBook
) -> None:
    other_key = "another-status-key-0123456789"
    theirs = build_routed(build_signal(source=key_fingerprint(other_key)))
    book.apply_routed(topics.ROUTED_SERVICEDESK, theirs)
    assert api(client, theirs.signal.signal_id).status_code == 404
    mine = build_routed()
    book.apply_routed(topics.ROUTED_SERVICEDESK, mine)
    book.apply_delivery(delivery(mine.signal.signal_id, "failed", error="Connection refused"))
    body = api(client, mine.signal.signal_id).json()
    assert body["state"] == "failed"
    assert body["delivery"]["error"] is None


def test_a_form_post_is_readable_by_the_client_that_posted_it(
    client: TestClient, book: StatusBook
) -> None:
    form = build_signal(source=f"form:contact:{SOURCE}", metadata={"client": SOURCE})
    book.apply_received(form)
    assert api(client, form.signal_id).status_code == 200


# ---------------------------------------------------------- paused and parked, in words


@pytest.mark.parametrize(
    ("language", "destination", "waiting", "parked"),
    [
        (
            "en",
            "servicedesk",
            "Waiting for the service desk, which is not reachable",
            "Set aside, an operator has been told",
        ),
        ("en", "crm", "Waiting for the CRM, which is not reachable", None),
        (
            "nl",
            "servicedesk",
            "Wacht op de servicedesk, die niet bereikbaar is",
            "Apart gezet, een beheerder is ingelicht",
        ),
        ("nl", "crm", "Wacht op het CRM, die niet bereikbaar is", None),
    ],
)
def test_paused_and_parked_say_what_is_true(
    client: TestClient,
    book: StatusBook,
    language: str,
    destination: str,
    waiting: str,
    parked: str | None,
) -> None:
    topic = topics.ROUTED_CRM if destination == "crm" else topics.ROUTED_SERVICEDESK
    routed = build_routed(destination=Destination(name=destination))
    signal_id = routed.signal.signal_id
    book.apply_routed(topic, routed)
    book.apply_delivery(delivery(signal_id, "retrying", destination=destination))
    text = text_of(page(client, signal_id, language))
    assert waiting in text
    for stale in ("did not answer yet", "antwoordde nog niet"):
        assert stale not in text
    if parked is not None:
        for status in ("failed", "dead"):
            book.apply_delivery(delivery(signal_id, status, error="HTTP 503 upstream down"))
            text = text_of(page(client, signal_id, language))
            assert parked in text
            assert "you do not need to report it again" not in text
            assert "upstream" not in text


def test_a_delivery_after_a_replay_wins_over_parked(client: TestClient, book: StatusBook) -> None:
    for parked in ("failed", "dead"):
        routed = build_routed()
        signal_id = routed.signal.signal_id
        book.apply_routed(topics.ROUTED_SERVICEDESK, routed)
        book.apply_delivery(delivery(signal_id, parked, error="horizon passed"))
        book.apply_delivery(delivery(signal_id))  # `antenna dlq replay`, then delivered
        text = text_of(page(client, signal_id))
        assert "Sent to the service desk, ticket EXT-12" in text
        assert "Set aside" not in text


# ------------------------------------------------------- one key, two different bodies


def _key_reuses() -> float:
    return REGISTRY.get_sample_value("antenna_ingest_idempotency_key_reuses_total") or 0.0


def test_a_key_reused_for_another_body_is_found_counted_and_shown(
    client: TestClient, book: StatusBook
) -> None:
    signal_id = new_signal_id()
    first = build_signal(signal_id=signal_id, body_fingerprint="a" * 64)
    before = _key_reuses()
    book.apply_received(first)
    book.apply_received(first)  # a redelivery of the same report: nothing to see
    assert api(client, signal_id).json()["key_reused"] is False
    assert _key_reuses() == before
    other = build_signal(signal_id=signal_id, body_fingerprint="b" * 64, text="Another report")
    book.apply_received(other)
    book.apply_received(other)
    assert _key_reuses() == before + 1  # once per reuse, not per record
    assert api(client, signal_id).json()["key_reused"] is True
    assert "also used for a different report, which was not passed on" in text_of(
        page(client, signal_id)
    )
    assert "ook gebruikt voor een andere melding" in text_of(page(client, signal_id, "nl"))


def test_page_never_links_to_a_script_url(client: TestClient, book: StatusBook) -> None:
    routed = build_routed()
    book.apply_routed(topics.ROUTED_SERVICEDESK, routed)
    book.apply_delivery(delivery(routed.signal.signal_id, external_url="javascript:alert(1)"))
    response = page(client, routed.signal.signal_id)
    assert "javascript:" not in response.text


def test_page_sign_in_unknown_and_invalid(client: TestClient, book: StatusBook) -> None:
    signal_id = new_signal_id()
    book.apply_received(build_signal(signal_id=signal_id))
    unsigned = page(client, signal_id, auth=False)
    assert unsigned.status_code == 401
    assert unsigned.headers["www-authenticate"].startswith("Basic")
    wrong = client.get(f"/report/status/{signal_id}", headers=basic("anna", "nope"))
    assert wrong.status_code == 401
    unknown = page(client, new_signal_id())
    assert unknown.status_code == 404
    assert "Not known yet" in text_of(unknown)
    invalid = page(client, "%3Cb%3Enope")
    assert invalid.status_code == 422
    assert "<b>nope" not in invalid.text


def test_page_is_off_without_report_sign_in() -> None:
    settings = _settings(report_users=[])
    with TestClient(create_app(settings, publisher=FakePublisher())) as test_client:
        response = test_client.get(f"/report/status/{new_signal_id()}")
    assert response.status_code == 404


def test_follow_status_is_off_by_default(client: TestClient) -> None:
    assert not any(t.name == "status-follower" for t in threading.enumerate())


# ------------------------------------------------------------ reading signals.raw lightly


def test_a_raw_record_is_read_for_what_the_status_needs(monkeypatch) -> None:
    """Not validated as a whole Signal again (text, customer, e-mail addresses): ingest
    did that before publishing, and the follower reads every record it publishes."""

    def whole(*args: Any, **kwargs: Any) -> Signal:
        raise AssertionError("read as a whole Signal")

    signal = build_signal(body_fingerprint="a" * 64, metadata={"client": "form-tool"})
    record = signal.model_dump_json().encode()
    monkeypatch.setattr(Signal, "model_validate_json", whole)
    book = StatusBook()
    status = book.apply_record(topics.RAW, record)
    assert status is not None
    assert (status.received_at, status.body_fingerprint) == (signal.received_at, "a" * 64)
    assert status.reporters == {"anna"}
    assert status.clients == {SOURCE, "form-tool"}


@pytest.mark.parametrize("missing", ["signal_id", "received_at", "reporter", "channel"])
def test_a_raw_record_without_what_the_status_needs_is_skipped(missing: str) -> None:
    data = build_signal().model_dump(mode="json")
    del data[missing]
    assert StatusBook().apply_record(topics.RAW, json.dumps(data).encode()) is None
