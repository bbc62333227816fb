"""The report page and POST /v1/forms/{form_id}: language choice, CSRF tokens, sign-in,
body decoding and the whole request path through FastAPI's TestClient, with a fake
publisher at the Kafka edge."""

from __future__ import annotations

import base64
import json
import re
import warnings
from html import unescape

import httpx
import pytest
from pydantic import SecretStr

from schemas import Channel
from services.ingest.app import create_app
from services.ingest.forms import (
    AttachmentTooLarge,
    FormInvalid,
    UnsupportedMediaType,
    build_submission,
    parse_body,
)
from services.ingest.forms.auth import NotConfigured, Unauthorized, authenticate
from services.ingest.forms.csrf import CsrfSigner
from services.ingest.forms.i18n import LABELS, choose_language, parse_accept_language
from services.ingest.forms.page import render_form
from services.ingest.settings import IngestSettings
from tests.support.fakes import FakePublisher

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's TestClient warning; not our concern
    from fastapi.testclient import TestClient

KEY = "forms-test-api-key-0123456789"
ANNA = ("anna", "anna-password-0123")
BEN = ("ben", "ben:password-with-colon")
ATTACHMENT_LIMIT = 1000
SECRET = b"csrf-test-secret-0123456789"


def _settings(**overrides: object) -> IngestSettings:
    values: dict[str, object] = {
        "api_keys": [KEY],
        "report_users": [":".join(ANNA), ":".join(BEN)],
        "max_attachment_bytes": ATTACHMENT_LIMIT,
        "max_body_bytes": 100_000,
    }
    values.update(overrides)
    return IngestSettings.model_validate(values)


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def client(publisher):
    with TestClient(create_app(_settings(), publisher=publisher)) as test_client:
        yield test_client


def _client_with(publisher: FakePublisher, **overrides: object) -> TestClient:
    return TestClient(create_app(_settings(**overrides), publisher=publisher))


