"""Vendor webhooks for outcomes: POST /v1/outcomes/zendesk, /v1/outcomes/hubspot and
/v1/outcomes/jira.

Each is off (404) until its secret is set. A request is judged by its signature headers
before its body is read (missing, malformed or stale: 401 without reading it; the body
size limit holds while it is read), then by the vendor's signature over the raw body
(401), then parsed by the pure functions in ``services.ingest.outcomes``. A change that
is not a status of Antenna's records is answered 200 and dropped, so that the vendor
does not retry it.

Every change is published once per event id (the idempotency cache: a retry or a replay
waits for, or gets, the first publish) and answered 200 only after the broker
acknowledged; 503 otherwise, so that the vendor sends it again. The vendors give up on an
answer after some seconds (Zendesk 12, HubSpot a few, Jira 20): the wait for the broker
is kept below that (services.ingest.acks)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import SecretStr, ValidationError

from schemas import Outcome, RecordChange, topics
from services.common.kafka import BrokerUnavailable
from services.common.logging import fields
from services.common.metrics import OUTCOMES_PUBLISHED
from services.ingest import metrics
from services.ingest.acks import within
from services.ingest.api.deps import IdempotencyDep, PublisherDep, SettingsDep
from services.ingest.api.problems import RETRY_AFTER_S, problem
from services.ingest.chat import Verdict, error_fields
from services.ingest.idempotency import IdempotencyCache, KeyReused
from services.ingest.outcomes import Ignored, OutcomePayloadError, hubspot, jira, zendesk
from services.ingest.publisher import Publisher

router = APIRouter(prefix="/v1/outcomes", tags=["outcomes"])
log = logging.getLogger(__name__)

ACK_BUDGET_S = {"zendesk": 8.0, "hubspot": 4.0, "jira": 8.0}
RESPONSES: dict[int | str, dict[str, object]] = {
    401: {},
    404: {},
    413: {},
    415: {},
    422: {},
    503: {},
}
_DETAIL = {
    Verdict.missing: "the request carries no signature",
    Verdict.invalid: "the signature does not match the request",
    Verdict.stale: "the request is too old (or from the future): a replay?",
}
Change = Outcome | RecordChange


def _secret(value: SecretStr | None) -> bytes | None:
    raw = value.get_secret_value() if value is not None else ""
    return raw.encode() if raw else None


def _is_json(request: Request) -> bool:
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _count(vendor: str, outcome: str, **extra: object) -> None:
    metrics.OUTCOME_WEBHOOKS.labels(vendor, outcome).inc()
    level = logging.INFO if outcome in ("published", "replayed", "ignored") else logging.WARNING
    log.log(level, "outcome webhook", extra=fields(vendor=vendor, outcome=outcome, **extra))


def _refused(vendor: str, reason: str, status: int = 401) -> Response:
    metrics.WEBHOOK_REFUSALS.labels(vendor, reason).inc()
    log.warning("outcome webhook refused", extra=fields(vendor=vendor, reason=reason))
    if status == 404:
        return problem(404, f"The {vendor} webhook is not configured", "it is switched off")
    return problem(401, "Invalid signature", _DETAIL[Verdict(reason)])


def _unusable(vendor: str, error: Exception) -> Response:
    if isinstance(error, ValidationError):
        detail = f"invalid field(s): {error_fields(error)}"
    else:
        detail = str(error)
    _count(vendor, "invalid", reason=type(error).__name__)
    return problem(422, "Invalid webhook payload", detail)


def _not_json(vendor: str) -> Response:
    _count(vendor, "unsupported_media")
    return problem(415, "Unsupported media type", "send the event as application/json")


def _ignored(vendor: str, reason: str) -> Response:
    _count(vendor, "ignored", reason=reason)
    return JSONResponse({"ignored": reason})


async def _publish_once(
    vendor: str, change: Change, publisher: Publisher, idempotency: IdempotencyCache
) -> bool:
    """Publish ``change`` unless its event id was published already; True if it was."""
    if isinstance(change, Outcome):
        topic, key = topics.OUTCOMES, change.case_id
    else:
        topic, key = topics.RECORD_CHANGES, change.record_id

    async def send() -> str:
        await publisher.publish_record(topic, key, change.model_dump_json().encode())
        if isinstance(change, Outcome):
            OUTCOMES_PUBLISHED.labels(change.destination, change.connector, change.status).inc()
        return change.event_id

    # What a delivery of the change says, not when it was received.
    fingerprint = change.model_dump_json(exclude={"observed_at"}).encode()
    try:
        _, replayed = await idempotency.run_once(
            f"outcomes:{vendor}", change.event_id, fingerprint, send
        )
    except KeyReused:  # one event id, another body: the first publish stands
        return True
    return replayed


async def _publish(
    vendor: str, changes: Sequence[Change], publisher: Publisher, idempotency: IdempotencyCache
) -> Response:
    async def every() -> list[bool]:
        return await asyncio.gather(
            *(_publish_once(vendor, change, publisher, idempotency) for change in changes)
        )

    try:
        replayed = await within(every(), ACK_BUDGET_S[vendor])
    except BrokerUnavailable:
        _count(vendor, "unavailable")
        return problem(
            503,
            "Broker unavailable",
            "the change was not accepted; send it again",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    new = replayed.count(False)
    _count(vendor, "published" if new else "replayed", changes=len(changes))
    return JSONResponse({"published": new, "replayed": len(changes) - new})


@router.post("/zendesk", response_model=None, responses=RESPONSES)
async def zendesk_webhook(
    request: Request, settings: SettingsDep, publisher: PublisherDep, idempotency: IdempotencyDep
) -> Response:
    """A Zendesk webhook subscribed to ticket events (status changed, created)."""
    secret = _secret(settings.zendesk_webhook_secret)
    if secret is None:
        return _refused("zendesk", "not_configured", 404)
    timestamp = request.headers.get(zendesk.TIMESTAMP_HEADER)
    presented = request.headers.get(zendesk.SIGNATURE_HEADER)
    verdict = zendesk.check_headers(timestamp, presented, now=time.time())
    if verdict is not Verdict.ok:  # refused before the body is read
        return _refused("zendesk", verdict.value)
    body = await request.body()
    verdict = zendesk.verify(secret, body, timestamp, presented, now=time.time())
    if verdict is not Verdict.ok:
        return _refused("zendesk", verdict.value)
    if not _is_json(request):
        return _not_json("zendesk")
    links = str(settings.zendesk_url) if settings.zendesk_url else None
    try:
        parsed = zendesk.parse(body, datetime.now(UTC), links)
    except (OutcomePayloadError, ValidationError) as exc:
        return _unusable("zendesk", exc)
    if isinstance(parsed, Ignored):
        return _ignored("zendesk", parsed.reason)
    return await _publish("zendesk", [parsed], publisher, idempotency)


@router.post("/hubspot", response_model=None, responses=RESPONSES)
async def hubspot_webhook(
    request: Request, settings: SettingsDep, publisher: PublisherDep, idempotency: IdempotencyDep
) -> Response:
    """A HubSpot app's webhook subscription (deal stage changes), signed with v3."""
    secret = _secret(settings.hubspot_client_secret)
    if secret is None:
        return _refused("hubspot", "not_configured", 404)
    timestamp = request.headers.get(hubspot.TIMESTAMP_HEADER)
    presented = request.headers.get(hubspot.SIGNATURE_HEADER)
    verdict = hubspot.check_headers(timestamp, presented, now=time.time())
    if verdict is not Verdict.ok:  # refused before the body is read
        return _refused("hubspot", verdict.value)
    body = await request.body()
    uri = settings.hubspot_webhook_url or str(request.url)
    verdict = hubspot.verify(
        secret, request.method, uri, body, timestamp, presented, now=time.time()
    )
    if verdict is not Verdict.ok:
        return _refused("hubspot", verdict.value)
    if not _is_json(request):
        return _not_json("hubspot")
    try:
        changes = hubspot.parse(body, datetime.now(UTC))
    except (OutcomePayloadError, ValidationError) as exc:
        return _unusable("hubspot", exc)
    if not changes:
        return _ignored("hubspot", "not_a_stage_change")
    return await _publish("hubspot", changes, publisher, idempotency)


