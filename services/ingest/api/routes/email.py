"""POST /v1/email/inbound: a raw MIME message from a mail gateway or a script.

The same path as the SMTP listener (``services.ingest.email.ingest_email``), behind the
API key. The Message-ID is the Idempotency-Key: a re-post of the same message answers
with the same signal id; the same Message-ID with another message is a 422.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from services.ingest.api.deps import (
    ClientDep,
    IdempotencyDep,
    KeyedRoute,
    PublisherDep,
    SettingsDep,
)
from services.ingest.api.problems import RETRY_AFTER_S, problem
from services.ingest.email import (
    EMAILS,
    ChildFailed,
    EmailOverLimit,
    MalformedEmail,
    SenderNotAllowed,
    ingest_email,
)
from services.ingest.idempotency import KeyReused

router = APIRouter(route_class=KeyedRoute)

TRANSPORT = "api"
MEDIA_TYPES = frozenset({"message/rfc822", "application/octet-stream", "text/plain"})


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it grows past ``limit``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"E-mail too large: the limit is {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"E-mail too large: the limit is {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/v1/email/inbound",
    status_code=202,
    response_model=None,
    responses={
        200: {"description": "Auto-generated mail: accepted, not published"},
        202: {"description": 'Published as a signal: {"signal_id": …}'},
        401: {},
        403: {"description": "The sender's domain is not allowed"},
        413: {},
        415: {},
        422: {"description": "Malformed message, over an e-mail limit, or its Message-ID reused"},
        503: {"description": "Not acknowledged by the broker, or not read in time: retry"},
    },
)
async def inbound_email(
    request: Request,
    client: ClientDep,
    settings: SettingsDep,
    publisher: PublisherDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in MEDIA_TYPES:
        raise HTTPException(
            415, "Send the raw message as message/rfc822, application/octet-stream or text/plain"
        )
    try:
        raw = await _read_body(request, settings.max_email_bytes)
    except HTTPException:
        EMAILS.labels(TRANSPORT, "too_large").inc()
        raise
    try:
        outcome = await ingest_email(
            raw,
            transport=TRANSPORT,
            source=client,
            settings=settings,
            publisher=publisher,
            idempotency=idempotency,
        )
    except EmailOverLimit as exc:
        return problem(422, "E-mail over a limit", str(exc))
    except MalformedEmail as exc:
        return problem(422, "Malformed e-mail", str(exc))
    except ChildFailed:
        return problem(
            503,
            "E-mail not read in time",
            "nothing was accepted; try again later",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    except SenderNotAllowed:
        return problem(403, "Sender domain not allowed", "the From address is not an employee's")
    except KeyReused as exc:
        raise HTTPException(422, str(exc).replace("Idempotency-Key", "Message-ID")) from exc
    if not outcome.published:
        return JSONResponse({"published": False, "reason": outcome.reason}, status_code=200)
    return JSONResponse({"signal_id": outcome.signal_id}, status_code=202)