# ------------------------------------------------------------------------- i18n


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("nl-NL,nl;q=0.9,en;q=0.8", "nl"),
        ("en;q=0.5, nl;q=0.8", "nl"),
        ("de;q=1, nl;q=0.9, en;q=0.7", "nl"),
        ("fr, en;q=0.1", "en"),
        ("fr-FR, de", "en"),  # nothing supported: English
        ("nl;q=0, en;q=0.2", "en"),  # q=0 means "not this one"
        ("nl;q=abc, en;q=0.3", "en"),  # a malformed q drops the entry
        ("nl;q=1.5, en;q=0.3", "en"),  # out of range too
        ("*", "en"),
        ("nl-BE", "nl"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_accept_language_picks_the_best_supported(header, expected) -> None:
    assert choose_language(None, header) == expected


def test_accept_language_is_ranked_by_q_and_stable() -> None:
    assert parse_accept_language("en;q=0.5, nl, fr;q=0.5, de;q=0") == [
        ("nl", 1.0),
        ("en", 0.5),
        ("fr", 0.5),
    ]


@pytest.mark.parametrize(
    ("lang", "header", "expected"),
    [
        ("nl", "en", "nl"),
        ("en", "nl;q=1", "en"),
        ("NL", None, "nl"),
        ("en-GB", "nl", "en"),
        ("xx", "nl", "nl"),  # an unknown switch value falls back to the header
        ("", "nl", "nl"),
    ],
)
def test_the_lang_switch_wins_over_the_header(lang, header, expected) -> None:
    assert choose_language(lang, header) == expected


def test_both_languages_have_every_label() -> None:
    assert set(LABELS["en"]) == set(LABELS["nl"])
    assert all(LABELS["nl"].values()) and all(LABELS["en"].values())


# ------------------------------------------------------------------------- CSRF


class Clock:
    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_csrf_token_is_valid_for_its_user_and_nonce() -> None:
    signer = CsrfSigner(SECRET, clock=Clock())
    token = signer.issue("anna", "nonce-1")
    assert signer.verify(token, "anna", "nonce-1")
    assert not signer.verify(token, "ben", "nonce-1")  # another user
    assert not signer.verify(token, "anna", "nonce-2")  # another form
    assert not signer.verify(token, "anna", "")


def test_csrf_token_expires_after_two_hours() -> None:
    clock = Clock()
    signer = CsrfSigner(SECRET, clock=clock)
    token = signer.issue("anna", "n")
    clock.now += 2 * 3600 - 1
    assert signer.verify(token, "anna", "n")
    clock.now += 2
    assert not signer.verify(token, "anna", "n")


def test_csrf_token_from_the_future_is_refused() -> None:
    clock = Clock()
    signer = CsrfSigner(SECRET, clock=clock)
    token = signer.issue("anna", "n")
    clock.now -= 3600
    assert not signer.verify(token, "anna", "n")


def test_tampered_csrf_tokens_are_refused() -> None:
    clock = Clock()
    signer = CsrfSigner(SECRET, clock=clock)
    token = signer.issue("anna", "n")
    version, issued_at, signature = token.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    later = str(int(issued_at) + 60)  # a fresher time under the old signature
    for bad in (
        f"{version}.{issued_at}.{flipped}",
        f"{version}.{later}.{signature}",
        f"v2.{issued_at}.{signature}",
        f"{version}.{issued_at}",
        "",
        None,
        "v1.notanumber.abc",
        token + "x" * 300,
    ):
        assert not signer.verify(bad, "anna", "n"), bad
    other = CsrfSigner(b"another-secret-0123456789", clock=clock)
    assert not other.verify(token, "anna", "n")


def test_csrf_secret_from_settings_or_per_process() -> None:
    configured = CsrfSigner.from_setting(SecretStr(SECRET.decode()))
    assert CsrfSigner(SECRET).verify(configured.issue("anna", "n"), "anna", "n")
    first, second = CsrfSigner.from_setting(None), CsrfSigner.from_setting(None)
    assert not second.verify(first.issue("anna", "n"), "anna", "n")
    with pytest.raises(ValueError, match="placeholder"):
        CsrfSigner.from_setting(SecretStr("changeme"))
    with pytest.raises(ValueError, match="at least"):
        CsrfSigner.from_setting(SecretStr("short"))


# ------------------------------------------------------------------------- auth


def _basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {raw}"}


def test_basic_auth_accepts_configured_users_only() -> None:
    settings = _settings()
    assert authenticate(settings, _basic(*ANNA)).user == "anna"
    assert authenticate(settings, _basic(*BEN)).user == "ben"  # ':' inside the password
    for headers in (
        _basic("anna", "wrong-password"),
        _basic("anna", BEN[1]),  # someone else's password
        _basic("nobody", ANNA[1]),
        {"authorization": "Basic not-base64!"},
        {"authorization": "Bearer " + KEY},
        {},
    ):
        with pytest.raises(Unauthorized) as refused:
            authenticate(settings, headers)
        assert refused.value.basic_challenge


def test_trusted_header_names_the_employee() -> None:
    settings = _settings(report_users=[], report_trusted_user_header="X-Forwarded-Email")
    employee = authenticate(settings, httpx.Headers({"x-forwarded-email": "sanne@example.nl"}))
    assert (employee.user, employee.method) == ("sanne@example.nl", "header")
    with pytest.raises(Unauthorized) as refused:
        authenticate(settings, _basic(*ANNA))
    assert not refused.value.basic_challenge  # only the proxy signs people in
    with pytest.raises(Unauthorized):
        authenticate(settings, httpx.Headers({"x-forwarded-email": "  "}))


def test_with_both_the_header_wins_and_basic_still_works() -> None:
    settings = _settings(report_trusted_user_header="X-Forwarded-User")
    assert authenticate(settings, httpx.Headers({"x-forwarded-user": "sso-1"})).user == "sso-1"
    assert authenticate(settings, httpx.Headers(_basic(*ANNA))).user == "anna"


def test_unconfigured_report_page_does_not_exist() -> None:
    with pytest.raises(NotConfigured):
        authenticate(_settings(report_users=[]), _basic(*ANNA))
    with pytest.raises(NotConfigured):  # malformed entries do not count
        authenticate(_settings(report_users=["no-colon-here"]), _basic(*ANNA))


def test_passwords_are_never_logged(client, caplog) -> None:
    caplog.set_level("DEBUG")
    client.get("/report", auth=("anna", "secret-typo-password"))
    client.get("/report", auth=ANNA)
    assert "secret-typo-password" not in caplog.text
    assert ANNA[1] not in caplog.text


# ------------------------------------------------------------------- form bodies


def _encoded(**kwargs: object) -> tuple[str, bytes]:
    request = httpx.Request("POST", "http://test/", **kwargs)
    return request.headers["content-type"], request.read()


def test_urlencoded_body() -> None:
    content_type, body = _encoded(
        data={"text": "Pinpas geweigerd\r\ntwee keer", "consent": ["0", "on"], "hint": "complaint"}
    )
    form = parse_body(content_type, body, max_attachment_bytes=ATTACHMENT_LIMIT)
    assert form.fields["consent"] == "on"  # the last value wins
    submission = build_submission(form.fields | {"reporter_id": "e-1"})
    assert submission.text == "Pinpas geweigerd\ntwee keer"
    assert submission.customer is not None and submission.customer.consent_to_contact
    assert submission.metadata == {"hint": "complaint"}
    assert submission.channel is Channel.form


def test_multipart_body_keeps_attachment_metadata_only() -> None:
    pdf = b"%PDF-1.7 \x00\xff\r\n--not-a-boundary\r\n" + bytes(range(256)) * 3
    content_type, body = _encoded(
        data={"text": "Wil een offerte voor zonnepanelen", "reporter_email": "e@example.nl"},
        files=[
            ("attachment", ("C:\\Users\\e\\offerte aanvraag.pdf", pdf, "application/pdf")),
            ("photo", ("foto.jpg", b"\xff\xd8\xff", "image/jpeg")),
        ],
    )
    form = parse_body(content_type, body, max_attachment_bytes=ATTACHMENT_LIMIT)
    assert form.fields == {
        "text": "Wil een offerte voor zonnepanelen",
        "reporter_email": "e@example.nl",
    }
    assert [(a.filename, a.content_type, a.size) for a in form.attachments] == [
        ("offerte aanvraag.pdf", "application/pdf", len(pdf)),
        ("foto.jpg", "image/jpeg", 3),
    ]


def test_multipart_empty_file_input_is_skipped() -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="text"\r\n\r\nhello\r\n'
        b'--b\r\nContent-Disposition: form-data; name="attachment"; filename=""\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n\r\n--b--\r\n"
    )
    form = parse_body("multipart/form-data; boundary=b", body, max_attachment_bytes=10)
    assert form.fields == {"text": "hello"}
    assert form.attachments == []


