"""POST /v1/email/inbound through FastAPI's TestClient with a fake publisher, and the
same path through the SMTP listener that ``create_app(..., smtp=True)`` runs in its
lifespan (real smtplib conversations on loopback, still no broker)."""

from __future__ import annotations

import smtplib
import warnings
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from httpx import Response
from ulid import ULID

from schemas import Channel, Signal
from services.common.broker import free_port
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from tests.support.fakes import FakePublisher

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's TestClient prefers httpx2; not our concern
    from fastapi.testclient import TestClient

KEY = "test-api-key-0123456789"
CORPUS = Path(__file__).parents[1] / "fixtures" / "emails"
MAX_EMAIL = 60_000
PROBLEM = "application/problem+json"
RFC822 = {"Authorization": f"Bearer {KEY}", "Content-Type": "message/rfc822"}


def _settings(**overrides: object) -> IngestSettings:
    values: dict[str, object] = {
        "api_keys": [KEY],
        "max_email_bytes": MAX_EMAIL,
        "signal_addresses": ["signals@antenna.example.com", "signalen@antenna.example.com"],
        "allowed_sender_domains": ["antenna.example.com", "bank.example.nl"],
        "publish_timeout_s": 2,
    }
    values.update(overrides)
    return IngestSettings.model_validate(values)


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def client(publisher: FakePublisher) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(), publisher=publisher)) as test_client:
        yield test_client


def _corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def _mail(
    body: str = "My neighbour's card was declined twice today at the supermarket.",
    *,
    sender: str = "Sanne de Vries <sanne@bank.example.nl>",
    message_id: str = "<route-1@bank.example.nl>",
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "signals@antenna.example.com"
    msg["Subject"] = "Fwd: Card declined"
    msg["Message-ID"] = message_id
    msg.set_content(body)
    return bytes(msg)


def _post(client: TestClient, raw: bytes, headers: dict[str, str] | None = None) -> Response:
    response: Response = client.post("/v1/email/inbound", content=raw, headers=headers or RFC822)
    return response


def _problem(response: Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    return body


# --- the HTTP door ----------------------------------------------------------------------


def test_a_forwarded_mail_becomes_one_signal(client: TestClient, publisher: FakePublisher) -> None:
    response = _post(client, _corpus("01_outlook_fw_en.eml"))
    assert response.status_code == 202, response.text
    signal_id = response.json()["signal_id"]
    assert str(ULID.from_str(signal_id)) == signal_id
    [signal] = publisher.published
    assert signal.signal_id == signal_id
    assert signal.channel is Channel.email
    assert signal.source.startswith("api-key-")
    assert signal.idempotency_key == "<000a01dd4b6c$7e2f1a30$7a8d4e90$@antenna.example.com>"
    assert signal.reporter.email == "peter.devries@antenna.example.com"
    assert signal.customer is not None and signal.customer.email == "sarah.miller@example.com"
    assert signal.subject == "Direct debit taken twice this month"
    assert "Could you please refund the second collection?" in signal.text
    assert "This e-mail and any attachments are confidential" not in signal.text
    assert signal.metadata["message_id"] == signal.idempotency_key


def test_attachments_travel_as_metadata_only(client: TestClient, publisher: FakePublisher) -> None:
    response = _post(client, _corpus("11_outlook_fw_pdf_docx_logo_nl.eml"))
    assert response.status_code == 202
    [signal] = publisher.published
    assert [(a.filename, a.size) for a in signal.attachments] == [
        ("image001.png", 151),
        ("Offerte_2026-114.pdf", 822),
        ("Conceptcontract warmtepomp v2.docx", 1039),
    ]
    assert "JVBERi0" not in signal.model_dump_json()  # no attachment body on the topic


@pytest.mark.parametrize(
    "content_type", ["message/rfc822", "application/octet-stream", "text/plain; charset=utf-8"]
)
def test_accepted_media_types(
    client: TestClient, publisher: FakePublisher, content_type: str
) -> None:
    headers = {**RFC822, "Content-Type": content_type}
    assert _post(client, _mail(), headers).status_code == 202
    assert len(publisher.published) == 1


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data", None])
def test_other_media_types_are_415(
    client: TestClient, publisher: FakePublisher, content_type: str | None
) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    if content_type:
        headers["Content-Type"] = content_type
    response = _post(client, _mail(), headers)
    assert response.status_code == 415
    _problem(response)
    assert publisher.published == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "message/rfc822"},
        {"Content-Type": "message/rfc822", "Authorization": "Bearer not-the-right-key-0000"},
    ],
)
def test_the_api_key_is_required(
    client: TestClient, publisher: FakePublisher, headers: dict[str, str]
) -> None:
    response = _post(client, _mail(), headers)
    assert response.status_code == 401
    assert publisher.published == []


