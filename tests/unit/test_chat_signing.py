"""Chat request signatures, computed here independently the way Slack, Teams and the
generic webhook build them, then checked by services.ingest.chat."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from services.ingest.chat import Verdict, slack, teams, webhook

NOW = 1_741_944_600

# --- Slack: v0 = hex HMAC-SHA256(signing secret, "v0:{timestamp}:{raw body}") -------------

# The worked example in Slack's "Verifying requests from Slack".
DOC_SECRET = b"8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = "1531420618"
DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

SLACK_SECRET = b"e3b98f2a6c1d4f0b9a7e5c3d1f2a4b6c"
SLACK_BODY = json.dumps(
    {
        "type": "event_callback",
        "team_id": "T0001",
        "event_id": "Ev0001",
        "event": {"type": "message", "user": "U0001", "text": "Klant is boos", "ts": "1.2"},
    }
).encode()


def slack_sign(secret: bytes, timestamp: int | str, body: bytes) -> str:
    basestring = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret, basestring, hashlib.sha256).hexdigest()


def test_slack_documented_example_verifies() -> None:
    assert slack.signature(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY) == DOC_SIGNATURE
    now = int(DOC_TIMESTAMP) + 30
    assert slack.verify(DOC_SECRET, DOC_BODY, DOC_TIMESTAMP, DOC_SIGNATURE, now) is Verdict.ok


def test_slack_documented_example_replayed_today_is_stale() -> None:
    """A captured request, genuine in every byte, sent again much later."""
    later = time.time()
    assert slack.verify(DOC_SECRET, DOC_BODY, DOC_TIMESTAMP, DOC_SIGNATURE, later) is Verdict.stale


def test_slack_good_signature() -> None:
    signature = slack_sign(SLACK_SECRET, NOW, SLACK_BODY)
    assert slack.verify(SLACK_SECRET, SLACK_BODY, str(NOW), signature, NOW + 3) is Verdict.ok


def test_slack_tampered_body() -> None:
    signature = slack_sign(SLACK_SECRET, NOW, SLACK_BODY)
    tampered = SLACK_BODY.replace(b"Klant is boos", b"Klant is blij")
    assert slack.verify(SLACK_SECRET, tampered, str(NOW), signature, NOW) is Verdict.invalid


def test_slack_body_must_be_the_raw_bytes() -> None:
    """Re-serialising the JSON (other spacing) breaks the signature: verify the raw body."""
    signature = slack_sign(SLACK_SECRET, NOW, SLACK_BODY)
    reserialised = json.dumps(json.loads(SLACK_BODY), separators=(",", ":")).encode()
    assert reserialised != SLACK_BODY
    assert slack.verify(SLACK_SECRET, reserialised, str(NOW), signature, NOW) is Verdict.invalid


def test_slack_wrong_secret() -> None:
    signature = slack_sign(b"another-signing-secret-000000000", NOW, SLACK_BODY)
    assert slack.verify(SLACK_SECRET, SLACK_BODY, str(NOW), signature, NOW) is Verdict.invalid


def test_slack_timestamp_header_is_part_of_the_signature() -> None:
    signature = slack_sign(SLACK_SECRET, NOW, SLACK_BODY)
    moved = str(NOW + 60)  # a replay with a fresh timestamp header
    assert slack.verify(SLACK_SECRET, SLACK_BODY, moved, signature, NOW + 60) is Verdict.invalid


@pytest.mark.parametrize(("age", "verdict"), [(300, Verdict.ok), (301, Verdict.stale)])
def test_slack_replay_window_is_five_minutes(age: int, verdict: Verdict) -> None:
    signature = slack_sign(SLACK_SECRET, NOW, SLACK_BODY)
    assert slack.verify(SLACK_SECRET, SLACK_BODY, str(NOW), signature, NOW + age) is verdict


def test_slack_future_timestamp_is_stale() -> None:
    future = NOW + 301
    signature = slack_sign(SLACK_SECRET, future, SLACK_BODY)
    assert slack.verify(SLACK_SECRET, SLACK_BODY, str(future), signature, NOW) is Verdict.stale


@pytest.mark.parametrize(
    ("timestamp", "signature", "verdict"),
    [
        (None, "v0=00", Verdict.missing),
        (str(NOW), None, Verdict.missing),
        ("", "v0=00", Verdict.missing),
        ("12ab", "v0=00", Verdict.invalid),
        ("-300", "v0=00", Verdict.invalid),
        ("١٧٤١٩٤٤٦٠٠", "v0=00", Verdict.invalid),  # digits, but not ASCII ones
        (str(NOW), "v0=", Verdict.invalid),
        (str(NOW), "v0=ünïcode", Verdict.invalid),
    ],
)
def test_slack_missing_or_malformed_headers(
    timestamp: str | None, signature: str | None, verdict: Verdict
) -> None:
    assert slack.verify(SLACK_SECRET, SLACK_BODY, timestamp, signature, NOW) is verdict


def test_slack_other_version_prefix_is_invalid() -> None:
    hexdigest = slack_sign(SLACK_SECRET, NOW, SLACK_BODY).removeprefix("v0=")
    for presented in (f"v1={hexdigest}", hexdigest):
        assert slack.verify(SLACK_SECRET, SLACK_BODY, str(NOW), presented, NOW) is Verdict.invalid


def test_verification_uses_the_given_clock_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 0.0)  # would make everything stale
    signature = slack_sign(SLACK_SECRET, NOW, SLACK_BODY)
    assert slack.verify(SLACK_SECRET, SLACK_BODY, str(NOW), signature, NOW) is Verdict.ok
    stamp = webhook_sign(WEBHOOK_SECRET, NOW, WEBHOOK_BODY)
    assert webhook.verify(WEBHOOK_SECRET, WEBHOOK_BODY, str(NOW), stamp, NOW) is Verdict.ok


# --- Teams: Authorization: HMAC base64(HMAC-SHA256(base64-decoded token, raw body)) ----------

TEAMS_KEY = bytes.fromhex("5f1c0e9a3b7d2468ace0f13579bdf02468ace13579bdf0246813579bdf024681")
TEAMS_TOKEN = base64.b64encode(TEAMS_KEY).decode()  # what Teams shows when you create it
TEAMS_BODY = json.dumps(
    {
        "type": "message",
        "id": "1485983408511",
        "text": "<at>Antenna</at> De klant belde over haar pinpas",
        "from": {"id": "29:1abc", "name": "Sanne", "aadObjectId": "a1b2"},
    }
).encode()


def teams_sign(token: str, body: bytes) -> str:
    key = base64.b64decode(token)
    return "HMAC " + base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def test_teams_good_signature() -> None:
    key = teams.decode_secret(TEAMS_TOKEN)
    assert key == TEAMS_KEY
    assert teams.verify(key, TEAMS_BODY, teams_sign(TEAMS_TOKEN, TEAMS_BODY)) is Verdict.ok


def test_teams_key_is_the_decoded_token_not_its_text() -> None:
    digest = hmac.new(TEAMS_TOKEN.encode(), TEAMS_BODY, hashlib.sha256).digest()
    keyed_with_text = "HMAC " + base64.b64encode(digest).decode()
    assert teams.verify(TEAMS_KEY, TEAMS_BODY, keyed_with_text) is Verdict.invalid


def test_teams_tampered_body() -> None:
    signature = teams_sign(TEAMS_TOKEN, TEAMS_BODY)
    tampered = TEAMS_BODY.replace(b"pinpas", b"hypotheek")
    assert teams.verify(TEAMS_KEY, tampered, signature) is Verdict.invalid


def test_teams_wrong_secret() -> None:
    other = base64.b64encode(bytes(32)).decode()
    assert teams.verify(TEAMS_KEY, TEAMS_BODY, teams_sign(other, TEAMS_BODY)) is Verdict.invalid


@pytest.mark.parametrize(
    ("header", "verdict"),
    [
        (None, Verdict.missing),
        ("", Verdict.missing),
        ("HMAC", Verdict.invalid),
        ("HMAC ", Verdict.invalid),
        ("Bearer " + teams_sign(TEAMS_TOKEN, TEAMS_BODY).removeprefix("HMAC "), Verdict.invalid),
        (teams_sign(TEAMS_TOKEN, TEAMS_BODY).removeprefix("HMAC "), Verdict.invalid),
    ],
)
def test_teams_missing_or_malformed_authorization(header: str | None, verdict: Verdict) -> None:
    assert teams.verify(TEAMS_KEY, TEAMS_BODY, header) is verdict


@pytest.mark.parametrize("token", ["not base64 at all!", "", "   "])
def test_teams_token_must_be_base64(token: str) -> None:
    with pytest.raises(ValueError, match="Teams security token"):
        teams.decode_secret(token)


def _activity(timestamp: datetime | None) -> teams.Activity:
    data: dict[str, object] = {"type": "message", "id": "1", "from": {"id": "29:1"}}
    if timestamp is not None:
        data["timestamp"] = timestamp.isoformat().replace("+00:00", "Z")
    return teams.parse_activity(json.dumps(data).encode())


@pytest.mark.parametrize(
    ("offset_s", "verdict"),
    [(-10, Verdict.ok), (-300, Verdict.ok), (-301, Verdict.stale), (301, Verdict.stale)],
)
def test_teams_activity_timestamp_bounds_replays(offset_s: int, verdict: Verdict) -> None:
    sent = datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=offset_s)
    assert teams.freshness(_activity(sent), now=NOW) is verdict


def test_teams_activity_without_timestamp_has_no_replay_window_and_is_refused() -> None:
    assert teams.freshness(_activity(None), now=NOW) is Verdict.missing


# --- generic webhook: exactly services.common.signing (v1, "<timestamp>.<body>") ------------

WEBHOOK_SECRET = b"chat-webhook-secret-0123456789"
WEBHOOK_BODY = b'{"text":"Klant wil gebeld worden","user":{"id":"u1"},"message_id":"m1"}'


def webhook_sign(secret: bytes, timestamp: int, body: bytes) -> str:
    return "v1=" + hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_webhook_good_signature() -> None:
    signature = webhook_sign(WEBHOOK_SECRET, NOW, WEBHOOK_BODY)
    assert webhook.verify(WEBHOOK_SECRET, WEBHOOK_BODY, str(NOW), signature, NOW) is Verdict.ok


def test_webhook_tampered_body_and_wrong_secret() -> None:
    signature = webhook_sign(WEBHOOK_SECRET, NOW, WEBHOOK_BODY)
    tampered = WEBHOOK_BODY.replace(b"u1", b"u2")
    assert webhook.verify(WEBHOOK_SECRET, tampered, str(NOW), signature, NOW) is Verdict.invalid
    other = webhook_sign(b"another-webhook-secret-000000", NOW, WEBHOOK_BODY)
    assert webhook.verify(WEBHOOK_SECRET, WEBHOOK_BODY, str(NOW), other, NOW) is Verdict.invalid


@pytest.mark.parametrize(("sent", "now"), [(NOW - 301, NOW), (NOW + 301, NOW)])
def test_webhook_stale_and_future_timestamps(sent: int, now: int) -> None:
    signature = webhook_sign(WEBHOOK_SECRET, sent, WEBHOOK_BODY)
    assert webhook.verify(WEBHOOK_SECRET, WEBHOOK_BODY, str(sent), signature, now) is Verdict.stale


@pytest.mark.parametrize(
    ("timestamp", "signature", "verdict"),
    [
        (None, "v1=00", Verdict.missing),
        (str(NOW), None, Verdict.missing),
        ("soon", "v1=00", Verdict.invalid),
        (str(NOW), "v0=00", Verdict.invalid),
    ],
)
def test_webhook_missing_or_malformed_headers(
    timestamp: str | None, signature: str | None, verdict: Verdict
) -> None:
    assert webhook.verify(WEBHOOK_SECRET, WEBHOOK_BODY, timestamp, signature, NOW) is verdict
