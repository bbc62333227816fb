"""The one path from any channel to signals.raw. Every adapter (API, report page, form
tools, Slack, Teams, chat webhooks, e-mail) turns its input into a SignalSubmission and
calls ``accept``: same schema, same publisher, same guarantee (success only after the
broker acknowledged; BrokerUnavailable otherwise), same Idempotency-Key handling."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas import new_signal_id, signal_id_for
from services.common.kafka import BrokerUnavailable
from services.common.logging import fields
from services.ingest import metrics
from services.ingest.idempotency import IdempotencyCache, body_hash
from services.ingest.publisher import Publisher
from services.ingest.submission import SignalSubmission, to_signal


@dataclass(frozen=True)
class Accepted:
    signal_id: str
    replayed: bool


log = logging.getLogger(__name__)


async def accept(
    submission: SignalSubmission,
    *,
    source: str,
    publisher: Publisher,
    idempotency: IdempotencyCache,
    idempotency_key: str | None = None,
    fingerprint: bytes = b"",
) -> Accepted:
    """Publish ``submission`` once per (source, idempotency_key).

    With a key, the signal_id is derived from (source, key): every replica and every
    restart answers the same id. ``fingerprint`` identifies the request body: the same key
    with another body raises KeyReused in this process, and travels on the Signal as
    ``body_fingerprint`` so that a reuse seen by another replica is found later (the status
    follower). Raises BrokerUnavailable when the broker did not acknowledge."""
    channel = submission.channel.value

    async def publish() -> str:
        if idempotency_key is None:
            signal_id, digest = new_signal_id(), None
        else:
            signal_id, digest = signal_id_for(source, idempotency_key), body_hash(fingerprint)
        signal = to_signal(
            submission,
            signal_id=signal_id,
            idempotency_key=idempotency_key,
            source=source,
            received_at=datetime.now(UTC),
            body_fingerprint=digest,
        )
        started = time.perf_counter()
        try:
            await publisher.publish(signal)
        except BrokerUnavailable:
            metrics.signals_counter(channel, "unavailable").inc()
            log.warning(
                "broker unavailable, not accepted", extra=fields(signal_id=signal.signal_id)
            )
            raise
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
        return signal.signal_id

    if idempotency_key is None:
        signal_id, replayed = await publish(), False
    else:
        signal_id, replayed = await idempotency.run_once(
            source, idempotency_key, fingerprint, publish
        )
    metrics.signals_counter(channel, "replayed" if replayed else "accepted").inc()
    log.info("accepted", extra=fields(signal_id=signal_id, channel=channel, replayed=replayed))
    return Accepted(signal_id, replayed)
