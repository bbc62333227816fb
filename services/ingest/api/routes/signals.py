from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from pydantic import BaseModel

from services.ingest.api.deps import (
    ClientDep,
    IdempotencyDep,
    KeyedRoute,
    PublisherDep,
    require_json,
)
from services.ingest.idempotency import KeyReused
from services.ingest.intake import accept
from services.ingest.submission import SignalSubmission

router = APIRouter(route_class=KeyedRoute)


class Accepted(BaseModel):
    signal_id: str


@router.post(
    "/v1/signals",
    status_code=202,
    response_model=Accepted,
    dependencies=[Depends(require_json)],
    responses={401: {}, 413: {}, 415: {}, 422: {}, 503: {}},
)
async def submit_signal(
    submission: SignalSubmission,
    request: Request,
    client: ClientDep,
    publisher: PublisherDep,
    idempotency: IdempotencyDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> Accepted:
    try:
        accepted = await accept(
            submission,
            source=client,
            publisher=publisher,
            idempotency=idempotency,
            idempotency_key=idempotency_key,
            fingerprint=await request.body(),
        )
    except KeyReused as exc:
        raise HTTPException(422, str(exc)) from exc
    return Accepted(signal_id=accepted.signal_id)
