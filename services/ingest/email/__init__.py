"""E-mail ingest: employees forward or write mail to a signal address.

Two doors, one path: the SMTP listener (``smtp.py``) and ``POST /v1/email/inbound`` both
call ``ingest_email``, which parses the message (``parse.py``), drops machine-written
mail (out-of-office, newsletters, bounces: they must never loop), checks the sender's
domain, and hands the SignalSubmission to ``services.ingest.intake.accept``: success only
after the broker acknowledged, BrokerUnavailable otherwise. The Message-ID is the
Idempotency-Key, so a retried delivery is not a second signal.

Parsing runs in a child process with a time budget (``ANTENNA_EMAIL_PARSE_BUDGET_S``):
the regular expressions and the e-mail package hold the GIL, so a thread would not free
the event loop, and a thread cannot be stopped. A message that takes longer raises
ChildFailed before anything is published; the doors answer "try again later".

Logs and metric labels carry no personal data: a message is named by a short hash of its
Message-ID, a signal by its id.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from functools import partial

from prometheus_client import Counter

from services.common.budget import ChildFailed, ChildPool, OverBudget
from services.common.kafka import BrokerUnavailable
from services.common.logging import fields
from services.ingest.email.parse import (
    EmailLimits,
    EmailOverLimit,
    MalformedEmail,
    ParsedEmail,
    parse_email,
    to_submission,
)
from services.ingest.idempotency import IdempotencyCache, KeyReused
from services.ingest.intake import accept
from services.ingest.publisher import Publisher
from services.ingest.settings import IngestSettings

__all__ = [
    "EMAILS",
    "ChildFailed",
    "EmailOutcome",
    "EmailOverLimit",
    "MalformedEmail",
    "ParsedEmail",
    "SenderNotAllowed",
    "domain_allowed",
    "email_limits",
    "ingest_email",
    "message_ref",
    "parse_email",
    "to_submission",
]

EMAILS = Counter(
    "antenna_ingest_emails_total",
    "E-mails received, by transport (smtp, api) and outcome",
    # outcome: published, replayed, auto_generated, malformed, over_limit, over_budget,
    # sender_refused, key_reused, unavailable, too_large (API), error (SMTP: anything
    # unexpected, answered 451)
    ["transport", "outcome"],
)

log = logging.getLogger(__name__)


class SenderNotAllowed(Exception):
    """The sender's domain is not one of ``allowed_sender_domains``."""


@dataclass(frozen=True)
class EmailOutcome:
    published: bool
    signal_id: str | None = None
    replayed: bool = False
    reason: str | None = None  # why it was not published


def message_ref(message_id: str | None, raw: bytes = b"") -> str:
    """A short, non-reversible name for a message, safe to log."""
    basis = message_id.encode() if message_id else raw
    return hashlib.sha256(basis).hexdigest()[:12]


def domain_allowed(address: str, allowed_domains: list[str]) -> bool:
    domain = address.rpartition("@")[2].strip().strip(">").lower()
    return bool(domain) and domain in {d.strip().lower() for d in allowed_domains}