def test_attachment_size_limit() -> None:
    at_limit = _encoded(data={"text": "x"}, files={"a": ("a.bin", b"x" * ATTACHMENT_LIMIT)})
    form = parse_body(*at_limit, max_attachment_bytes=ATTACHMENT_LIMIT)
    assert form.attachments[0].size == ATTACHMENT_LIMIT
    over = _encoded(data={"text": "x"}, files={"big": ("a.bin", b"x" * (ATTACHMENT_LIMIT + 1))})
    with pytest.raises(AttachmentTooLarge) as refused:
        parse_body(*over, max_attachment_bytes=ATTACHMENT_LIMIT)
    assert refused.value.field == "big"


@pytest.mark.parametrize(
    "body",
    [
        b'--b\r\nContent-Disposition: form-data; name="text"\r\n\r\nno closing boundary',
        b"not multipart at all",
        b"--b\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--b--\r\n",
    ],
)
def test_malformed_multipart_is_invalid(body) -> None:
    with pytest.raises(FormInvalid):
        parse_body("multipart/form-data; boundary=b", body, max_attachment_bytes=10)


def test_json_flat_and_nested() -> None:
    flat = parse_body(
        "application/json",
        json.dumps({"text": "t", "reporter_id": "e-1", "consent": True}).encode(),
        max_attachment_bytes=10,
    )
    assert flat.allow_nested
    submission = build_submission(flat.fields, allow_nested=True)
    assert submission.customer is not None and submission.customer.consent_to_contact
    nested = {
        "text": "t",
        "reporter": {"employee_id": "e-1", "department": "Sales"},
        "customer": {"name": "Jan", "phone": "+31 6 1234"},
        "metadata": {"campaign": "spring"},
        "attachments": [{"filename": "a.pdf", "content_type": "application/pdf", "size": 3}],
    }
    submission = build_submission(nested, metadata={"form_id": "f"}, allow_nested=True)
    assert submission.reporter.department == "Sales"
    assert submission.customer is not None and submission.customer.phone == "+31 6 1234"
    assert submission.metadata == {"campaign": "spring", "form_id": "f"}
    assert submission.attachments[0].size == 3


