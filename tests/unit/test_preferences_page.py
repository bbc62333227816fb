"""/report/preferences through FastAPI's TestClient, with a fake publisher at the Kafka
edge: sign-in, CSRF, the choice as a NotificationPreference keyed as the notifier looks
it up, "saved" only after the publish, a 503 page that keeps the choice."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from html import unescape

import httpx
import pytest

from schemas import NotificationPreference, Reporter, topics
from services.common.preferences import PreferenceBook
from services.ingest.app import create_app
from services.ingest.forms.preferences import Choice, ChoiceInvalid, read_choice
from services.ingest.settings import IngestSettings
from services.notifier.preferences import wants_news
from tests.support.fakes import FakePublisher

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ANNA = ("anna", "anna-password-0123")
BEN = ("ben", "ben-password-01234")
PATH = "/report/preferences"


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


def _app(publisher: FakePublisher, **overrides: object) -> TestClient:
    settings = IngestSettings.model_validate(
        {
            "api_keys": ["preferences-test-api-key-0123"],
            "report_users": [":".join(ANNA), ":".join(BEN)],
            **overrides,
        }
    )
    return TestClient(create_app(settings, publisher=publisher))


@pytest.fixture
def client(publisher: FakePublisher) -> Iterator[TestClient]:
    with _app(publisher) as test_client:
        yield test_client


def _hidden(page: str) -> dict[str, str]:
    found = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page)
    return {name: unescape(value) for name, value in found}


def _open(client: TestClient, auth: tuple[str, str] = ANNA, **params: str) -> httpx.Response:
    response = client.get(PATH, auth=auth, params=params)
    assert response.status_code == 200, response.text
    return response


def _save(
    client: TestClient, page: httpx.Response, auth: tuple[str, str] = ANNA, **fields: str
) -> httpx.Response:
    return client.post(PATH, auth=auth, data={**_hidden(page.text), **fields})


def _saved(publisher: FakePublisher) -> list[tuple[str, NotificationPreference]]:
    return [
        (key, NotificationPreference.model_validate_json(value))
        for topic, key, value in publisher.records
        if topic == topics.PREFERENCES
    ]


def test_the_page_shows_the_defaults_in_english_and_dutch(client: TestClient) -> None:
    page = _open(client).text
    assert '<html lang="en">' in page
    assert "Tell me what became of my reports" in page
    assert re.search(r'name="notify" value="yes" checked', page)
    assert not re.search(r'name="credit" value="yes" checked', page)
    assert "<script" not in page
    dutch = _open(client, lang="nl").text
    assert '<html lang="nl">' in dutch and "Vertel me wat er van mijn meldingen" in dutch
    assert 'href="/report/preferences?lang=en"' in dutch  # the language switch


def test_an_opt_out_is_published_as_the_notifier_reads_it(
    client: TestClient, publisher: FakePublisher
) -> None:
    response = _save(client, _open(client), notify="no")
    assert response.status_code == 200
    assert "Saved." in response.text
    [(key, preference)] = _saved(publisher)
    assert (key, preference.employee_id, preference.notify) == ("anna", "anna", False)
    assert preference.credit_name is None
    # What the notifier folds from the topic: this employee hears nothing.
    book = PreferenceBook()
    assert book.apply(key.encode(), preference.model_dump_json().encode())
    assert not wants_news(book.notify, Reporter(employee_id="anna"))
    assert wants_news(book.notify, Reporter(employee_id="ben"))
    # The page shows the saved choice at once, and so does a later visit.
    assert re.search(r'name="notify" value="no" checked', response.text)
    assert re.search(r'name="notify" value="no" checked', _open(client).text)


def test_an_address_is_the_key_in_lower_case(publisher: FakePublisher) -> None:
    headers = {"X-Forwarded-Email": "Sanne@Bank.Example"}
    with _app(publisher, report_users=[], report_trusted_user_header="X-Forwarded-Email") as app:
        page = app.get(PATH, headers=headers)
        response = app.post(PATH, headers=headers, data={**_hidden(page.text), "notify": "no"})
    assert response.status_code == 200
    [(key, preference)] = _saved(publisher)
    assert key == preference.employee_id == "sanne@bank.example"


def test_the_credit_opt_in_needs_a_name_and_keeps_what_was_typed(
    client: TestClient, publisher: FakePublisher
) -> None:
    page = _open(client, lang="nl")
    refused = _save(client, page, notify="yes", credit="yes", credit_name="   ")
    assert refused.status_code == 422
    assert "Vul de naam in die getoond wordt" in refused.text
    assert re.search(r'name="credit" value="yes" checked', refused.text)
    assert publisher.records == []
    saved = _save(client, refused, notify="yes", credit="yes", credit_name="Anna  de <Vries>")
    assert saved.status_code == 200
    [(_, preference)] = _saved(publisher)
    assert (preference.notify, preference.credit_name) == (True, "Anna de <Vries>")
    assert 'value="Anna de &lt;Vries&gt;"' in saved.text  # escaped, never markup
    # Unticked: the name is not kept, the employee is named nowhere.
    _save(client, saved, notify="yes", credit_name="Anna de Vries")
    assert _saved(publisher)[-1][1].credit_name is None


def test_saved_is_said_only_after_the_broker_took_it(
    client: TestClient, publisher: FakePublisher
) -> None:
    page = _open(client)
    publisher.unavailable = True
    response = _save(client, page, notify="no", credit="yes", credit_name="Anna")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "Not saved, please try again" in response.text and "Saved." not in response.text
    assert re.search(r'name="notify" value="no" checked', response.text)  # kept
    assert 'value="Anna"' in response.text
    assert re.search(r'name="notify" value="yes" checked', _open(client).text)  # unchanged
    publisher.unavailable = False
    assert _save(client, response, notify="no").status_code == 200  # its fresh token works


@pytest.mark.parametrize("case", ["missing", "tampered", "other-user"])
def test_a_post_without_the_employees_token_is_refused(
    client: TestClient, publisher: FakePublisher, case: str
) -> None:
    hidden = _hidden(_open(client).text)
    auth = ANNA
    if case == "missing":
        del hidden["csrf_token"]
    elif case == "tampered":
        hidden["csrf_token"] = hidden["csrf_token"][:-2] + "xx"
    else:
        auth = BEN  # anna's form, posted for ben by a hostile page
    response = client.post(PATH, auth=auth, data={**hidden, "notify": "no"})
    assert response.status_code == 403
    assert publisher.records == []


def test_without_sign_in_nothing_is_shown_or_saved(
    client: TestClient, publisher: FakePublisher
) -> None:
    assert client.get(PATH).status_code == 401
    assert client.get(PATH, auth=("anna", "wrong-password-000")).status_code == 401
    assert client.post(PATH, data={"notify": "no"}).status_code == 401
    assert publisher.records == []


def test_read_choice() -> None:
    assert read_choice({"notify": "yes"}) == Choice(notify=True, credit_name=None)
    assert read_choice({"notify": "no", "credit": "yes", "credit_name": " A  B "}) == Choice(
        notify=False, credit_name="A B"
    )
    with pytest.raises(ChoiceInvalid) as info:
        read_choice({"notify": "maybe", "credit": "yes", "credit_name": "x" * 101})
    assert set(info.value.fields) == {"notify", "credit_name"}