async def ingest_email(
    raw: bytes,
    *,
    transport: str,
    source: str,
    settings: IngestSettings,
    publisher: Publisher,
    idempotency: IdempotencyCache,
    null_sender: bool = False,
) -> EmailOutcome:
    """Publish ``raw`` as one signal, or say why not.

    Raises MalformedEmail (EmailOverLimit when it is over one of the e-mail limits),
    SenderNotAllowed, KeyReused (the Message-ID was used before for another message),
    ChildFailed (parsing ran past its budget, or its worker died: nothing was accepted,
    retry later) and BrokerUnavailable (nothing was accepted: retry later).
    ``null_sender`` is an SMTP ``MAIL FROM:<>``: only machines send those."""
    parse = partial(
        parse_email, internal_domains=_internal_domains(settings), limits=email_limits(settings)
    )
    try:
        parsed = await _parsers(settings).run(settings.email_parse_budget_s, parse, raw)
    except MalformedEmail as exc:
        _malformed(exc, message_ref(None, raw), transport)
        raise
    except ChildFailed as exc:
        over_budget = isinstance(exc, OverBudget)
        EMAILS.labels(transport, "over_budget" if over_budget else "error").inc()
        log.warning(
            "e-mail not parsed in time, nothing accepted"
            if over_budget
            else "e-mail parser died, nothing accepted",
            extra=fields(message=message_ref(None, raw), transport=transport),
        )
        raise
    ref = message_ref(parsed.message_id, raw)
    if parsed.auto_generated or null_sender:
        reason = f"auto-generated mail: {parsed.auto_reason or 'null sender (bounce)'}"
        EMAILS.labels(transport, "auto_generated").inc()
        log.info(
            "auto-generated e-mail not published",
            extra=fields(message=ref, transport=transport, reason=parsed.auto_reason or "bounce"),
        )
        return EmailOutcome(published=False, reason=reason)
    if not domain_allowed(parsed.reporter.email, settings.allowed_sender_domains):
        EMAILS.labels(transport, "sender_refused").inc()
        log.info("e-mail from a domain not allowed", extra=fields(message=ref, transport=transport))
        raise SenderNotAllowed("sender domain not allowed")
    try:
        submission = to_submission(parsed)
    except MalformedEmail as exc:
        _malformed(exc, ref, transport)
        raise
    key = parsed.idempotency_key or "sha256:" + hashlib.sha256(raw).hexdigest()
    try:
        accepted = await accept(
            submission,
            source=source,
            publisher=publisher,
            idempotency=idempotency,
            idempotency_key=key,
            # The content, not the bytes: a relay that adds a Received header on a retry
            # still delivers the same message.
            fingerprint=submission.model_dump_json().encode(),
        )
    except BrokerUnavailable:
        EMAILS.labels(transport, "unavailable").inc()
        raise
    except KeyReused:
        EMAILS.labels(transport, "key_reused").inc()
        raise
    EMAILS.labels(transport, "replayed" if accepted.replayed else "published").inc()
    log.info(
        "e-mail accepted",
        extra=fields(
            message=ref,
            transport=transport,
            signal_id=accepted.signal_id,
            replayed=accepted.replayed,
            attachments=len(parsed.attachments),
        ),
    )
    return EmailOutcome(published=True, signal_id=accepted.signal_id, replayed=accepted.replayed)


def _malformed(exc: MalformedEmail, ref: str, transport: str) -> None:
    EMAILS.labels(transport, "over_limit" if isinstance(exc, EmailOverLimit) else "malformed").inc()
    # The reasons are ours ("the message has no From header"): no personal data.
    log.info("malformed e-mail refused", extra=fields(message=ref, transport=transport, reason=exc))


def _internal_domains(settings: IngestSettings) -> list[str]:
    """Colleagues, not customers: the allowed sender domains and the signal addresses'."""
    signal_domains = [a.rpartition("@")[2] for a in settings.signal_addresses]
    return [*settings.allowed_sender_domains, *signal_domains]


def email_limits(settings: IngestSettings) -> EmailLimits:
    """The e-mail caps of ``settings`` (ANTENNA_EMAIL_MAX_*)."""
    return EmailLimits(
        max_parts=settings.email_max_parts,
        max_depth=settings.email_max_depth,
        max_header_chars=settings.email_max_header_chars,
        max_html_chars=settings.email_max_html_chars,
        max_line_chars=settings.email_max_line_chars,
    )


_PARSERS: ChildPool | None = None
_PARSERS_LOCK = threading.Lock()


def _parsers(settings: IngestSettings) -> ChildPool:
    """The process's pool of parse workers, made on first use (one per ingest process; the
    SMTP listener and the API share it)."""
    global _PARSERS
    with _PARSERS_LOCK:
        if _PARSERS is None:
            _PARSERS = ChildPool(settings.email_parse_workers, "e-mail parser")
        return _PARSERS