def test_unsupported_media_types() -> None:
    for content_type in ("text/plain", None, "application/xml"):
        with pytest.raises(UnsupportedMediaType):
            parse_body(content_type, b"text=x", max_attachment_bytes=10)


@pytest.mark.parametrize("value", ["true", "on", "1", "yes", "YES", " On "])
def test_consent_true_values(value) -> None:
    submission = build_submission({"text": "t", "reporter_id": "e", "consent": value})
    assert submission.customer is not None and submission.customer.consent_to_contact


@pytest.mark.parametrize("value", ["false", "off", "0", "no", ""])
def test_consent_false_values(value) -> None:
    submission = build_submission({"text": "t", "reporter_id": "e", "consent": value})
    assert submission.customer is None


@pytest.mark.parametrize(
    ("fields", "bad", "code"),
    [
        ({"reporter_id": "e"}, "text", "required"),
        ({"text": "   ", "reporter_id": "e"}, "text", "required"),
        ({"text": "t"}, "reporter_id", "invalid"),
        ({"text": "t", "reporter_id": "e", "customer_email": "nope"}, "customer_email", "email"),
        ({"text": "t", "reporter_email": "nope"}, "reporter_email", "email"),
        ({"text": "t", "reporter_id": "e", "consent": "maybe"}, "consent", "choice"),
        ({"text": "t", "reporter_id": "e", "hint": "praise"}, "hint", "choice"),
        ({"text": "t", "reporter_id": "e", "customer_phone": "1" * 41}, "customer_phone", None),
        ({"text": "t", "reporter_id": "e", "callback_window": "x" * 201}, "callback_window", None),
        ({"text": "t", "reporter_id": "e", "priority": "high"}, "priority", "unknown"),
        ({"text": "t", "reporter_id": "e", "reporter": {"employee_id": "e"}}, "reporter", None),
    ],
)
def test_invalid_fields_are_named(fields, bad, code) -> None:
    with pytest.raises(FormInvalid) as refused:
        build_submission(fields)
    assert bad in refused.value.fields
    if code:
        assert code in [e.code for e in refused.value.errors if e.field == bad]


def test_nested_and_flat_for_the_same_part_is_refused() -> None:
    with pytest.raises(FormInvalid) as refused:
        build_submission(
            {"text": "t", "reporter": {"employee_id": "e"}, "reporter_name": "Sanne"},
            allow_nested=True,
        )
    assert refused.value.fields == ["reporter"]


def test_hint_goes_to_metadata_and_not_sure_is_no_hint() -> None:
    base = {"text": "t", "reporter_id": "e"}
    assert build_submission(base | {"hint": "Opportunity"}).metadata == {"hint": "opportunity"}
    assert build_submission(base | {"hint": "not_sure"}).metadata == {}


# ------------------------------------------------------------------------- the page


def _form_inputs(page: str) -> dict[str, str]:
    return {
        name: unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page)
    }


def _get_form(client: TestClient, auth=ANNA, **params: str) -> dict[str, str]:
    response = client.get("/report", auth=auth, params=params)
    assert response.status_code == 200, response.text
    return _form_inputs(response.text)


def _report(client: TestClient, hidden: dict[str, str], auth=ANNA, **fields: str) -> httpx.Response:
    return client.post("/report", auth=auth, data={**hidden, **fields})


def test_page_in_english_by_default(client) -> None:
    response = client.get("/report", auth=ANNA)
    page = response.text
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in page
    assert "What did you hear?" in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert re.search(r"<textarea[^>]*name=\"text\"[^>]*required", page)
    assert 'value="anna" readonly' in page  # the signed-in employee, pre-filled
    assert 'href="/report?lang=nl"' in page  # the language switch
    assert {"csrf_token", "nonce", "lang"} <= set(_form_inputs(page))


