from __future__ import annotations

import hashlib
import hmac

from services.common.signing import DEFAULT_TOLERANCE_S, sign, verify

SECRET = b"s3cr3t-shared-with-the-receiver"
TS = 1_741_944_600
BODY = b'{"signal_id":"01JD6W2Q7X5N6G2M3K4P5R6S7T","text":"Klant is boos"}'


def _independent(secret: bytes, ts: int, body: bytes) -> str:
    return "v1=" + hmac.new(secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest()


def test_sign_is_hmac_sha256_over_timestamp_dot_body() -> None:
    signature = sign(SECRET, TS, BODY)
    assert signature == _independent(SECRET, TS, BODY)
    assert signature.startswith("v1=")
    assert len(signature) == 3 + 64


def test_sign_depends_on_every_input() -> None:
    base = sign(SECRET, TS, BODY)
    assert sign(SECRET, TS + 1, BODY) != base
    assert sign(SECRET, TS, BODY + b" ") != base
    assert sign(b"another-secret-value", TS, BODY) != base


def test_verify_accepts_a_fresh_valid_signature() -> None:
    assert verify(SECRET, TS, BODY, _independent(SECRET, TS, BODY), now=TS + 10) is True
    assert (
        verify(SECRET, TS, BODY, _independent(SECRET, TS, BODY), now=TS + DEFAULT_TOLERANCE_S)
        is True
    )


def test_verify_rejects_a_changed_body() -> None:
    signature = sign(SECRET, TS, BODY)
    assert verify(SECRET, TS, BODY.replace(b"boos", b"blij"), signature, now=TS) is False


def test_verify_rejects_a_wrong_secret() -> None:
    signature = sign(b"not-the-shared-secret", TS, BODY)
    assert verify(SECRET, TS, BODY, signature, now=TS) is False


def test_verify_rejects_a_changed_timestamp() -> None:
    signature = sign(SECRET, TS, BODY)
    assert verify(SECRET, TS + 1, BODY, signature, now=TS) is False


def test_verify_rejects_a_stale_or_future_timestamp() -> None:
    signature = sign(SECRET, TS, BODY)
    assert verify(SECRET, TS, BODY, signature, now=TS + DEFAULT_TOLERANCE_S + 1) is False
    assert verify(SECRET, TS, BODY, signature, now=TS - DEFAULT_TOLERANCE_S - 1) is False
    assert verify(SECRET, TS, BODY, signature, now=TS + 61, tolerance_s=60) is False


def test_verify_rejects_a_malformed_signature() -> None:
    assert verify(SECRET, TS, BODY, "v1=deadbeef", now=TS) is False
    assert verify(SECRET, TS, BODY, _independent(SECRET, TS, BODY)[3:], now=TS) is False
