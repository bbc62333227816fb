"""Chat channels: POST /v1/chat/slack, /v1/chat/teams and /v1/chat/webhook.

Each route checks the signature headers before it reads the body (missing, malformed or
stale: 401 without reading it), then the platform's signature over the raw body, parses the payload
with the pure functions in ``services.ingest.chat`` and hands a report to
``services.ingest.intake.accept``: success only after the broker acknowledged. A channel
whose secret is not set answers 404.

Slack wants an answer within 3 s and Teams within 5 s, so these routes wait for the
broker's acknowledgement only so long (``*_ACK_BUDGET_S``, services.ingest.acks) and answer
503 after that; Slack's retry of the same event gets its signal instead of a second.
"""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import SecretStr

from services.common.kafka import BrokerUnavailable
from services.common.logging import fields
from services.ingest.acks import within
from services.ingest.api.deps import IdempotencyDep, PublisherDep, SettingsDep
from services.ingest.api.problems import problem
from services.ingest.chat import (
    ChatPayloadError,
    ChatReport,
    Ignored,
    Verdict,
    check_timestamp_headers,
    fingerprint,
    slack,
    teams,
    thanks,
    usage,
    webhook,
)
from services.ingest.idempotency import IdempotencyCache, KeyReused
from services.ingest.intake import Accepted, accept
from services.ingest.publisher import Publisher

router = APIRouter(prefix="/v1/chat", tags=["chat"])
log = logging.getLogger(__name__)

SLACK_ACK_BUDGET_S = 2.0  # Slack retries an event it got no answer for within 3 s
TEAMS_ACK_BUDGET_S = 4.0  # Teams shows an error after 5 s
FORM = "application/x-www-form-urlencoded"
# The signal's ``source``: with the idempotency key, what the processor dedupes on.
SOURCES = {"slack": "slack", "teams": "teams", "webhook": "chat-webhook"}

CHAT_REQUESTS = Counter(
    "antenna_ingest_chat_requests_total",
    "Chat platform requests, by platform and outcome",
    # outcome: accepted, replayed, ignored, challenge, unauthorized, invalid,
    # unsupported_media, unavailable, not_configured
    ["platform", "outcome"],
)

_VERDICT_DETAIL = {
    Verdict.missing: "the request carries no signature",
    Verdict.invalid: "the signature does not match the request",
    Verdict.stale: "the request is older than five minutes (or from the future): a replay?",
}

# --- helpers -----------------------------------------------------------------------------------


def _secret(value: SecretStr | None) -> str | None:
    raw = value.get_secret_value() if value is not None else ""
    return raw or None