@pytest.mark.parametrize(
    ("params", "headers"),
    [({"lang": "nl"}, {}), ({}, {"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"})],
)
def test_page_in_dutch(client, params, headers) -> None:
    page = client.get("/report", auth=ANNA, params=params, headers=headers).text
    assert '<html lang="nl">' in page
    assert "Wat heb je gehoord?" in page
    assert "De klant vindt het goed om benaderd te worden" in page
    assert 'href="/report?lang=en"' in page


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_page_has_no_script_and_a_strict_policy(client, lang) -> None:
    response = client.get("/report", auth=ANNA, params={"lang": lang})
    page = response.text.lower()
    assert "<script" not in page
    assert "javascript:" not in page
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert response.headers["cache-control"] == "no-store"


def test_page_auth(publisher) -> None:
    with _client_with(publisher) as client:
        assert client.get("/report", auth=ANNA).status_code == 200
        refused = client.get("/report", auth=("anna", "wrong"))
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Basic ")
        assert "Sign-in needed" in refused.text
        assert client.get("/report").status_code == 401
    with _client_with(
        publisher, report_users=[], report_trusted_user_header="X-Forwarded-Email"
    ) as client:
        page = client.get("/report", headers={"X-Forwarded-Email": "sanne@example.nl"})
        assert page.status_code == 200
        assert 'value="sanne@example.nl" readonly' in page.text
        refused = client.get("/report")
        assert refused.status_code == 401
        assert "www-authenticate" not in refused.headers
    with _client_with(publisher, report_users=[]) as client:
        for response in (client.get("/report"), client.post("/report", data={"text": "x"})):
            assert response.status_code == 404
            assert "Report page not configured" in response.text
    assert publisher.published == []


@pytest.mark.parametrize("path", ["/report", "/report/status/01M8FJ3F0PZBZBG3ZERAJ0KJEN"])
def test_guessing_passwords_pauses_sign_in_for_that_client(publisher, path) -> None:
    with _client_with(publisher, report_sign_in_max_failures=3) as client:
        for _ in range(3):
            assert client.get(path, auth=("anna", "guess")).status_code == 401
        paused = client.get(path, auth=ANNA)  # even the right password, while paused
        assert paused.status_code == 429
        assert 0 < int(paused.headers["retry-after"]) <= 900
        assert "Too many sign-in attempts" in paused.text
        assert paused.headers["cache-control"] == "no-store"
        assert client.get(path).status_code == 401  # no credentials: just the challenge
        metrics = client.get("/metrics").text
        assert 'antenna_ingest_sign_in_refusals_total{reason="throttled"}' in metrics


def test_a_right_password_before_the_limit_resets_the_count(publisher) -> None:
    with _client_with(publisher, report_sign_in_max_failures=3) as client:
        for _ in range(5):
            assert client.get("/report", auth=("anna", "guess")).status_code == 401
            assert client.get("/report", auth=("anna", "guess")).status_code == 401
            assert client.get("/report", auth=ANNA).status_code == 200


def test_sso_header_sign_in_is_never_paused(publisher) -> None:
    with _client_with(
        publisher, report_trusted_user_header="X-Forwarded-Email", report_sign_in_max_failures=1
    ) as client:
        assert client.get("/report", auth=("anna", "guess")).status_code == 401
        assert client.get("/report", auth=ANNA).status_code == 429
        sso = client.get("/report", headers={"X-Forwarded-Email": "sanne@example.nl"})
        assert sso.status_code == 200


def test_report_is_accepted_and_shows_the_id(client, publisher) -> None:
    hidden = _get_form(client)
    response = _report(
        client,
        hidden,
        text="Haar pinpas werd twee keer geweigerd.",
        hint="complaint",
        customer_name="Jan de Vries",
        customer_email="jan@example.nl",
        customer_phone="+31 6 12345678",
        consent="yes",
        callback_window="morgenochtend",
        reporter_department="Retail",
    )
    assert response.status_code == 200, response.text
    [signal] = publisher.published
    assert f'<code id="signal-id">{signal.signal_id}</code>' in response.text
    assert f'href="/report/status/{signal.signal_id}"' in response.text
    assert 'href="/report?lang=en"' in response.text  # report another
    assert signal.text == "Haar pinpas werd twee keer geweigerd."
    assert signal.channel is Channel.form
    assert signal.source == "report-page"
    assert signal.idempotency_key == hidden["nonce"]
    assert signal.metadata == {"hint": "complaint"}
    assert signal.reporter.employee_id == "anna"
    assert signal.reporter.department == "Retail"
    assert signal.customer is not None
    assert (signal.customer.name, signal.customer.email) == ("Jan de Vries", "jan@example.nl")
    assert signal.customer.phone == "+31 6 12345678"
    assert signal.customer.consent_to_contact is True
    assert signal.callback_window is not None and signal.callback_window.text == "morgenochtend"


