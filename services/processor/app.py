"""The processor as a Faust app. Agents only loop: decode, call a handler, send.

signals.raw (key signal_id, N partitions)
  -> classify: validate (invalid -> signals.dlq) and classify, in parallel per partition
  -> antenna-processor-classified (1 partition: one owner sees every customer's history)
  -> judge: drop re-submissions, recognise duplicates (-> signals.duplicates), route by
     the rules (-> signals.routed.servicedesk / signals.routed.crm / signals.triage)
  -> detect-incidents, beside the judge: several customers with one problem
     (-> signals.incidents, and one ticket at the desk: incident_stage.py)

The judge stage is a single partition on purpose: one customer may be known by phone
in one report and by e-mail in the next, so no partitioning key keeps a customer's
reports together. Classification, the costly part, stays parallel.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from pydantic import ValidationError

from schemas import topics
from services.common.dead_letters import dead_letter
from services.common.faust_app import acked_table, make_faust_app, raw_topic
from services.common.logging import fields
from services.processor import metrics
from services.processor.classifier.model import trained_models
from services.processor.domain.dedupe import DedupePolicy, Deduper
from services.processor.handlers import (
    ClassifiedSignal,
    InvalidSignal,
    assess,
    decode_signal,
    judge,
)
from services.processor.incident_stage import add_incident_stage
from services.processor.rules_file import RulesFile
from services.processor.settings import ProcessorSettings

log = logging.getLogger(__name__)
APP_ID = "antenna-processor"
CLASSIFIED_TOPIC = f"{APP_ID}-classified"
EXPIRE_EVERY = timedelta(hours=1)


def create_app(settings: ProcessorSettings) -> faust.App:
    trained_models()  # train now (1-2 s), not on the first signal
    app = make_faust_app(APP_ID, settings)
    rules = RulesFile(settings.routing_rules)
    raw = raw_topic(app, topics.RAW)
    classified = raw_topic(app, CLASSIFIED_TOPIC, internal=True, partitions=1)
    outputs = {
        name: raw_topic(app, name)
        for name in (
            topics.ROUTED_SERVICEDESK,
            topics.ROUTED_CRM,
            topics.TRIAGE,
            topics.DUPLICATES,
            topics.DLQ,
        )
    }
    memory = acked_table(app, "dedupe-memory", partitions=1)
    deduper = Deduper(
        memory,
        DedupePolicy(
            window=timedelta(days=settings.dedupe_window_days),
            resend_window=timedelta(minutes=settings.resend_window_minutes),
        ),
    )
    last_expiry = datetime.now(UTC)

    async def send_acked(topic: str, key: bytes | None, value: bytes) -> None:
        # Wait for the ack: the input offset is committed only after the hand-over is safe.
        await (await outputs[topic].send(key=key, value=value))

    async def park(event: Any, error: str) -> None:
        msg = event.message
        letter = dead_letter(
            "processor", error, msg.topic, msg.partition, msg.offset, event.key, event.value
        )
        await send_acked(topics.DLQ, event.key, letter.model_dump_json().encode())
        metrics.DEAD_LETTERS.labels("processor").inc()
        log.warning(
            "parked on dlq", extra=fields(topic=msg.topic, offset=msg.offset, error=error[:200])
        )

    @app.agent(raw)
    async def classify(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            try:
                signal = decode_signal(event.value)
                handover = assess(signal)
            except InvalidSignal as exc:
                await park(event, str(exc))
                continue
            except Exception as exc:  # a bug must not stop the partition: park and go on
                log.exception("cannot classify message")
                await park(event, f"{type(exc).__name__}: {exc}")
                continue
            await (await classified.send(key=event.key, value=handover.model_dump_json().encode()))

    @app.agent(classified)
    async def judge_signals(stream: faust.StreamT[bytes]) -> None:
        nonlocal last_expiry
        async for event in stream.events():
            started = time.perf_counter()
            now = datetime.now(UTC)
            try:
                handover = ClassifiedSignal.model_validate_json(event.value)
                result = judge(
                    handover.signal,
                    handover.classification,
                    deduper,
                    rules.rules,
                    now,
                    handover.topic,
                )
                await memory.written()  # remembered before handed on: see AckedTable
                if result.topic is not None and result.routed is not None:
                    await send_acked(
                        result.topic,
                        handover.signal.signal_id.encode(),
                        result.routed.model_dump_json().encode(),
                    )
            except (ValidationError, ValueError, KeyError, TypeError) as exc:
                log.exception("cannot judge message")
                await park(event, f"{type(exc).__name__}: {exc}")
                continue
            if now - last_expiry > EXPIRE_EVERY:  # table writes need an event's context
                last_expiry = now
                deduper.expire(now)
            _count(result, handover.signal.signal_id, time.perf_counter() - started)

    @app.timer(settings.rules_reload_interval_s)  # type: ignore[untyped-decorator]
    async def reload_rules() -> None:
        rules.reload_if_changed()

    if settings.incidents_enabled:
        add_incident_stage(app, settings, CLASSIFIED_TOPIC, rules)
    return app


def _count(result: Any, signal_id: str, seconds: float) -> None:
    decision = result.decision
    if decision.resubmission:
        metrics.RESUBMISSIONS_DROPPED.inc()
        log.info("dropped re-submission", extra=fields(signal_id=signal_id))
    elif decision.duplicate_of is not None:
        metrics.DUPLICATES.labels(decision.reason).inc()
        log.info(
            "duplicate",
            extra=fields(
                signal_id=signal_id,
                cluster_id=decision.cluster_id,
                destination=decision.destination,
            ),
        )
    else:
        routed = result.routed
        metrics.SIGNALS_ROUTED.labels(
            routed.classification.kind.value, result.route.destination, result.route.rule_id
        ).inc()
        log.info(
            "routed",
            extra=fields(
                signal_id=signal_id,
                destination=result.route.destination,
                rule_id=result.route.rule_id,
            ),
        )
    metrics.PROCESSING_SECONDS.observe(seconds)