def test_x_api_key_works_too(client: TestClient, publisher: FakePublisher) -> None:
    headers = {"X-API-Key": KEY, "Content-Type": "message/rfc822"}
    assert _post(client, _mail(), headers).status_code == 202


def test_a_message_over_max_email_bytes_is_413(
    client: TestClient, publisher: FakePublisher
) -> None:
    response = _post(client, _mail("x" * MAX_EMAIL))
    assert response.status_code == 413
    problem = _problem(response)
    assert str(MAX_EMAIL) in f"{problem['title']} {problem.get('detail', '')}"
    assert publisher.published == []


def test_a_chunked_message_over_max_email_bytes_is_413(
    client: TestClient, publisher: FakePublisher
) -> None:
    raw = _mail("x" * MAX_EMAIL)
    chunks = (raw[i : i + 8192] for i in range(0, len(raw), 8192))
    response = client.post("/v1/email/inbound", content=chunks, headers=RFC822)
    assert response.status_code == 413
    assert publisher.published == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"Subject: no sender\r\n\r\nHello", "no From header"),
        (b"\x00\xff garbage", "no header section"),
        (b"From: a@bank.example.nl\r\nSubject: x\r\n\r\n", "no text"),
    ],
)
def test_malformed_mail_is_422_with_the_reason(
    client: TestClient, publisher: FakePublisher, raw: bytes, reason: str
) -> None:
    response = _post(client, raw)
    assert response.status_code == 422
    body = _problem(response)
    assert body["title"] == "Malformed e-mail"
    assert reason in body["detail"]
    assert publisher.published == []


@pytest.mark.parametrize(
    "name", ["15_out_of_office_nl.eml", "16_newsletter_en.eml", "17_bounce_dsn_en.eml"]
)
def test_auto_generated_mail_is_200_and_not_published(
    client: TestClient, publisher: FakePublisher, name: str
) -> None:
    # The newsletter's domain is not allowed either: machines are dropped before that check.
    response = _post(client, _corpus(name))
    assert response.status_code == 200
    body = response.json()
    assert body["published"] is False
    assert body["reason"].startswith("auto-generated mail")
    assert publisher.published == []


def test_a_sender_domain_not_allowed_is_403(client: TestClient, publisher: FakePublisher) -> None:
    response = _post(client, _mail(sender="Someone <someone@elsewhere.example.org>"))
    assert response.status_code == 403
    _problem(response)
    assert publisher.published == []


def test_the_message_id_is_the_idempotency_key(
    client: TestClient, publisher: FakePublisher
) -> None:
    first = _post(client, _mail())
    again = _post(client, _mail())
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert len(publisher.published) == 1
    other = _post(client, _mail(message_id="<route-2@bank.example.nl>"))
    assert other.json()["signal_id"] != first.json()["signal_id"]
    assert len(publisher.published) == 2


def test_a_message_id_reused_for_another_message_is_422(
    client: TestClient, publisher: FakePublisher
) -> None:
    assert _post(client, _mail()).status_code == 202
    response = _post(client, _mail("Something else entirely: she wants a mortgage offer."))
    assert response.status_code == 422
    assert "Message-ID" in _problem(response)["title"]
    assert len(publisher.published) == 1


def test_broker_down_is_503_and_a_retry_publishes(
    client: TestClient, publisher: FakePublisher
) -> None:
    publisher.unavailable = True
    response = _post(client, _mail())
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert publisher.published == []
    publisher.unavailable = False
    assert _post(client, _mail()).status_code == 202
    assert len(publisher.published) == 1


# --- the SMTP door, in the same app --------------------------------------------------------


class ExplodingPublisher(FakePublisher):
    """Fails with personal data in the exception message (never in a source line)."""

    error = "jan@example.org said something"

    async def publish(self, signal: Signal) -> None:
        raise RuntimeError(self.error)


@pytest.fixture
def smtp_port() -> int:
    return free_port()


def _smtp_app(publisher: FakePublisher, port: int) -> TestClient:
    settings = _settings(smtp_port=port, max_email_bytes=MAX_EMAIL)
    return TestClient(create_app(settings, publisher=publisher, smtp=True))