def test_a_double_submitted_form_is_one_signal(client, publisher) -> None:
    hidden = _get_form(client)
    first = _report(client, hidden, text="Wil graag een offerte.", hint="opportunity")
    second = _report(client, hidden, text="Wil graag een offerte.", hint="opportunity")
    assert first.status_code == second.status_code == 200
    [signal] = publisher.published
    assert signal.signal_id in first.text and signal.signal_id in second.text


def test_a_resent_form_with_other_content_gets_a_fresh_form(client, publisher) -> None:
    hidden = _get_form(client)
    assert _report(client, hidden, text="Eerste versie").status_code == 200
    response = _report(client, hidden, text="Tweede versie")
    assert response.status_code == 409
    assert "already sent with other content" in response.text
    assert "Tweede versie" in response.text
    fresh = _form_inputs(response.text)
    assert fresh["nonce"] != hidden["nonce"]
    assert _report(client, fresh, text="Tweede versie").status_code == 200
    assert [s.text for s in publisher.published] == ["Eerste versie", "Tweede versie"]


def test_reporter_comes_from_sign_in_not_from_the_form(client, publisher) -> None:
    hidden = _get_form(client)
    response = _report(client, hidden, text="t", reporter_id="someone-else", reporter_email="x@y.z")
    assert response.status_code == 200
    [signal] = publisher.published
    assert signal.reporter.employee_id == "anna"
    assert signal.reporter.email is None


def test_trusted_header_email_becomes_the_reporter_email(publisher) -> None:
    headers = {"X-Forwarded-Email": "sanne@example.nl"}
    with _client_with(
        publisher, report_users=[], report_trusted_user_header="X-Forwarded-Email"
    ) as client:
        hidden = _form_inputs(client.get("/report", headers=headers).text)
        response = client.post("/report", headers=headers, data={**hidden, "text": "t"})
        assert response.status_code == 200
    [signal] = publisher.published
    assert signal.reporter.email == "sanne@example.nl"


@pytest.mark.parametrize("case", ["missing", "tampered", "other-user", "other-nonce"])
def test_csrf_failure_is_403(client, publisher, case) -> None:
    hidden = _get_form(client)
    auth = ANNA
    if case == "missing":
        del hidden["csrf_token"]
    elif case == "tampered":
        hidden["csrf_token"] = hidden["csrf_token"][:-2] + "xx"
    elif case == "other-user":
        auth = BEN  # anna's token, posted by ben
    else:
        hidden["nonce"] = "another-nonce"
    response = _report(client, hidden, auth=auth, text="Iets")
    assert response.status_code == 403
    assert "This form has expired" in response.text
    assert 'href="/report?lang=en"' in response.text
    assert publisher.published == []


def test_expired_form_is_403(publisher) -> None:
    clock = Clock()
    with _client_with(publisher) as client:
        client.app.state.report_csrf_signer = CsrfSigner(SECRET, clock=clock)
        hidden = _get_form(client)
        clock.now += 2 * 3600 + 1
        assert _report(client, hidden, text="Iets").status_code == 403
    assert publisher.published == []


def test_validation_error_keeps_the_values(client, publisher) -> None:
    hidden = _get_form(client, lang="nl")
    response = _report(
        client,
        hidden,
        text="<script>alert('x')</script> Klant wil teruggebeld worden",
        customer_name="Jan & Zn.",
        customer_email="jan-at-example",
        consent="yes",
        callback_window="morgen",
        hint="opportunity",
    )
    assert response.status_code == 422
    page = response.text
    assert '<html lang="nl">' in page
    assert "Dit e-mailadres lijkt niet te kloppen." in page
    assert 'aria-invalid="true" aria-describedby="customer_email-error"' in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Klant wil" in page
    assert "<script" not in page
    assert 'value="Jan &amp; Zn."' in page
    assert 'value="jan-at-example"' in page
    assert 'value="morgen"' in page
    assert 'name="consent" value="yes" checked' in page
    assert 'value="opportunity" checked' in page
    assert publisher.published == []


