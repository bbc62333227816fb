"""Chat channels (Slack, Microsoft Teams, a generic chat webhook): pure functions only.

Each platform module verifies a request's signature (the caller passes the clock), parses
the platform's payload and decides: a ``ChatReport`` (a SignalSubmission plus the
idempotency key that makes the platform's retries harmless) or ``Ignored`` (bots, edits,
empty messages). The routes in ``services.ingest.api.routes.chat`` do the I/O and hand
every report to ``services.ingest.intake.accept``, like every other channel.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from pydantic import ValidationError

from schemas import Channel, Reporter
from services.common.language import detect_language
from services.ingest.submission import SignalSubmission

REPLAY_WINDOW_S = 300
# Reporter.employee_id holds at most 100 characters; longer platform ids are hashed.
MAX_EMPLOYEE_ID = 100


class ChatPayloadError(ValueError):
    """The payload is not what the platform documents. The message names fields, never
    their values (they may hold personal data)."""


class Verdict(StrEnum):
    ok = "ok"
    missing = "missing"  # no signature or timestamp header
    invalid = "invalid"  # malformed, or the signature does not match
    stale = "stale"  # outside the replay window (too old or too far in the future)


@dataclass(frozen=True)
class ChatReport:
    submission: SignalSubmission
    idempotency_key: str


@dataclass(frozen=True)
class Ignored:
    reason: str  # a fixed word for logs and metrics, never message content


def fresh(timestamp: float, now: float, tolerance_s: int = REPLAY_WINDOW_S) -> bool:
    return abs(now - timestamp) <= tolerance_s


_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def check_timestamp_headers(
    timestamp: str | None, presented: str | None, now: float, tolerance_s: int = REPLAY_WINDOW_S
) -> Verdict:
    """What can be judged from the headers alone, before the body is read: both present,
    a numeric timestamp, inside the replay window. ``ok`` still needs ``verify_timestamped``
    over the body."""
    if not timestamp or not presented:
        return Verdict.missing
    if not _TIMESTAMP.fullmatch(timestamp):
        return Verdict.invalid
    if not fresh(int(timestamp), now, tolerance_s):
        return Verdict.stale
    return Verdict.ok


def verify_timestamped(
    expected: Callable[[str], str],
    timestamp: str | None,
    presented: str | None,
    now: float,
    tolerance_s: int = REPLAY_WINDOW_S,
) -> Verdict:
    """The checks every timestamped HMAC scheme shares (Slack v0, Antenna v1): both headers
    present, a numeric timestamp, the signature ``expected(timestamp)`` compared in constant
    time, then the replay window."""
    if not timestamp or not presented:
        return Verdict.missing
    if not _TIMESTAMP.fullmatch(timestamp):
        return Verdict.invalid
    if not hmac.compare_digest(
        expected(timestamp).encode(), presented.strip().encode("utf-8", "replace")
    ):
        return Verdict.invalid
    if not fresh(int(timestamp), now, tolerance_s):
        return Verdict.stale
    return Verdict.ok


def employee_id(platform: str, *parts: str) -> str:
    """``slack:T123:U456``; ids too long for Reporter.employee_id become a stable hash."""
    value = ":".join((platform, *parts))
    if len(value) <= MAX_EMPLOYEE_ID:
        return value
    return f"{platform}:sha256:{hashlib.sha256(value.encode()).hexdigest()[:40]}"


def build_submission(
    text: str,
    *,
    employee: str,
    name: str | None = None,
    email: str | None = None,
    metadata: dict[str, str],
) -> SignalSubmission:
    """A chat SignalSubmission; invalid input raises ChatPayloadError naming the fields."""
    try:
        return SignalSubmission(
            text=text,
            channel=Channel.chat,
            reporter=Reporter(employee_id=employee, name=name or None, email=email or None),
            metadata={k: v for k, v in metadata.items() if v},
        )
    except ValidationError as exc:
        raise ChatPayloadError(f"invalid field(s): {error_fields(exc)}") from None


def error_fields(exc: ValidationError) -> str:
    names = (".".join(str(p) for p in error["loc"]) or "body" for error in exc.errors())
    return ", ".join(dict.fromkeys(names))


def fingerprint(submission: SignalSubmission) -> bytes:
    """What the idempotency cache compares for one key: the parsed report, not the raw
    bytes, so that a platform retry with other transport details still matches."""
    return submission.model_dump_json().encode()


# --- replies to the employee, in the language of the report (nl or en) -----------------

_THANKS = {
    "en": "Thanks — signal {signal_id} recorded. We will pass it on to the right team.",
    "nl": "Bedankt — signaal {signal_id} is vastgelegd. We zetten het door naar het juiste team.",
}
# Nothing to report (an empty command or a bare mention): explain, in both languages.
_USAGE = (
    "Tell me what you heard, e.g. “{example} her bank card was declined twice today”.\n"
    "Vertel wat je hoorde, bijvoorbeeld “{example} haar pinpas is vandaag twee keer geweigerd”."
)


def reply_language(text: str) -> str:
    return detect_language(text) if text.strip() else "en"


def thanks(signal_id: str, text: str) -> str:
    return _THANKS[reply_language(text)].format(signal_id=signal_id)


def usage(example: str) -> str:
    return _USAGE.format(example=example)
