"""The Signal: one thing an employee heard, as it travels on signals.raw."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field
from ulid import ULID

SCHEMA_VERSION = 1


# What ULID.from_str accepts: 26 Crockford base32 digits, either case, the first at most 7
# (128 bits). A match is a C call; decoding the ULID in Python to check it cost a tenth of
# building a Signal, on every record of every stage.
_ULID = re.compile("[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}")


def _check_ulid(value: str) -> str:
    if _ULID.fullmatch(value) is None:
        raise ValueError("not a ULID: 26 base32 characters, the first at most 7")
    return value


def _check_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone")
    return value.astimezone(UTC)


SignalId = Annotated[
    str, AfterValidator(_check_ulid), Field(examples=["01JD6W2Q7X5N6G2M3K4P5R6S7T"])
]
UtcDatetime = Annotated[datetime, AfterValidator(_check_utc)]


def new_signal_id() -> str:
    return str(ULID())


# The ULID's 48-bit time part of an id derived from a key. Zero, on purpose: no replica
# knows when the key was first used, so any clock would give replicas different ids; a
# zero time also tells a derived id (key given) from one minted at receipt (no key).
DERIVED_TIME_PART = bytes(6)
_DERIVATION = b"antenna signal_id v1\0"


def signal_id_for(source: str, idempotency_key: str) -> str:
    """The one signal_id of (source, Idempotency-Key): every replica, before or after a
    restart, answers the same id. A ULID whose 80 random bits come from SHA-256."""
    scope = source.encode()
    material = _DERIVATION + len(scope).to_bytes(4, "big") + scope + idempotency_key.encode()
    digest = hashlib.sha256(material).digest()
    return ulid_text(DERIVED_TIME_PART + digest[:10])


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DIGIT_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # 10 bits -> 2 digits
_PAIR_SHIFTS = range(120, -10, -10)


def ulid_text(sixteen: bytes) -> str:
    """``str(ULID.from_bytes(sixteen))`` with 13 lookups of two digits each instead of 26 of
    one (python-ulid): the 128 bits after two zero bits, ten bits at a time."""
    if len(sixteen) != 16:
        raise ValueError("a ULID has 16 bytes")
    number = int.from_bytes(sixteen, "big")
    return "".join([_DIGIT_PAIRS[(number >> shift) & 1023] for shift in _PAIR_SHIFTS])


class Channel(StrEnum):
    form = "form"
    chat = "chat"
    email = "email"
    api = "api"


class Contract(BaseModel):
    """Base for every model on a topic: strict about unknown fields, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Reporter(Contract):
    """The employee who reports the signal."""

    employee_id: str | None = Field(default=None, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    department: str | None = Field(default=None, max_length=100)


class Customer(Contract):
    """The person the signal is about. Every field is optional: a colleague may know little."""

    name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=40)
    customer_id: str | None = Field(default=None, max_length=100)
    consent_to_contact: bool = False


class Attachment(Contract):
    """Metadata only: attachment bodies never travel on Kafka."""

    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=255)
    size: int = Field(ge=0)


class CallbackWindow(Contract):
    """When the customer wants to be contacted ("call her tomorrow morning")."""

    text: str | None = Field(default=None, max_length=200)
    not_before: UtcDatetime | None = None
    not_after: UtcDatetime | None = None


class Signal(Contract):
    schema_version: int = SCHEMA_VERSION
    signal_id: SignalId
    idempotency_key: str = Field(min_length=1, max_length=255)
    channel: Channel
    source: str = Field(min_length=1, max_length=100, description="Which client or adapter sent it")
    received_at: UtcDatetime
    reporter: Reporter
    customer: Customer | None = None
    subject: str | None = Field(default=None, max_length=500)
    text: str = Field(min_length=1, max_length=50_000)
    language: str | None = Field(default=None, max_length=8, description="Hint, e.g. nl or en")
    attachments: list[Attachment] = Field(default_factory=list, max_length=50)
    metadata: dict[str, str] = Field(default_factory=dict)
    callback_window: CallbackWindow | None = None
    body_fingerprint: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description=(
            "SHA-256 of the request content sent with idempotency_key. Two records with one "
            "signal_id and different fingerprints: the key was reused for another report, "
            "and only the first is passed on."
        ),
    )
