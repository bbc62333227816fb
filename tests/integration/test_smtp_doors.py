"""Who may hand mail to the SMTP listener: real smtplib against the ingest service running
as a real process on the test broker.

The relay network is 127.0.0.1/32; a client bound to 127.0.0.2 is "another peer" on the
same machine. AUTH is offered only after STARTTLS, with a certificate made here."""

from __future__ import annotations

import base64
import json
import shutil
import smtplib
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from schemas import topics
from services.common.broker import free_port
from tests.support.kafka import wait_for_records
from tests.support.services import Services, service_env

pytestmark = pytest.mark.integration

DOMAIN = "bank.example"
SIGNALS = f"signals@{DOMAIN}"
RELAY = "127.0.0.1"
OUTSIDER = "127.0.0.2"  # not in the relay networks
CROWD = "127.0.0.3"  # for the session cap
USER, PASSWORD = "mail-gateway", "gateway-password-0123456789"
AUTHSERV = "mx.bank.example"
CAP = 2


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command makes the test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", f"subjectAltName=IP:{RELAY}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def smtp_port(
    kafka: str, certificate: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    var_dir = tmp_path_factory.mktemp("smtp-doors")
    port = free_port()
    cert, key = certificate
    env = service_env(
        kafka,
        var_dir,
        {
            "ANTENNA_SMTP_PORT": str(port),
            "ANTENNA_SIGNAL_ADDRESSES": SIGNALS,
            "ANTENNA_ALLOWED_SENDER_DOMAINS": DOMAIN,
            "ANTENNA_SMTP_RELAY_NETWORKS": f"{RELAY}/32",
            "ANTENNA_SMTP_USERS": f"{USER}:{PASSWORD}",
            "ANTENNA_SMTP_TLS_CERT": str(cert),
            "ANTENNA_SMTP_TLS_KEY": str(key),
            "ANTENNA_SMTP_TRUSTED_AUTHSERV_ID": AUTHSERV,
            "ANTENNA_SMTP_MAX_SESSIONS_PER_PEER": str(CAP),
        },
    )
    ingest = Services(env, var_dir)
    ingest.start("ingest")
    yield port
    ingest.stop()
    assert PASSWORD not in ingest.log("ingest").read_text()


def _client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def _mail(sender: str, *auth_results: str) -> tuple[bytes, str]:
    """A report from ``sender``; ``auth_results`` top first, as the relay prepends them."""
    message = EmailMessage()
    for header in auth_results:
        message["Authentication-Results"] = header
    message["From"] = sender
    message["To"] = SIGNALS
    message["Subject"] = "Klant belde over haar pinpas"
    message_id = f"<{uuid.uuid4().hex}@it.{DOMAIN}>"
    message["Message-ID"] = message_id
    message.set_content("De klant belde: haar pinpas is vandaag twee keer geweigerd.\n")
    return message.as_bytes().replace(b"\n", b"\r\n"), message_id


def _pass(domain: str = DOMAIN, authserv: str = AUTHSERV) -> str:
    return (
        f"{authserv}; spf=pass smtp.mailfrom={domain}; dmarc=pass (p=reject) header.from={domain}"
    )


def _published(kafka: str, message_id: str) -> None:
    def ours(record: Any) -> bool:
        try:  # other tests leave poison on signals.raw
            return bool(json.loads(record.value)["metadata"]["message_id"] == message_id)
        except (ValueError, TypeError, KeyError):
            return False

    wait_for_records(kafka, topics.RAW, ours)


def test_a_peer_outside_the_relay_networks_cannot_report_as_an_employee(smtp_port: int) -> None:
    with smtplib.SMTP(RELAY, smtp_port, source_address=(OUTSIDER, 0), timeout=30) as smtp:
        smtp.ehlo()
        assert "auth" not in smtp.esmtp_features  # no AUTH before STARTTLS
        code, reply = smtp.mail(f"ceo@{DOMAIN}")
        assert code == 530, reply
        code, _ = smtp.docmd("AUTH", "PLAIN " + _plain(USER, PASSWORD))
        assert code == 538  # a password never crosses in clear


def _plain(user: str, password: str) -> str:
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def test_auth_over_starttls_wrong_then_right_credentials(
    kafka: str, smtp_port: int, certificate: tuple[Path, Path]
) -> None:
    raw, message_id = _mail(f"sanne@{DOMAIN}", _pass())
    with smtplib.SMTP(RELAY, smtp_port, source_address=(OUTSIDER, 0), timeout=30) as smtp:
        smtp.starttls(context=_client_tls(certificate))
        smtp.ehlo()
        assert "auth" in smtp.esmtp_features
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(USER, "not-the-password-0123456789")
        assert smtp.mail(f"sanne@{DOMAIN}")[0] == 530
        smtp.login(USER, PASSWORD)
        assert smtp.mail(f"sanne@{DOMAIN}")[0] == 250
        assert smtp.rcpt(SIGNALS)[0] == 250
        code, reply = smtp.data(raw)
    assert code == 250, reply
    _published(kafka, message_id)


def test_the_relay_is_trusted_only_when_its_own_header_vouches_for_the_from_domain(
    kafka: str, smtp_port: int
) -> None:
    forged = _pass()  # written by the sender, so below the relay's own header
    failed = f"{AUTHSERV}; spf=fail smtp.mailfrom={DOMAIN}; dmarc=fail header.from={DOMAIN}"
    cases = [
        ((), 550),  # the relay said nothing
        ((failed, forged), 550),
        ((_pass(authserv="mx.elsewhere.example"),), 550),  # not our relay's
        ((_pass(domain="elsewhere.example"),), 550),  # a pass, for another domain
        ((_pass(), forged), 250),
    ]  # fmt: skip
    for headers, expected in cases:
        raw, message_id = _mail(f"ceo@{DOMAIN}", *headers)
        with smtplib.SMTP(RELAY, smtp_port, source_address=(RELAY, 0), timeout=30) as smtp:
            smtp.ehlo()
            assert smtp.mail(f"ceo@{DOMAIN}")[0] == 250
            assert smtp.rcpt(SIGNALS)[0] == 250
            code, reply = smtp.data(raw)
        assert code == expected, (headers, reply)
    _published(kafka, message_id)


def test_sessions_per_peer_are_capped(smtp_port: int) -> None:
    held = [
        smtplib.SMTP(RELAY, smtp_port, source_address=(CROWD, 0), timeout=30) for _ in range(CAP)
    ]
    try:
        for smtp in held:
            assert smtp.noop()[0] == 250
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtplib.SMTP(RELAY, smtp_port, source_address=(CROWD, 0), timeout=30)
        assert refused.value.smtp_code == 421
        # Another peer is not held up by this one.
        with smtplib.SMTP(RELAY, smtp_port, source_address=(RELAY, 0), timeout=30) as other:
            assert other.noop()[0] == 250
    finally:
        for smtp in held:
            smtp.quit()
    # Closed sessions free their places (the server may see the close a moment later).
    deadline = time.monotonic() + 10
    while True:
        try:
            with smtplib.SMTP(RELAY, smtp_port, source_address=(CROWD, 0), timeout=30) as smtp:
                assert smtp.noop()[0] == 250
            break
        except smtplib.SMTPConnectError as exc:
            assert exc.smtp_code == 421 and time.monotonic() < deadline, exc
