"""Real SMTP conversations (smtplib) with the ingest service running as a real process
on a real broker: mail to a signal address becomes exactly one Signal on signals.raw."""

from __future__ import annotations

import json
import os
import smtplib
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from schemas import topics
from services.common.broker import EmbeddedBroker, free_port
from services.common.kafka import ensure_topics
from tests.support.kafka import (
    broker_settings,
    json_field,
    json_value,
    records_until_now,
    wait_for_records,
)
from tests.support.services import Services, service_env

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).parents[1] / "fixtures" / "emails"
SIGNALS = "signals@antenna.example.com"
SIGNALEN = "signalen@antenna.example.com"
MAX_EMAIL_BYTES = 2_000_000


def _smtp_env(port: int, **extra: str) -> dict[str, str]:
    return {
        "ANTENNA_SMTP_PORT": str(port),
        "ANTENNA_SIGNAL_ADDRESSES": f"{SIGNALS},{SIGNALEN}",
        "ANTENNA_ALLOWED_SENDER_DOMAINS": "antenna.example.com,bank.example.nl",
        "ANTENNA_MAX_EMAIL_BYTES": str(MAX_EMAIL_BYTES),
        **extra,
    }


@pytest.fixture(scope="module")
def smtp_port(kafka: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    var_dir = tmp_path_factory.mktemp("email-var")
    port = free_port()
    ingest = Services(service_env(kafka, var_dir, _smtp_env(port)), var_dir)
    ingest.start("ingest")  # returns once the API answers; the SMTP port is bound before
    yield port
    ingest.stop()
    log = ingest.log("ingest")
    if log.exists():
        text = log.read_text()
        # No personal data in the log: no addresses, no text.
        for personal in ("peter.devries@", "sarah.miller@", "Could you please refund"):
            assert personal not in text


def _unique(raw: bytes, old_message_id: str) -> tuple[bytes, str]:
    """The corpus message with a Message-ID of its own: the broker outlives one test."""
    new = f"<{uuid.uuid4().hex}@it.antenna.example.com>"
    assert old_message_id.encode() in raw
    return _crlf(raw.replace(old_message_id.encode(), new.encode())), new


def _crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _corpus(name: str) -> tuple[bytes, str]:
    expected = json.loads((CORPUS / "expected.json").read_text())[name]
    return _unique((CORPUS / name).read_bytes(), expected["message_id"])


def _send(port: int, raw: bytes, sender: str, *recipients: str) -> tuple[int, bytes]:
    """MAIL, RCPT for each recipient, DATA; returns the DATA reply."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo()
        code, reply = smtp.mail(sender)
        assert code == 250, reply
        for rcpt in recipients:
            code, reply = smtp.rcpt(rcpt)
            assert code == 250, reply
        return smtp.data(raw)


def _signal_id(reply: bytes) -> str:
    return reply.decode().rsplit(" ", 1)[-1]


def _value(record: Any) -> dict[str, Any]:
    value = json_value(record)
    assert value is not None, "not a JSON object"
    return value


def _with_message_id(message_id: str) -> Callable[[Any], bool]:
    # Other tests put poison on signals.raw: decode defensively.
    return lambda record: json_field(record, "metadata", "message_id") == message_id


def _all_records(bootstrap: str, predicate: Callable[[Any], bool]) -> list[Any]:
    """Every record on signals.raw, up to the end offsets at call time, that matches."""
    return records_until_now(bootstrap, topics.RAW, predicate)


def test_a_forward_to_two_signal_addresses_is_one_signal(kafka: str, smtp_port: int) -> None:
    raw, message_id = _corpus("01_outlook_fw_en.eml")
    code, reply = _send(smtp_port, raw, "peter.devries@antenna.example.com", SIGNALS, SIGNALEN)
    assert code == 250, reply
    assert reply.startswith(b"2.0.0 Accepted as signal ")
    signal_id = _signal_id(reply)

    [record] = wait_for_records(kafka, topics.RAW, lambda r: r.key == signal_id.encode())
    signal = _value(record)
    assert signal["signal_id"] == signal_id
    assert signal["channel"] == "email"
    assert signal["source"] == "smtp"
    assert signal["idempotency_key"] == message_id
    assert signal["reporter"]["email"] == "peter.devries@antenna.example.com"
    assert signal["reporter"]["name"] == "Peter de Vries"
    assert signal["customer"]["email"] == "sarah.miller@example.com"
    assert signal["customer"]["name"] == "Sarah Miller"
    assert signal["subject"] == "Direct debit taken twice this month"
    assert "Forwarding this one from a customer I spoke to at the branch" in signal["text"]
    assert "Could you please refund the second collection?" in signal["text"]
    assert "This e-mail and any attachments are confidential" not in signal["text"]
    assert "T +31 20 555 0142" not in signal["text"]
    assert len(_all_records(kafka, _with_message_id(message_id))) == 1


def test_the_same_message_id_twice_is_one_signal(kafka: str, smtp_port: int) -> None:
    raw, message_id = _corpus("13_applemail_fwd_rfc2231_filename_nl.eml")
    first = _send(smtp_port, raw, "noel.claes@antenna.example.com", SIGNALS)
    again = _send(smtp_port, raw, "noel.claes@antenna.example.com", SIGNALEN)
    assert first[0] == again[0] == 250
    assert _signal_id(first[1]) == _signal_id(again[1])
    assert again[1].startswith(b"2.0.0 Already accepted as signal ")
    [record] = _all_records(kafka, _with_message_id(message_id))
    signal = _value(record)
    assert signal["customer"] == {
        "name": "Ilse Maes",
        "email": "ilse.maes@example.org",
        "phone": None,
        "customer_id": None,
        "consent_to_contact": False,
    }
    assert signal["attachments"] == [
        {"filename": "Offerte coördinatie café.pdf", "content_type": "application/pdf", "size": 753}
    ]


def test_a_1_mb_attachment_is_accepted_and_only_its_metadata_travels(
    kafka: str, smtp_port: int
) -> None:
    message_id = f"<{uuid.uuid4().hex}@bank.example.nl>"
    msg = EmailMessage()
    msg["From"] = "Femke de Groot <femke.degroot@bank.example.nl>"
    msg["To"] = SIGNALS
    msg["Subject"] = "Scan van de brief"
    msg["Message-ID"] = message_id
    msg.set_content("De klant stuurde deze scan van de brief die ze niet begrijpt, zie bijlage.")
    body = os.urandom(1_000_000)
    msg.add_attachment(body, maintype="application", subtype="pdf", filename="brief.pdf")
    raw = _crlf(bytes(msg))
    assert 1_000_000 < len(raw) < MAX_EMAIL_BYTES

    code, reply = _send(smtp_port, raw, "femke.degroot@bank.example.nl", SIGNALS)
    assert code == 250, reply
    [record] = wait_for_records(kafka, topics.RAW, _with_message_id(message_id))
    signal = _value(record)
    assert signal["attachments"] == [
        {"filename": "brief.pdf", "content_type": "application/pdf", "size": 1_000_000}
    ]
    assert len(record.value) < 10_000  # metadata, not the megabyte


def test_a_sender_domain_not_allowed_is_refused_with_550(smtp_port: int) -> None:
    raw, _ = _corpus("01_outlook_fw_en.eml")
    with (
        smtplib.SMTP("127.0.0.1", smtp_port, timeout=60) as smtp,
        pytest.raises(smtplib.SMTPSenderRefused) as refused,
    ):
        smtp.sendmail("someone@elsewhere.example.org", [SIGNALS], raw)
    assert refused.value.smtp_code == 550
    assert b"5.7.1 sender domain not allowed" in refused.value.smtp_error


def test_a_recipient_that_is_no_signal_address_is_refused_with_550(smtp_port: int) -> None:
    raw, _ = _corpus("01_outlook_fw_en.eml")
    with (
        smtplib.SMTP("127.0.0.1", smtp_port, timeout=60) as smtp,
        pytest.raises(smtplib.SMTPRecipientsRefused) as refused,
    ):
        smtp.sendmail("peter.devries@antenna.example.com", ["sales@antenna.example.com"], raw)
    [(code, reply)] = refused.value.recipients.values()
    assert code == 550 and b"not a signal address" in reply


def test_an_oversized_message_is_refused_with_552(smtp_port: int) -> None:
    msg = EmailMessage()
    msg["From"] = "peter.devries@antenna.example.com"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@antenna.example.com>"
    msg.set_content("Too big.")
    msg.add_attachment(
        os.urandom(MAX_EMAIL_BYTES), maintype="application", subtype="zip", filename="big.zip"
    )
    raw = _crlf(bytes(msg))
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=60) as smtp:
        smtp.ehlo()
        assert int(smtp.esmtp_features["size"]) == MAX_EMAIL_BYTES
        # smtplib declares SIZE=… in MAIL FROM: refused before a byte of data.
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail("peter.devries@antenna.example.com", [SIGNALS], raw)
        assert refused.value.smtp_code == 552
        # Without the declaration the data is counted as it arrives.
        smtp.rset()
        assert smtp.mail("peter.devries@antenna.example.com")[0] == 250
        assert smtp.rcpt(SIGNALS)[0] == 250
        code, _ = smtp.data(raw)
        assert code == 552


def test_malformed_mime_is_refused_with_554(smtp_port: int) -> None:
    raw = b"Subject: who sent this?\r\nMessage-ID: <x@y>\r\n\r\nNo From header at all.\r\n"
    code, reply = _send(smtp_port, raw, "peter.devries@antenna.example.com", SIGNALS)
    assert code == 554
    assert reply.startswith(b"5.6.0") and b"no From header" in reply


def test_an_out_of_office_reply_is_accepted_but_not_published(kafka: str, smtp_port: int) -> None:
    raw, message_id = _corpus("15_out_of_office_nl.eml")
    code, reply = _send(smtp_port, raw, "hanneke.bos@bank.example.nl", SIGNALS)
    assert code == 250
    assert b"not published" in reply and b"auto-generated" in reply
    # Publishing happens before the 250: had it been published, it would be there now.
    assert _all_records(kafka, _with_message_id(message_id)) == []


def test_a_stopped_broker_gives_451_so_the_sender_retries(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path / "broker.log")
    broker.start()
    ensure_topics(broker_settings(broker.bootstrap, topic_partitions=1))
    port = free_port()
    env = service_env(broker.bootstrap, tmp_path, _smtp_env(port, ANTENNA_PUBLISH_TIMEOUT_S="3"))
    ingest = Services(env, tmp_path)
    ingest.start("ingest")
    try:
        raw, _ = _corpus("19_outlook_fw_fw_internal_hop_en.eml")
        code, reply = _send(port, raw, "chris.adeyemi@antenna.example.com", SIGNALS)
        assert code == 250, reply
        broker.stop()

        raw, _ = _corpus("19_outlook_fw_fw_internal_hop_en.eml")
        started = time.monotonic()
        code, reply = _send(port, raw, "chris.adeyemi@antenna.example.com", SIGNALS)
        assert code == 451, reply
        assert reply.startswith(b"4.3.0")
        assert time.monotonic() - started < 20
        # The listener is still there for the retry.
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            assert smtp.noop()[0] == 250
    finally:
        ingest.stop()
        broker.stop()
