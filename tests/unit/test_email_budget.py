"""E-mail is parsed in a child process with a time budget, and under hard caps (issue #11,
part 1): over the budget SMTP answers 451 and HTTP 503 with Retry-After, nothing is
published, and the event loop serves other requests meanwhile; over a cap SMTP answers
552 and HTTP 422. Real smtplib conversations and the real FastAPI app, no broker."""

from __future__ import annotations

import smtplib
import threading
import warnings
from collections.abc import Iterator

import pytest
from httpx import Response

from services.common.broker import free_port
from services.ingest.app import create_app
from services.ingest.email import email_limits
from services.ingest.email.parse import EmailLimits
from services.ingest.settings import IngestSettings
from tests.support.fakes import FakePublisher

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's TestClient prefers httpx2; not our concern
    from fastapi.testclient import TestClient

KEY = "test-api-key-0123456789"
RFC822 = {"Authorization": f"Bearer {KEY}", "Content-Type": "message/rfc822"}
SENDER = "anna@antenna.example.com"
SIGNALS = "signals@antenna.example.com"
HEADER = (
    f"From: Anna de Vries <{SENDER}>\r\nTo: {SIGNALS}\r\nSubject: Card declined\r\n"
    "Message-ID: <budget@antenna.example.com>\r\nMIME-Version: 1.0\r\n"
)
TEXT = "The customer's card was declined twice today and she wants a call back.\r\n"
# A budget no parse of the slow mail below meets: it takes more than ten times as long.
TIGHT_BUDGET_S = 0.05


def _settings(**overrides: object) -> IngestSettings:
    values: dict[str, object] = {
        "api_keys": [KEY],
        "signal_addresses": [SIGNALS],
        "allowed_sender_domains": ["antenna.example.com"],
        "publish_timeout_s": 2,
        "smtp_port": free_port(),
    }
    values.update(overrides)
    return IngestSettings.model_validate(values)


def slow_mail() -> bytes:
    """Within every cap, but slow to read: 20 nested multiparts (the parser checks each
    line against each open boundary) around 200,000 short lines: about 0.6 s of CPU."""
    opening = "".join(
        f"Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n"
        for level in range(20)
    )
    return (
        HEADER + opening + "Content-Type: text/plain\r\n\r\n" + TEXT + "x\r\n" * 200_000
    ).encode()


def mail_with_parts(count: int) -> bytes:
    parts = "".join(f"--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n" for i in range(count))
    return (
        HEADER + "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + TEXT + parts + "--b--\r\n"
    ).encode()


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def tight(publisher: FakePublisher) -> Iterator[tuple[TestClient, IngestSettings]]:
    settings = _settings(email_parse_budget_s=TIGHT_BUDGET_S)
    with TestClient(create_app(settings, publisher=publisher, smtp=True)) as client:
        yield client, settings


def _send(port: int, raw: bytes) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo()
        assert smtp.mail(SENDER)[0] == 250
        assert smtp.rcpt(SIGNALS)[0] == 250
        return smtp.data(raw)


def test_a_mail_over_its_parse_budget_is_503_and_the_api_answers_meanwhile(
    tight: tuple[TestClient, IngestSettings], publisher: FakePublisher
) -> None:
    client, _ = tight
    finished: list[str] = []
    answers: dict[str, Response] = {}

    def post() -> None:
        answers["mail"] = client.post("/v1/email/inbound", content=slow_mail(), headers=RFC822)
        finished.append("mail")

    poster = threading.Thread(target=post)
    poster.start()
    # While the mail is read, the event loop that serves the API, the report page and the
    # SMTP listener is free: /healthz answers before the mail does.
    answers["healthz"] = client.get("/healthz")
    finished.append("healthz")
    poster.join(timeout=120)
    assert finished == ["healthz", "mail"]
    assert answers["healthz"].status_code == 200
    mail = answers["mail"]
    assert mail.status_code == 503, mail.text
    assert mail.headers["Retry-After"].isdigit()
    assert mail.json()["title"] == "E-mail not read in time"
    assert publisher.published == []  # nothing half-published


def test_a_mail_over_its_parse_budget_is_451_over_smtp(
    tight: tuple[TestClient, IngestSettings], publisher: FakePublisher
) -> None:
    _, settings = tight
    code, reply = _send(settings.smtp_port, slow_mail())
    assert code == 451, reply
    assert b"4.3.0" in reply and b"try again later" in reply
    assert publisher.published == []


def test_after_a_stopped_parse_the_next_mail_is_read(
    tight: tuple[TestClient, IngestSettings], publisher: FakePublisher
) -> None:
    client, _ = tight
    assert client.post("/v1/email/inbound", content=slow_mail(), headers=RFC822).status_code == 503
    settings = _settings()  # the default budget; the same pool of parse workers
    with TestClient(create_app(settings, publisher=publisher, smtp=True)):
        code, reply = _send(settings.smtp_port, (HEADER + "\r\n" + TEXT).encode())
    assert code == 250, reply
    [signal] = publisher.published
    assert signal.text.startswith("The customer's card was declined")


def test_a_mail_over_the_part_cap_is_refused_with_the_reason(publisher: FakePublisher) -> None:
    settings = _settings(email_max_parts=50)
    with TestClient(create_app(settings, publisher=publisher, smtp=True)) as client:
        response = client.post("/v1/email/inbound", content=mail_with_parts(60), headers=RFC822)
        assert response.status_code == 422
        assert response.json()["title"] == "E-mail over a limit"
        assert "more than 50 MIME parts" in response.json()["detail"]
        code, reply = _send(settings.smtp_port, mail_with_parts(60))
        assert code == 552, reply
        assert b"5.3.4" in reply and b"more than 50 MIME parts" in reply
        assert publisher.published == []
        assert (
            client.post(
                "/v1/email/inbound", content=mail_with_parts(40), headers=RFC822
            ).status_code
            == 202
        )


def test_the_caps_come_from_the_settings_and_default_to_the_parsers_own() -> None:
    assert email_limits(_settings()) == EmailLimits()
    assert email_limits(_settings(email_max_html_chars=5_000)).max_html_chars == 5_000


def test_an_unreachable_budget_is_not_configurable() -> None:
    with pytest.raises(ValueError, match="email_parse_budget_s"):
        _settings(email_parse_budget_s=0)
    with pytest.raises(ValueError, match="email_parse_workers"):
        _settings(email_parse_workers=0)
