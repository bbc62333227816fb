"""The processor as a Faust app. Agents only loop: decode, call a handler, send.

signals.raw (key signal_id)
  -> intake: validate; invalid -> signals.dlq; valid -> re-keyed by resubmission key
  -> judge:  drop exact re-submissions; classify; route -> signals.routed.* / signals.triage
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import faust

from schemas import topics
from services.common.dead_letters import dead_letter
from services.common.faust_app import make_faust_app, raw_topic
from services.common.logging import fields
from services.processor import metrics
from services.processor.domain.dedupe import Seen, is_resubmission, resubmission_key
from services.processor.handlers import InvalidSignal, decode_signal, judge
from services.processor.settings import ProcessorSettings

log = logging.getLogger(__name__)
APP_ID = "antenna-processor"
BY_KEY_TOPIC = f"{APP_ID}-signals-by-key"


def create_app(settings: ProcessorSettings) -> faust.App:
    app = make_faust_app(APP_ID, settings)
    raw = raw_topic(app, topics.RAW)
    by_key = raw_topic(app, BY_KEY_TOPIC, internal=True, partitions=settings.topic_partitions)
    outputs = {
        name: raw_topic(app, name)
        for name in (topics.ROUTED_SERVICEDESK, topics.ROUTED_CRM, topics.TRIAGE, topics.DLQ)
    }
    seen = app.Table("resubmission-keys", default=None, partitions=settings.topic_partitions)
    window = timedelta(days=settings.resubmission_window_days)

    async def park(event: Any, error: str) -> None:
        msg = event.message
        letter = dead_letter(
            "processor", error, msg.topic, msg.partition, msg.offset, event.key, event.value
        )
        await (
            await outputs[topics.DLQ].send(key=event.key, value=letter.model_dump_json().encode())
        )
        metrics.DEAD_LETTERS.labels("processor").inc()
        log.warning(
            "parked on dlq", extra=fields(topic=msg.topic, offset=msg.offset, error=error[:200])
        )

    @app.agent(raw)
    async def intake(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            try:
                signal = decode_signal(event.value)
            except InvalidSignal as exc:
                await park(event, str(exc))
                continue
            # Wait for the ack: the raw offset is committed only after the hand-over is safe.
            await (await by_key.send(key=resubmission_key(signal).encode(), value=event.value))

    @app.agent(by_key)
    async def route_signals(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            try:
                signal = decode_signal(event.value)
                key = resubmission_key(signal)
                now = datetime.now(UTC)
                if is_resubmission(_seen(seen.get(key)), now, window):
                    metrics.RESUBMISSIONS_DROPPED.inc()
                    log.info("dropped re-submission", extra=fields(signal_id=signal.signal_id))
                    continue
                result = judge(signal, now, settings.min_confidence)
                payload = result.routed.model_dump_json().encode()
                # Remember the key only once the routed event is acknowledged (at-least-once).
                await (
                    await outputs[result.route.topic].send(
                        key=signal.signal_id.encode(), value=payload
                    )
                )
                seen[key] = {"signal_id": signal.signal_id, "at": now.isoformat()}
            except Exception as exc:  # a bug must not stop the partition: park and go on
                log.exception("cannot process message")
                await park(event, f"{type(exc).__name__}: {exc}")
                continue
            metrics.SIGNALS_ROUTED.labels(
                result.routed.classification.kind.value,
                result.route.destination,
                result.route.rule_id,
            ).inc()
            metrics.PROCESSING_SECONDS.observe(time.perf_counter() - started)
            log.info(
                "routed",
                extra=fields(signal_id=signal.signal_id, destination=result.route.destination),
            )

    return app


def _seen(value: dict[str, str] | None) -> Seen | None:
    if not value:
        return None
    return Seen(signal_id=value["signal_id"], at=datetime.fromisoformat(value["at"]))