def test_missing_text_is_422_with_a_clear_message(client, publisher) -> None:
    response = _report(client, _get_form(client), text="  ", customer_name="Jan")
    assert response.status_code == 422
    assert "Please describe what you heard." in response.text
    assert 'value="Jan"' in response.text
    assert publisher.published == []


def test_broker_down_shows_not_saved_and_keeps_the_text(client, publisher) -> None:
    hidden = _get_form(client)
    publisher.unavailable = True
    response = _report(client, hidden, text="Haar pinpas is geblokkeerd.")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert int(response.headers["retry-after"]) > 0
    assert "Not saved, please try again" in response.text
    assert "Haar pinpas is geblokkeerd." in response.text
    retry = _form_inputs(response.text)
    assert retry["nonce"] == hidden["nonce"]  # the retry is the same submission
    publisher.unavailable = False
    assert _report(client, retry, text="Haar pinpas is geblokkeerd.").status_code == 200
    [signal] = publisher.published
    assert signal.idempotency_key == hidden["nonce"]


def test_report_page_refuses_other_body_types(client, publisher) -> None:
    response = client.post("/report", auth=ANNA, json={"text": "x"})
    assert response.status_code == 415
    assert "<script" not in response.text
    assert publisher.published == []


def test_render_form_escapes_everything() -> None:
    page = render_form(
        language="en",
        user='"><b>anna',
        csrf_token='"x',
        nonce="<n>",
        values={"customer_name": '"><i>'},
    )
    assert "<b>anna" not in page and "<i>" not in page and '"x"' not in page


# ------------------------------------------------------------- POST /v1/forms/{id}


def _post_form(client: TestClient, form_id: str = "contact-2025", key: str = KEY, **kwargs):
    headers = {"X-API-Key": key, **kwargs.pop("headers", {})}
    return client.post(f"/v1/forms/{form_id}", headers=headers, **kwargs)


def _problem(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_form_post_urlencoded(client, publisher) -> None:
    response = _post_form(
        client,
        data={
            "text": "Klant wil een hypotheekgesprek",
            "subject": "Hypotheek",
            "hint": "opportunity",
            "customer_name": "Jan",
            "customer_phone": "+31 6 1",
            "consent": "on",
            "callback_window": "na 17:00",
            "reporter_id": "e-42",
            "reporter_name": "Sanne",
            "reporter_email": "sanne@example.nl",
            "reporter_department": "Hypotheken",
            "language": "nl",
        },
    )
    assert response.status_code == 202, response.text
    [signal] = publisher.published
    assert response.json() == {"signal_id": signal.signal_id}
    assert signal.source == f"form:contact-2025:{signal.metadata['client']}"
    assert signal.channel is Channel.form
    assert signal.metadata["form_id"] == "contact-2025"
    assert signal.metadata["hint"] == "opportunity"
    assert signal.metadata["client"].startswith("api-key-")
    assert KEY not in signal.model_dump_json()
    assert signal.subject == "Hypotheek"
    assert signal.language == "nl"
    assert signal.reporter.name == "Sanne"
    assert signal.customer is not None and signal.customer.consent_to_contact
    assert signal.callback_window is not None and signal.callback_window.text == "na 17:00"


def test_form_post_multipart_keeps_attachment_metadata_only(client, publisher) -> None:
    marker = b"SECRET-ATTACHMENT-BYTES-4711"
    response = _post_form(
        client,
        data={"text": "Zie bijlage", "reporter_id": "e-1"},
        files={"attachment": ("brief.pdf", marker * 10, "application/pdf")},
    )
    assert response.status_code == 202, response.text
    [signal] = publisher.published
    assert [a.model_dump() for a in signal.attachments] == [
        {"filename": "brief.pdf", "content_type": "application/pdf", "size": len(marker) * 10}
    ]
    assert marker.decode() not in signal.model_dump_json()


def test_form_post_json_flat_and_nested(client, publisher) -> None:
    flat = _post_form(client, json={"text": "t", "reporter_id": "e-1", "consent": "yes"})
    nested = _post_form(
        client,
        json={"text": "t", "reporter": {"employee_id": "e-1"}, "customer": {"name": "Jan"}},
    )
    assert (flat.status_code, nested.status_code) == (202, 202)
    assert publisher.published[1].customer is not None
    assert publisher.published[1].customer.name == "Jan"


def test_form_post_attachment_over_the_limit_is_413(client, publisher) -> None:
    response = _post_form(
        client,
        data={"text": "t", "reporter_id": "e-1"},
        files={"scan": ("scan.png", b"x" * (ATTACHMENT_LIMIT + 1), "image/png")},
    )
    assert response.status_code == 413
    body = _problem(response)
    assert str(ATTACHMENT_LIMIT) in body["detail"]
    assert body["errors"][0]["field"] == "scan"
    assert publisher.published == []


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"text=hi", "text/plain"), (b"<text>hi</text>", "application/xml"), (b"text=hi", None)],
)
def test_form_post_other_types_are_415(client, publisher, content, content_type) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = _post_form(client, content=content, headers=headers)
    assert response.status_code == 415
    _problem(response)
    assert publisher.published == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"data": {"text": "t", "reporter_id": "e", "customer_email": "x"}}, "customer_email"),
        ({"data": {"reporter_id": "e"}}, "text"),
        ({"data": {"text": "t"}}, "reporter_id"),
        ({"data": {"text": "t", "reporter_id": "e", "colour": "blue"}}, "colour"),
        ({"json": {"text": "t", "reporter": {"name": "Anon"}}}, "reporter"),
        ({"json": {"text": "t", "reporter": {"employee_id": "e"}, "channel": "chat"}}, "channel"),
        ({"json": ["not", "an", "object"]}, "body"),
        ({"content": b'{"text": ', "headers": {"Content-Type": "application/json"}}, "body"),
    ],
)
def test_form_post_invalid_field_is_422_and_named(client, publisher, kwargs, field) -> None:
    response = _post_form(client, **kwargs)
    assert response.status_code == 422
    body = _problem(response)
    assert field in body["detail"]
    assert field in [e["field"] for e in body["errors"]]
    assert publisher.published == []