def _media_type(request: Request) -> str:
    return (request.headers.get("content-type") or "").split(";")[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _outcome(platform: str, outcome: str, **extra: object) -> None:
    CHAT_REQUESTS.labels(platform, outcome).inc()
    level = logging.INFO if outcome in ("accepted", "replayed") else logging.WARNING
    if outcome in ("ignored", "challenge"):
        level = logging.DEBUG
    log.log(level, "chat request", extra=fields(platform=platform, outcome=outcome, **extra))


def _not_configured(platform: str, name: str, detail: str | None = None) -> Response:
    _outcome(platform, "not_configured")
    return problem(404, f"{name} is not configured", detail or "this chat channel is switched off")


def _unauthorized(platform: str, verdict: Verdict, detail: str | None = None) -> Response:
    _outcome(platform, "unauthorized", reason=verdict.value)
    return problem(401, "Invalid signature", detail or _VERDICT_DETAIL[verdict])


def _unsupported(platform: str, detail: str) -> Response:
    _outcome(platform, "unsupported_media")
    return problem(415, "Unsupported media type", detail)


def _invalid(platform: str, error: ChatPayloadError | KeyReused) -> Response:
    _outcome(platform, "invalid", reason=type(error).__name__)
    title = "Idempotency-Key reused" if isinstance(error, KeyReused) else "Invalid chat payload"
    return problem(422, title, str(error))


async def _accept(
    platform: str,
    report: ChatReport,
    publisher: Publisher,
    idempotency: IdempotencyCache,
    budget_s: float | None = None,
) -> Accepted:
    """``intake.accept``, waiting at most ``budget_s`` for the broker's acknowledgement."""
    work = accept(
        report.submission,
        source=SOURCES[platform],
        publisher=publisher,
        idempotency=idempotency,
        idempotency_key=report.idempotency_key,
        fingerprint=fingerprint(report.submission),
    )
    try:
        accepted = await within(work, budget_s)
    except BrokerUnavailable:
        _outcome(platform, "unavailable")
        raise
    _outcome(
        platform, "replayed" if accepted.replayed else "accepted", signal_id=accepted.signal_id
    )
    return accepted


# --- Slack -------------------------------------------------------------------------------------


@router.post(
    "/slack",
    response_model=None,
    responses={401: {}, 404: {}, 413: {}, 415: {}, 422: {}, 503: {}},
)
async def slack_request(
    request: Request,
    settings: SettingsDep,
    publisher: PublisherDep,
    idempotency: IdempotencyDep,
) -> Response:
    """Slack Events API (JSON) and slash commands (form-encoded), both signed with v0."""
    secret = _secret(settings.slack_signing_secret)
    if secret is None:
        return _not_configured("slack", "Slack")
    timestamp = request.headers.get(slack.TIMESTAMP_HEADER)
    signature = request.headers.get(slack.SIGNATURE_HEADER)
    verdict = check_timestamp_headers(timestamp, signature, now=time.time())
    if verdict is not Verdict.ok:  # refused before the body is read
        return _unauthorized("slack", verdict)
    body = await request.body()
    verdict = slack.verify(secret.encode(), body, timestamp, signature, now=time.time())
    if verdict is not Verdict.ok:
        return _unauthorized("slack", verdict)
    media_type = _media_type(request)
    if _is_json(media_type):
        return await _slack_event(request, body, settings.slack_bot_user_id, publisher, idempotency)
    if media_type == FORM:
        return await _slack_command(body, publisher, idempotency)
    return _unsupported("slack", f"send events as application/json and slash commands as {FORM}")


async def _slack_event(
    request: Request,
    body: bytes,
    bot_user_id: str | None,
    publisher: Publisher,
    idempotency: IdempotencyCache,
) -> Response:
    try:
        outcome = slack.parse_event(body, bot_user_id)
    except ChatPayloadError as exc:
        return _invalid("slack", exc)
    if isinstance(outcome, slack.Challenge):
        _outcome("slack", "challenge")
        return JSONResponse({"challenge": outcome.challenge})
    if isinstance(outcome, Ignored):
        _outcome("slack", "ignored", reason=outcome.reason)
        return JSONResponse({"ok": True, "ignored": outcome.reason})
    retry = request.headers.get(slack.RETRY_NUM_HEADER)
    if retry is not None:
        log.info(
            "slack retry",
            extra=fields(
                platform="slack",
                retry_num=retry[:8],
                retry_reason=(request.headers.get(slack.RETRY_REASON_HEADER) or "")[:40],
            ),
        )
    try:
        accepted = await _accept("slack", outcome, publisher, idempotency, SLACK_ACK_BUDGET_S)
    except KeyReused:
        # The same event_id with other content: never a second signal, and a non-200
        # would only make Slack retry the same thing.
        _outcome("slack", "ignored", reason="key_reused")
        return JSONResponse({"ok": True, "ignored": "key_reused"})
    return JSONResponse({"ok": True, "signal_id": accepted.signal_id})


async def _slack_command(
    body: bytes, publisher: Publisher, idempotency: IdempotencyCache
) -> Response:
    try:
        outcome = slack.parse_command(body)
    except ChatPayloadError as exc:
        return _invalid("slack", exc)
    if isinstance(outcome, Ignored):
        _outcome("slack", "ignored", reason=outcome.reason)
        if outcome.reason == "empty":
            command = slack.parse_form(body).get("command") or "/antenna"
            return JSONResponse({"response_type": "ephemeral", "text": usage(command)})
        return Response(status_code=200)
    try:
        accepted = await _accept("slack", outcome, publisher, idempotency, SLACK_ACK_BUDGET_S)
    except KeyReused as exc:
        return _invalid("slack", exc)
    text = thanks(accepted.signal_id, outcome.submission.text)
    return JSONResponse({"response_type": "ephemeral", "text": text})


# --- Microsoft Teams ---------------------------------------------------------------------------


@router.post(
    "/teams",
    response_model=None,
    responses={401: {}, 404: {}, 413: {}, 415: {}, 422: {}, 503: {}},
)
async def teams_request(
    request: Request,
    settings: SettingsDep,
    publisher: PublisherDep,
    idempotency: IdempotencyDep,
) -> Response:
    """A Teams outgoing webhook: answered with a message activity naming the signal."""
    secret = _secret(settings.teams_hmac_secret)
    if secret is None:
        return _not_configured("teams", "Microsoft Teams")
    try:
        key = teams.decode_secret(secret)
    except ValueError:
        log.error("ANTENNA_TEAMS_HMAC_SECRET is not the base64 security token Teams showed")
        return _not_configured("teams", "Microsoft Teams", "the security token is not base64")
    presented = request.headers.get(teams.AUTHORIZATION_HEADER)
    verdict = teams.check_authorization_header(presented)
    if verdict is not Verdict.ok:  # refused before the body is read
        return _unauthorized("teams", verdict)
    body = await request.body()
    verdict = teams.verify(key, body, presented)
    if verdict is not Verdict.ok:
        return _unauthorized("teams", verdict)
    if not _is_json(_media_type(request)):
        return _unsupported("teams", "send the activity as application/json")
    try:
        activity = teams.parse_activity(body)
    except ChatPayloadError as exc:
        return _invalid("teams", exc)
    verdict = teams.freshness(activity, now=time.time())
    if verdict is Verdict.missing:
        return _unauthorized("teams", verdict, "the activity carries no timestamp: a replay?")
    if verdict is not Verdict.ok:
        return _unauthorized("teams", verdict)
    try:
        outcome = teams.to_report(activity)
    except ChatPayloadError as exc:
        return _invalid("teams", exc)
    if isinstance(outcome, Ignored):
        _outcome("teams", "ignored", reason=outcome.reason)
        name = activity.recipient.name if activity.recipient else None
        return JSONResponse(teams.reply(usage(f"@{name or 'Antenna'}")))
    try:
        accepted = await _accept("teams", outcome, publisher, idempotency, TEAMS_ACK_BUDGET_S)
    except KeyReused as exc:
        return _invalid("teams", exc)
    return JSONResponse(teams.reply(thanks(accepted.signal_id, outcome.submission.text)))


# --- a generic chat webhook --------------------------------------------------------------------


@router.post(
    "/webhook",
    status_code=202,
    response_model=None,
    responses={401: {}, 404: {}, 413: {}, 415: {}, 422: {}, 503: {}},
)
async def webhook_request(
    request: Request,
    settings: SettingsDep,
    publisher: PublisherDep,
    idempotency: IdempotencyDep,
) -> Response:
    """``{"text", "user": {"id", "name", "email"?}, "message_id", "channel"?}``, signed
    like Antenna's own webhooks (X-Antenna-Timestamp, X-Antenna-Signature: v1=...)."""
    secret = _secret(settings.chat_webhook_secret)
    if secret is None:
        return _not_configured("webhook", "The chat webhook")
    timestamp = request.headers.get(webhook.TIMESTAMP_HEADER)
    signature = request.headers.get(webhook.SIGNATURE_HEADER)
    verdict = check_timestamp_headers(timestamp, signature, now=time.time())
    if verdict is not Verdict.ok:  # refused before the body is read
        return _unauthorized("webhook", verdict)
    body = await request.body()
    verdict = webhook.verify(secret.encode(), body, timestamp, signature, now=time.time())
    if verdict is not Verdict.ok:
        return _unauthorized("webhook", verdict)
    if not _is_json(_media_type(request)):
        return _unsupported("webhook", "send the message as application/json")
    try:
        report = webhook.parse(body)
        accepted = await _accept("webhook", report, publisher, idempotency)
    except (ChatPayloadError, KeyReused) as exc:
        return _invalid("webhook", exc)
    return JSONResponse({"signal_id": accepted.signal_id}, status_code=202)
