"""/triage and /triage/case through FastAPI's TestClient, with a fake publisher at the
Kafka edge: who may use them, the page (text, guess, reasons, preselected choices, Dutch
and English, escaped), one click = the RoutedSignal then the Label, both acknowledged
before "done", a second click writes the same records, a decision that sent a signal
somewhere stands, a 503 keeps the item; same-case corrections; the status page's forms."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from html import unescape
from itertools import permutations

import httpx
import pytest

from schemas import (
    CaseCorrection,
    Category,
    Classification,
    Dedupe,
    DeliveryResult,
    DeliveryStatus,
    Destination,
    Kind,
    Label,
    RoutedSignal,
    Urgency,
    Verdict,
    topics,
)
from schemas.label import operator_ref
from services.ingest import metrics
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.ingest.status import StatusBook
from services.ingest.triage import OPERATOR_RULE, TriageBook
from tests.support.builders import build_duplicate, build_routed, build_signal
from tests.support.fakes import FakePublisher

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ANNA = ("anna", "anna-password-0123")  # an operator
BEN = ("ben", "ben-password-01234")  # an employee
HOSTILE = 'Klant <script>alert("x")</script> & zo'


def _triage_item(**signal: object) -> RoutedSignal:
    unsure = build_signal(
        subject="Pas geweigerd",
        text=f"{HOSTILE}: haar pas werd twee keer geweigerd, ze wil dat iemand belt.",
        channel="chat",
        **signal,
    )
    return build_routed(
        unsure,
        classification=Classification(
            kind=Kind.other,
            confidence=0.41,
            category=Category.payments_cards,
            urgency=Urgency.normal,
            language="nl",
            reasons=["rules and model disagree", "kort bericht"],
            classifier_version="test-1",
        ),
        destination=Destination(name="triage", target="human-triage"),
        rule_id="low-confidence",
    )


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def client(publisher: FakePublisher) -> Iterator[TestClient]:
    settings = IngestSettings.model_validate(
        {
            "api_keys": ["triage-test-api-key-0123"],
            "report_users": [":".join(ANNA), ":".join(BEN)],
            "operators": ["Anna"],
        }
    )
    with TestClient(create_app(settings, publisher=publisher)) as test_client:
        yield test_client


def _book(client: TestClient) -> TriageBook:
    book: TriageBook = client.app.state.triage  # type: ignore[attr-defined]
    return book


def _waiting(client: TestClient, item: RoutedSignal) -> RoutedSignal:
    _book(client).apply_routed(topics.TRIAGE, item.model_dump_json().encode())
    return item


def _hidden(form: str) -> dict[str, str]:
    found = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form)
    return {name: unescape(value) for name, value in found}


def _form_of(page: str, signal_id: str) -> dict[str, str]:
    article = page.split(f'id="item-{signal_id}"', 1)[1].split("</article>", 1)[0]
    return _hidden(article)


def _click(
    client: TestClient, form: dict[str, str], choice: str, auth: tuple[str, str] = ANNA, **more: str
) -> httpx.Response:
    data = {"category": "payments_cards", "urgency": "normal", **form, "choice": choice, **more}
    return client.post("/triage", auth=auth, data=data)


def _token(client: TestClient) -> dict[str, str]:
    """A CSRF token and nonce for Anna, from a form on the page."""
    item = _waiting(client, _triage_item())
    form = _form_of(client.get("/triage", auth=ANNA).text, item.signal.signal_id)
    return {k: v for k, v in form.items() if k != "signal_id"}


def _published(publisher: FakePublisher) -> list[tuple[str, str]]:
    return [(topic, key) for topic, key, _ in publisher.records]


def test_only_operators_see_triage(client: TestClient) -> None:
    assert client.get("/triage").status_code == 401
    refused = client.get("/triage", auth=BEN)
    assert refused.status_code == 403
    assert "For operators only" in refused.text
    assert client.get("/triage", auth=ANNA).status_code == 200


def test_a_non_operator_cannot_post_a_decision(
    client: TestClient, publisher: FakePublisher
) -> None:
    item = _waiting(client, _triage_item())
    form = _form_of(client.get("/triage", auth=ANNA).text, item.signal.signal_id)
    assert _click(client, form, "servicedesk", auth=BEN).status_code == 403
    case = {**form, "verdict": "same_case", "other_signal_id": build_signal().signal_id}
    assert client.post("/triage/case", auth=BEN, data=case).status_code == 403
    assert publisher.records == []


def test_the_page_shows_the_text_the_guess_and_the_choices(client: TestClient) -> None:
    item = _waiting(client, _triage_item())
    page = client.get("/triage", auth=ANNA).text
    assert HOSTILE not in page and "&lt;script&gt;" in page  # the text, escaped
    assert "Pas geweigerd" in page
    assert "The classifier: other (41%), payments and cards, urgency normal" in page
    assert "rules and model disagree" in page
    assert '<option value="payments_cards" selected>' in page
    assert '<option value="normal" selected>' in page
    for button in ("Complaint → service desk", "Opportunity → CRM", "Other → no destination"):
        assert button in page
    assert "<script" not in page.replace("&lt;script", "")
    assert "1 waiting" in page
    form = _form_of(page, item.signal.signal_id)
    assert set(form) == {"csrf_token", "nonce", "lang", "signal_id"}
    dutch = client.get("/triage?lang=nl", auth=ANNA).text
    assert 'lang="nl"' in dutch and "Klacht → servicedesk" in dutch
    assert "De classifier: overig (41%), betalen en passen, urgentie normaal" in dutch


def test_one_click_sends_the_signal_and_records_the_label(
    client: TestClient, publisher: FakePublisher
) -> None:
    item = _waiting(client, _triage_item())
    signal_id = item.signal.signal_id
    form = _form_of(client.get("/triage", auth=ANNA).text, signal_id)
    before = metrics.LABELS_RECORDED.labels("complaint")._value.get()
    done = _click(client, form, "servicedesk", urgency="high")
    assert done.status_code == 200, done.text
    assert "Sent to the service desk and recorded as a complaint." in done.text
    assert f'id="item-{signal_id}"' not in done.text
    assert _published(publisher) == [
        (topics.ROUTED_SERVICEDESK, signal_id),  # first the signal, then its label
        (topics.LABELS, f"operator:{signal_id}"),
    ]
    routed = RoutedSignal.model_validate_json(publisher.records[0][2])
    label = Label.model_validate_json(publisher.records[1][2])
    assert routed.signal == item.signal
    assert routed.dedupe == item.dedupe
    assert routed.destination == Destination(name="servicedesk")
    assert routed.rule_id == OPERATOR_RULE
    assert (routed.classification.kind, routed.classification.urgency) == (
        Kind.complaint,
        Urgency.high,
    )
    assert routed.classification.category is Category.payments_cards
    assert routed.routed_at == label.labelled_at
    assert (label.kind, label.category, label.urgency, label.destination) == (
        Kind.complaint,
        Category.payments_cards,
        Urgency.high,
        "servicedesk",
    )
    assert label.text == f"Pas geweigerd\n{item.signal.text}"
    assert (label.language, label.channel.value) == ("nl", "chat")
    assert label.guess == item.classification
    assert label.operator_ref == operator_ref("anna") != "anna"
    assert metrics.LABELS_RECORDED.labels("complaint")._value.get() == before + 1


def test_a_second_click_writes_the_same_records_and_counts_once(
    client: TestClient, publisher: FakePublisher
) -> None:
    item = _waiting(client, _triage_item())
    form = _form_of(client.get("/triage", auth=ANNA).text, item.signal.signal_id)
    before = metrics.LABELS_RECORDED.labels("opportunity")._value.get()
    first = _click(client, form, "crm", category="energy")
    again = _click(client, form, "crm", category="energy")
    assert first.status_code == again.status_code == 200
    assert publisher.records[:2] == publisher.records[2:]  # same keys, same bytes
    assert [topic for topic, _, _ in publisher.records[:2]] == [topics.ROUTED_CRM, topics.LABELS]
    assert metrics.LABELS_RECORDED.labels("opportunity")._value.get() == before + 1


def test_a_decision_that_sent_the_signal_somewhere_stands(
    client: TestClient, publisher: FakePublisher
) -> None:
    item = _waiting(client, _triage_item())
    form = _form_of(client.get("/triage", auth=ANNA).text, item.signal.signal_id)
    _click(client, form, "servicedesk")
    published = list(publisher.records)
    for other in (("crm", {}), ("servicedesk", {"urgency": "low"}), ("none", {})):
        refused = _click(client, form, other[0], **other[1])
        assert refused.status_code == 409
        assert "already sent to the service desk as a complaint" in refused.text
    assert publisher.records == published


def test_other_sends_nothing_and_may_be_changed_later(
    client: TestClient, publisher: FakePublisher
) -> None:
    item = _waiting(client, _triage_item())
    signal_id = item.signal.signal_id
    form = _form_of(client.get("/triage", auth=ANNA).text, signal_id)
    assert "Recorded as other" in _click(client, form, "none", category="other").text
    assert _published(publisher) == [(topics.LABELS, f"operator:{signal_id}")]
    assert Label.model_validate_json(publisher.records[0][2]).destination is None
    changed = _click(client, form, "servicedesk")
    assert changed.status_code == 200
    assert _published(publisher)[1:] == [
        (topics.ROUTED_SERVICEDESK, signal_id),
        (topics.LABELS, f"operator:{signal_id}"),
    ]


def test_a_broker_that_does_not_acknowledge_leaves_the_item_waiting(
    client: TestClient, publisher: FakePublisher
) -> None:
    item = _waiting(client, _triage_item())
    signal_id = item.signal.signal_id
    form = _form_of(client.get("/triage", auth=ANNA).text, signal_id)
    publisher.unavailable = True
    refused = _click(client, form, "servicedesk")
    assert refused.status_code == 503
    assert refused.headers["Retry-After"]
    assert "Not done, please try again" in refused.text
    assert f'id="item-{signal_id}"' in refused.text
    assert _book(client).label(signal_id) is None
    publisher.unavailable = False
    assert _click(client, form, "servicedesk").status_code == 200


def test_forms_that_are_not_ours_are_refused(client: TestClient, publisher: FakePublisher) -> None:
    item = _waiting(client, _triage_item())
    form = _form_of(client.get("/triage", auth=ANNA).text, item.signal.signal_id)
    assert _click(client, {**form, "csrf_token": "forged"}, "servicedesk").status_code == 403
    assert _click(client, form, "elsewhere").status_code == 422
    assert _click(client, form, "servicedesk", category="nonsense").status_code == 422
    unknown = _click(client, {**form, "signal_id": build_signal().signal_id}, "servicedesk")
    assert unknown.status_code == 404
    assert publisher.records == []


def test_not_the_same_case_publishes_a_correction_with_both_reports(
    client: TestClient, publisher: FakePublisher
) -> None:
    first = build_routed()
    duplicate = build_duplicate(first)
    book = _book(client)
    book.apply_routed(topics.ROUTED_SERVICEDESK, first.model_dump_json().encode())
    book.apply_routed(topics.DUPLICATES, duplicate.model_dump_json().encode())
    page = client.get("/triage", auth=ANNA).text
    article = page.split(f'id="duplicate-{duplicate.signal.signal_id}"', 1)[1]
    form = _hidden(article.split("</article>", 1)[0])
    assert form["verdict"] == "not_same_case"
    assert form["other_signal_id"] == first.signal.signal_id
    done = client.post("/triage/case", auth=ANNA, data=form)
    assert done.status_code == 200, done.text
    assert "Recorded: not the same case." in done.text
    [(topic, key, value)] = publisher.records
    correction = CaseCorrection.model_validate_json(value)
    assert topic == topics.CASE_CORRECTIONS
    assert key == correction.correction_id
    assert correction.verdict is Verdict.not_same_case
    assert (correction.report, correction.other) == (duplicate, first)
    assert correction.operator_ref == operator_ref("anna")


def test_not_the_same_case_for_a_report_in_no_such_case_is_refused(
    client: TestClient, publisher: FakePublisher
) -> None:
    own = build_routed()
    _book(client).apply_routed(topics.ROUTED_SERVICEDESK, own.model_dump_json().encode())
    form = _token(client)
    data = {
        **form,
        "signal_id": own.signal.signal_id,
        "other_signal_id": build_signal().signal_id,
        "verdict": "not_same_case",
    }
    assert client.post("/triage/case", auth=ANNA, data=data).status_code == 409
    assert publisher.records == []


def test_same_case_as_a_signal_this_ingest_never_saw(
    client: TestClient, publisher: FakePublisher
) -> None:
    own = build_routed()
    _book(client).apply_routed(topics.ROUTED_SERVICEDESK, own.model_dump_json().encode())
    other_id = build_signal().signal_id
    form = _token(client)
    data = {
        **form,
        "signal_id": own.signal.signal_id,
        "other_signal_id": f" {other_id.lower()} ",  # pasted
        "verdict": "same_case",
    }
    assert client.post("/triage/case", auth=ANNA, data=data).status_code == 200
    correction = CaseCorrection.model_validate_json(publisher.records[0][2])
    assert (correction.other_signal_id, correction.other) == (other_id, None)
    same = {**data, "other_signal_id": own.signal.signal_id}
    assert client.post("/triage/case", auth=ANNA, data=same).status_code == 422


def test_the_status_page_offers_operators_the_corrections(client: TestClient) -> None:
    first = build_routed(build_signal(reporter={"employee_id": "ben"}))
    duplicate = build_duplicate(first, received_at=first.signal.received_at)
    status = client.app.state.status_book  # type: ignore[attr-defined]
    status.apply_routed(topics.ROUTED_SERVICEDESK, first)
    status.apply_routed(topics.DUPLICATES, duplicate)
    page = client.get(f"/report/status/{duplicate.signal.signal_id}", auth=ANNA).text
    assert 'action="/triage/case"' in page
    assert "Not the same case" in page and "Same case" in page
    assert _hidden(page.split("Not the same case")[0].rsplit("<form", 1)[1])["other_signal_id"] == (
        first.signal.signal_id
    )
    own = client.get(f"/report/status/{first.signal.signal_id}", auth=BEN).text
    assert "/triage/case" not in own  # an employee's own report: no corrections


# ------------------------------------------------------------------------ the book


def test_a_label_read_before_its_triage_record_keeps_it_off_the_list() -> None:
    book = TriageBook()
    item = _triage_item()
    label = Label(
        label_id=f"operator:{item.signal.signal_id}",
        signal_id=item.signal.signal_id,
        kind=Kind.complaint,
        category=Category.payments_cards,
        urgency=Urgency.normal,
        destination="servicedesk",
        text=item.signal.text,
        language="nl",
        channel=item.signal.channel,
        guess=item.classification,
        operator_ref="r",
        labelled_at=datetime.now(UTC),
    )
    assert book.apply_record(topics.LABELS, label.model_dump_json().encode())
    assert book.apply_record(topics.TRIAGE, item.model_dump_json().encode())
    assert book.waiting_count == 0
    assert book.label(item.signal.signal_id) == label
    assert book.apply_record(topics.LABELS, None)  # an erased label: still decided
    assert not book.apply_record(topics.TRIAGE, b"not json")


def test_a_signal_routed_by_an_operator_on_another_replica_leaves_the_list() -> None:
    book = TriageBook()
    item = _triage_item()
    book.apply_record(topics.TRIAGE, item.model_dump_json().encode())
    sent = item.model_copy(update={"rule_id": OPERATOR_RULE})
    book.apply_record(topics.ROUTED_SERVICEDESK, sent.model_dump_json().encode())
    assert book.waiting_count == 0


def test_the_waiting_list_is_bounded_and_says_how_many_it_let_go() -> None:
    book = TriageBook(max_waiting=3, max_reports=4)
    start = datetime(2026, 3, 2, tzinfo=UTC)
    items = [_triage_item(received_at=start + timedelta(minutes=n)) for n in range(5)]
    for item in items:
        book.apply_record(topics.TRIAGE, item.model_dump_json().encode())
    assert book.waiting_count == 3 and book.dropped == 2
    assert [r.signal.signal_id for r in book.waiting(10)] == [i.signal.signal_id for i in items[2:]]
    assert [r.signal.signal_id for r in book.waiting(2)] == [i.signal.signal_id for i in items[2:4]]


def _delivered(routed: RoutedSignal, ticket: str, at: datetime) -> DeliveryResult:
    return DeliveryResult(
        signal_id=routed.signal.signal_id,
        destination=routed.destination.name,
        connector="webhook",
        status=DeliveryStatus.delivered,
        external_id=ticket,
        attempts=1,
        at=at,
    )


def _fold(book: StatusBook, events: Sequence[tuple[str, object]]) -> None:
    for topic, event in events:
        if isinstance(event, DeliveryResult):
            book.apply_delivery(event)
        else:
            assert isinstance(event, RoutedSignal)
            book.apply_routed(topic, event)


def test_a_split_off_report_leaves_its_old_case_and_shows_its_own_record() -> None:
    """The status view after "not the same case", whatever order the topics are read in:
    the report is a case of its own; its old case no longer counts it as a colleague's,
    and its own ticket replaces the note it had been."""
    first = build_routed()
    note = build_duplicate(first)
    noted_at = note.routed_at + timedelta(seconds=1)
    split = build_routed(
        note.signal,
        dedupe=Dedupe(cluster_id=note.signal.signal_id),
        routed_at=noted_at + timedelta(minutes=5),
    )
    events = [
        (topics.DUPLICATES, note),
        (topics.DELIVERED, _delivered(note, "DESK-1", noted_at)),
        (topics.ROUTED_SERVICEDESK, split),
        (topics.DELIVERED, _delivered(note, "DESK-2", split.routed_at + timedelta(seconds=1))),
    ]
    for order in permutations(events):
        book = StatusBook()
        book.apply_routed(topics.ROUTED_SERVICEDESK, first)
        _fold(book, [*order, *order])  # and every event read again
        status = book.get(note.signal.signal_id)
        assert status is not None
        assert (status.routing, status.duplicate_of, status.rule_id) == (
            "routed",
            None,
            split.rule_id,
        ), order
        assert status.delivery is not None and status.delivery.external_id == "DESK-2", order
        case = book.get(first.signal.signal_id)
        assert case is not None and case.joins == (), order


def test_a_triage_signal_an_operator_sent_on_shows_where_it_went_in_any_order() -> None:
    item = _triage_item()
    sent = item.model_copy(
        update={
            "rule_id": OPERATOR_RULE,
            "destination": Destination(name="servicedesk"),
            "routed_at": item.routed_at + timedelta(hours=2),
        }
    )
    events = [
        (topics.TRIAGE, item),
        (topics.ROUTED_SERVICEDESK, sent),
        (topics.DELIVERED, _delivered(sent, "DESK-7", sent.routed_at + timedelta(seconds=1))),
    ]
    for order in permutations(events):
        book = StatusBook()
        _fold(book, order)
        status = book.get(item.signal.signal_id)
        assert status is not None
        assert (status.state, status.rule_id) == ("delivered", OPERATOR_RULE), order