@router.post("/jira", response_model=None, responses=RESPONSES)
async def jira_webhook(
    request: Request, settings: SettingsDep, publisher: PublisherDep, idempotency: IdempotencyDep
) -> Response:
    """A Jira admin webhook with a secret (issue created, issue updated)."""
    secret = _secret(settings.jira_webhook_secret)
    if secret is None:
        return _refused("jira", "not_configured", 404)
    presented = request.headers.get(jira.SIGNATURE_HEADER)
    if not presented:  # refused before the body is read
        return _refused("jira", Verdict.missing.value)
    body = await request.body()
    verdict = jira.verify(secret, body, presented)
    if verdict is not Verdict.ok:
        return _refused("jira", verdict.value)
    if not _is_json(request):
        return _not_json("jira")
    try:
        parsed = jira.parse(body, datetime.now(UTC), request.headers.get(jira.IDENTIFIER_HEADER))
    except (OutcomePayloadError, ValidationError) as exc:
        return _unusable("jira", exc)
    if isinstance(parsed, Ignored):
        return _ignored("jira", parsed.reason)
    verdict = jira.fresh(parsed.changed_at, now=time.time())  # the signed body's own time
    if verdict is not Verdict.ok:
        return _refused("jira", verdict.value)
    return await _publish("jira", [parsed], publisher, idempotency)