@pytest.mark.parametrize("form_id", ["has.dot", "x" * 65, "spa ce", "é"])
def test_form_id_is_validated(client, publisher, form_id) -> None:
    response = _post_form(client, form_id, data={"text": "t", "reporter_id": "e"})
    assert response.status_code == 422
    assert _problem(response)["errors"][0]["field"] == "form_id"
    assert publisher.published == []


def test_form_post_needs_the_api_key(client, publisher) -> None:
    response = _post_form(client, key="wrong-key-0000000000000", data={"text": "t"})
    assert response.status_code == 401
    assert publisher.published == []


def test_form_post_honours_idempotency_key_across_multipart_boundaries(client, publisher) -> None:
    def send() -> httpx.Response:  # httpx picks a new random boundary for every request
        return _post_form(
            client,
            headers={"Idempotency-Key": "typeform-123"},
            data={"text": "t", "reporter_id": "e"},
            files={"attachment": ("a.txt", b"abc", "text/plain")},
        )

    first, second = send(), send()
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json() == second.json()
    [signal] = publisher.published
    assert signal.idempotency_key == "typeform-123"
    other = _post_form(
        client, headers={"Idempotency-Key": "typeform-123"}, data={"text": "x", "reporter_id": "e"}
    )
    assert other.status_code == 422
    assert "Idempotency-Key" in _problem(other)["title"]


def test_form_post_keys_are_scoped_by_client_not_only_by_form(publisher) -> None:
    """Two form tools, each with its own API key, both post form "contact" with key "1"."""
    other_key = "second-form-tool-key-0123456789"
    with _client_with(publisher, api_keys=[KEY, other_key]) as client:
        first = _post_form(
            client,
            form_id="contact",
            headers={"Idempotency-Key": "1"},
            data={"text": "a", "reporter_id": "e"},
        )
        second = _post_form(
            client,
            form_id="contact",
            key=other_key,
            headers={"Idempotency-Key": "1"},
            data={"text": "b", "reporter_id": "f"},
        )
    assert (first.status_code, second.status_code) == (202, 202), second.text
    assert first.json() != second.json()
    assert [s.text for s in publisher.published] == ["a", "b"]
    assert len({s.source for s in publisher.published}) == 2


def test_form_post_broker_down_is_503(client, publisher) -> None:
    publisher.unavailable = True
    response = _post_form(client, data={"text": "t", "reporter_id": "e"})
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert _problem(response)["title"] == "Broker unavailable"
