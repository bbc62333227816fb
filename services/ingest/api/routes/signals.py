from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from pydantic import BaseModel

from schemas import new_signal_id
from services.common.kafka import BrokerUnavailable
from services.common.logging import fields
from services.ingest import metrics
from services.ingest.api.deps import ClientDep, IdempotencyDep, PublisherDep, require_json
from services.ingest.idempotency import KeyReused
from services.ingest.submission import SignalSubmission, to_signal

router = APIRouter()
log = logging.getLogger(__name__)


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
    channel = submission.channel.value

    async def publish() -> str:
        signal = to_signal(
            submission,
            signal_id=new_signal_id(),
            idempotency_key=idempotency_key,
            source=client,
            received_at=datetime.now(UTC),
        )
        started = time.perf_counter()
        try:
            await publisher.publish(signal)
        except BrokerUnavailable:
            metrics.REQUESTS.labels(channel, "unavailable").inc()
            log.warning(
                "broker unavailable, answered 503", extra=fields(signal_id=signal.signal_id)
            )
            raise
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
        return signal.signal_id

    if idempotency_key is None:
        signal_id, replayed = await publish(), False
    else:
        try:
            signal_id, replayed = await idempotency.run_once(
                client, idempotency_key, await request.body(), publish
            )
        except KeyReused as exc:
            raise HTTPException(422, str(exc)) from exc
    metrics.REQUESTS.labels(channel, "replayed" if replayed else "accepted").inc()
    log.info("accepted", extra=fields(signal_id=signal_id, channel=channel, replayed=replayed))
    return Accepted(signal_id=signal_id)
