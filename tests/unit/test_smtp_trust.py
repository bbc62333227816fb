"""The SMTP door's decisions, pure: relay networks, AUTH credentials, the relay's
Authentication-Results, the per-peer session count, and the settings that refuse to start."""

from __future__ import annotations

from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.ingest.email.trust import (
    PeerSessions,
    check_credentials,
    from_domain,
    in_networks,
    parse_networks,
    vouched_for,
)
from services.ingest.settings import IngestSettings

KEY = "smtp-trust-test-key-0123456789"
RELAY = "mx.bank.example"


def _settings(**values: Any) -> IngestSettings:
    return IngestSettings.model_validate({"api_keys": [KEY], **values})


def test_the_default_relay_network_is_loopback_only() -> None:
    networks = parse_networks(_settings().smtp_relay_networks)
    for peer in ("127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"):
        assert in_networks(peer, networks)
    for peer in ("10.0.0.5", "192.0.2.1", "::ffff:192.0.2.1", "2001:db8::1", "", None, "x"):
        assert not in_networks(peer, networks)


def test_configured_networks_and_a_typo_refused_at_start_up() -> None:
    networks = parse_networks(
        _settings(smtp_relay_networks="10.1.2.0/24, 2001:db8::/32").smtp_relay_networks
    )
    assert in_networks("10.1.2.9", networks) and in_networks("2001:db8::25", networks)
    assert not in_networks("127.0.0.1", networks)
    with pytest.raises(ValidationError, match="not an IP network"):
        _settings(smtp_relay_networks="10.1.2.0/33")


def test_smtp_users_need_real_passwords_and_tls(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    with pytest.raises(ValidationError, match="placeholder"):
        _settings(smtp_users="relay:changeme", smtp_tls_cert=cert, smtp_tls_key=key)
    with pytest.raises(ValidationError, match="at least 16"):
        _settings(smtp_users="relay:short", smtp_tls_cert=cert, smtp_tls_key=key)
    with pytest.raises(ValidationError, match="only over STARTTLS"):
        _settings(smtp_users="relay:a-real-password-0123456")
    with pytest.raises(ValidationError, match="both"):
        _settings(smtp_tls_cert=cert)
    ok = _settings(smtp_users="relay:a-real-password-0123456", smtp_tls_cert=cert, smtp_tls_key=key)
    assert "a-real-password" not in repr(ok)


def test_credentials() -> None:
    pairs = ["relay:first-password-0123456", "backup:second:with-colon-0123"]
    assert check_credentials(pairs, b"relay", b"first-password-0123456")
    assert check_credentials(pairs, b"backup", b"second:with-colon-0123")
    assert not check_credentials(pairs, b"relay", b"second:with-colon-0123")
    assert not check_credentials(pairs, b"", b"")
    assert not check_credentials([], b"relay", b"first-password-0123456")


def _headers(*lines: str) -> Any:
    raw = "\r\n".join([*lines, "To: signals@bank.example", "", "body"]).encode()
    return BytesHeaderParser(policy=compat32).parsebytes(raw)


def ar(value: str, authserv: str = RELAY) -> str:
    return f"Authentication-Results: {authserv}; {value}"


PASS = ar("dmarc=pass (p=reject) header.from=bank.example")
FROM = "From: a@bank.example"


@pytest.mark.parametrize(
    ("lines", "vouched"),
    [
        ([PASS, "From: Sanne <sanne@bank.example>"], True),
        ([ar("spf=pass smtp.mailfrom=x@bank.example", RELAY.upper() + " 1"), FROM], True),
        ([ar("dkim=pass header.d=bank.example"), "From: a@Bank.Example"], True),
        ([ar("dmarc=fail header.from=bank.example"), PASS, FROM], False),
        ([ar("dmarc=pass header.from=bank.example", "other.example"), PASS, FROM], False),
        ([ar("dmarc=pass header.from=evil.example"), FROM], False),
        ([ar("dkim=pass header.d=bank.example.evil.example"), FROM], False),
        ([ar("dkim=pass (header.d=bank.example) header.d=evil.example"), FROM], False),
        ([ar("none"), FROM], False),
        ([FROM], False),
    ],
)
def test_only_the_topmost_header_of_the_relay_vouches(lines: list[str], vouched: bool) -> None:
    headers = _headers(*lines)
    domain = from_domain(headers)
    assert domain == "bank.example"
    assert vouched_for(headers, RELAY, domain) is vouched


def test_a_sender_header_below_the_relay_cannot_vouch() -> None:
    """The relay prepends its verdict; the sender's forged pass sits below and is not read."""
    headers = _headers(
        f"Authentication-Results: {RELAY}; spf=softfail smtp.mailfrom=bank.example",
        PASS,
        "From: ceo@bank.example",
    )
    assert not vouched_for(headers, RELAY, "bank.example")


@pytest.mark.parametrize(
    "lines",
    [[], ["From: a@bank.example, b@bank.example"], ["From: nobody"], ["From: a@x", "From: b@y"]],
)
def test_no_single_from_address_no_domain(lines: list[str]) -> None:
    assert from_domain(_headers(*lines)) is None


def test_peer_sessions_are_capped_and_freed() -> None:
    sessions = PeerSessions(cap=2)
    assert sessions.open("192.0.2.1") and sessions.open("192.0.2.1")
    assert not sessions.open("192.0.2.1")
    assert sessions.open("192.0.2.2")  # another peer is not held up
    sessions.close("192.0.2.1")
    assert sessions.count("192.0.2.1") == 1
    assert sessions.open("192.0.2.1")
    for _ in range(3):
        sessions.close("192.0.2.1")
    assert sessions.count("192.0.2.1") == 0


def test_the_image_does_not_open_smtp_to_every_network() -> None:
    """The image binds SMTP to loopback unless the operator opens it on purpose."""
    dockerfile = (Path(__file__).parents[2] / "deploy" / "Dockerfile").read_text()
    settings = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    assert not any("ANTENNA_SMTP_HOST=0.0.0.0" in line for line in settings)