def _crlf(raw: bytes) -> bytes:
    """SMTP lines end in CRLF; smtplib leaves bytes as they are."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _send(port: int, raw: bytes, sender: str, *recipients: str) -> tuple[int, bytes]:
    raw = _crlf(raw)
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo()
        code, reply = smtp.mail(sender)
        assert code == 250, reply
        for rcpt in recipients:
            code, reply = smtp.rcpt(rcpt)
            assert code == 250, reply
        return smtp.data(raw)


def test_unit_apps_do_not_listen_for_smtp(publisher: FakePublisher, smtp_port: int) -> None:
    app = create_app(_settings(smtp_port=smtp_port), publisher=publisher)
    with TestClient(app), pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", smtp_port, timeout=2)


def test_smtp_in_the_app_publishes_one_signal_for_two_recipients(
    publisher: FakePublisher, smtp_port: int
) -> None:
    with _smtp_app(publisher, smtp_port):
        code, reply = _send(
            smtp_port,
            _corpus("05_iphone_fwd_nl.eml"),
            "bas.vermeulen@bank.example.nl",
            "signals@antenna.example.com",
            "Signalen@Antenna.Example.com",
        )
        assert code == 250, reply
        [signal] = publisher.published
        assert signal.signal_id.encode() in reply
        assert signal.source == "smtp"
        assert signal.customer is not None and signal.customer.name == "Sanne de Wit"
        code, again = _send(
            smtp_port,
            _corpus("05_iphone_fwd_nl.eml"),
            "bas.vermeulen@bank.example.nl",
            "signals@antenna.example.com",
        )
        assert code == 250 and signal.signal_id.encode() in again
        assert len(publisher.published) == 1
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
            assert smtp.ehlo()[0] == 250
            assert smtp.has_extn("size")
            assert smtp.esmtp_features["size"] == str(MAX_EMAIL)


def test_smtp_refusals(publisher: FakePublisher, smtp_port: int) -> None:
    with _smtp_app(publisher, smtp_port), smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
        smtp.ehlo()
        code, reply = smtp.mail("someone@elsewhere.example.org")
        assert (code, reply) == (550, b"5.7.1 sender domain not allowed")
        assert smtp.mail("sanne@bank.example.nl")[0] == 250
        code, reply = smtp.rcpt("postmaster@antenna.example.com")
        assert code == 550 and b"not a signal address" in reply
        assert smtp.rcpt("signals@antenna.example.com")[0] == 250
        code, reply = smtp.data(b"Subject: no sender\r\n\r\nHello")
        assert code == 554 and reply.startswith(b"5.6.0") and b"no From header" in reply
        smtp.rset()
        # An allowed envelope with somebody else's From header is not an employee's report.
        smtp.mail("sanne@bank.example.nl")
        smtp.rcpt("signals@antenna.example.com")
        code, reply = smtp.data(_crlf(_mail(sender="x@elsewhere.example.org")))
        assert code == 550 and b"5.7.1" in reply
        smtp.mail("sanne@bank.example.nl")
        smtp.rcpt("signals@antenna.example.com")
        code, reply = smtp.data(_crlf(_mail("y" * MAX_EMAIL)))
        assert code == 552
    assert publisher.published == []


def test_smtp_drops_auto_replies_and_bounces_with_250(
    publisher: FakePublisher, smtp_port: int
) -> None:
    with _smtp_app(publisher, smtp_port):
        code, reply = _send(
            smtp_port,
            _corpus("15_out_of_office_nl.eml"),
            "hanneke.bos@bank.example.nl",
            "signals@antenna.example.com",
        )
        assert code == 250 and b"not published" in reply and b"auto-generated" in reply
        # A null sender is a machine by definition, whatever the message looks like.
        code, reply = _send(smtp_port, _mail(), "<>", "signals@antenna.example.com")
        assert code == 250 and b"not published" in reply
    assert publisher.published == []


def test_smtp_broker_down_is_451(publisher: FakePublisher, smtp_port: int) -> None:
    publisher.unavailable = True
    with _smtp_app(publisher, smtp_port):
        code, reply = _send(
            smtp_port, _mail(), "sanne@bank.example.nl", "signals@antenna.example.com"
        )
        assert code == 451 and reply.startswith(b"4.3.0")
        publisher.unavailable = False
        code, reply = _send(
            smtp_port, _mail(), "sanne@bank.example.nl", "signals@antenna.example.com"
        )
        assert code == 250
    assert len(publisher.published) == 1


def test_an_unexpected_error_is_451_logged_without_personal_data(
    smtp_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = ExplodingPublisher()
    with _smtp_app(publisher, smtp_port):
        code, reply = _send(
            smtp_port, _mail(), "sanne@bank.example.nl", "signals@antenna.example.com"
        )
        assert code == 451 and reply.startswith(b"4.3.0")
        # The listener survived.
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            assert smtp.noop()[0] == 250
    logged = "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert "RuntimeError" in logged
    for personal in ("jan@example.org", "sanne@bank.example.nl", "card was declined"):
        assert personal not in logged
