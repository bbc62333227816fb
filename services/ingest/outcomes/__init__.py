"""Vendor webhooks that say what became of a case's record: Zendesk, HubSpot and Jira.
Pure functions only: the routes (services.ingest.api.routes.outcomes) do the I/O.

Each vendor module verifies the vendor's own signature (the caller passes the clock),
and turns a verified payload into what goes on the broker: an Outcome keyed by its case
(Zendesk and Jira name the case: a ticket's external id, a request's label) or a
RecordChange keyed by its record (HubSpot names only the deal; the connectors look the
case up in HubSpot, so that ingest holds no vendor credentials). Anything else, a
change that is not a status or a record that is not Antenna's, is ``Ignored``.

Every change carries an event id that is the same for every delivery of it (a vendor
retry, a replay): consumers fold outcomes by it, and the routes publish each id once."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ulid import ULID

from services.ingest.chat import Verdict

REPLAY_WINDOW_S = 300  # Zendesk, HubSpot: a signed timestamp older than this is a replay
MAX_ID = 200  # record ids and values (the contracts' limit)


class OutcomePayloadError(ValueError):
    """The payload is not what the vendor documents. The message names fields, never
    their values."""


@dataclass(frozen=True)
class Ignored:
    reason: str  # a fixed word for logs and metrics


def check_signature(expected: str, presented: str | None) -> Verdict:
    """The presented signature against the one computed over the request, in constant
    time."""
    if not presented:
        return Verdict.missing
    if not hmac.compare_digest(expected.encode(), presented.strip().encode("utf-8", "replace")):
        return Verdict.invalid
    return Verdict.ok


def check_age(sent_at: float | None, now: float, window_s: float) -> Verdict:
    """A signed time inside the replay window (either side: clocks differ)."""
    if sent_at is None:
        return Verdict.invalid
    return Verdict.ok if abs(now - sent_at) <= window_s else Verdict.stale


def json_payload(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise OutcomePayloadError("the body is not JSON") from None


def field(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]...``, or None where a step is missing or not an object."""
    for name in path:
        if not isinstance(data, dict):
            return None
        data = data.get(name)
    return data


def text(value: Any, name: str, max_length: int = MAX_ID) -> str:
    """A required short string (ids arrive as strings or numbers)."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise OutcomePayloadError(f"{name} is missing")
    found = str(value)
    if len(found) > max_length:
        raise OutcomePayloadError(f"{name} is too long")
    return found


def case_id(value: Any) -> str | None:
    """A case id (the ULID of the case's first report), or None when ``value`` is not
    one: the record is not Antenna's."""
    if not isinstance(value, str):
        return None
    try:
        return str(ULID.from_str(value.strip()))
    except ValueError:
        return None


def from_epoch_ms(value: Any, name: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise OutcomePayloadError(f"{name} is missing")
    try:
        return datetime.fromtimestamp(float(value) / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        raise OutcomePayloadError(f"{name} is not a time in milliseconds") from None


def from_iso(value: Any, name: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise OutcomePayloadError(f"{name} is missing")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise OutcomePayloadError(f"{name} is not an ISO 8601 time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
