"""Operators' decisions reach the processor's dedupe: same-case corrections and triage
labels, applied by the judge stage between two signals.

signals.case-corrections ┐                                    antenna-processor-classified
signals.labels           ┴► forward-decisions ──► antenna-processor-decisions ─┴► judge

The public topics have as many partitions as any other; the dedupe memory has one, and a
Faust table is written in the partition of the event being processed. So a small agent
forwards each decision (checked, acknowledged) to an internal one-partition topic, which
the judge stage reads beside its signals: co-partitioned with the memory, and never at
the same moment as a signal, so that a decision and a judgement cannot interleave their
writes. ``apply`` is the judge's handler for those events: the pure
``corrections.apply_decision``, then, like a judgement, the memory written before
anything is handed on."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import faust
from pydantic import ValidationError

from schemas import CaseCorrection, Label, topics
from services.common.broker_errors import BrokerRetry, with_retries
from services.common.faust_app import AckedTable, park_on_dlq, raw_topic
from services.common.logging import fields
from services.common.offsets import InputOffsets, one_by_one, take_in_order
from services.processor import metrics
from services.processor.domain.corrections import apply_decision
from services.processor.domain.dedupe import Deduper
from services.processor.rules_file import RulesFile

log = logging.getLogger(__name__)
BROKER_RETRY = BrokerRetry()
# The internal record's key says what it carries; the public key follows.
LABEL_PREFIX, CORRECTION_PREFIX = b"label:", b"correction:"
SendAcked = Callable[[str, bytes | None, bytes], Awaitable[None]]


def decisions_topic(app_id: str) -> str:
    return f"{app_id}-decisions"


def read_decision(key: bytes | None, value: bytes | None) -> CaseCorrection | Label:
    """ValidationError (or ValueError) when the record is not a decision."""
    if (key or b"").startswith(LABEL_PREFIX):
        return Label.model_validate_json(value or b"")
    if (key or b"").startswith(CORRECTION_PREFIX):
        return CaseCorrection.model_validate_json(value or b"")
    raise ValueError("not a forwarded decision")


def add_decision_stage(
    app: faust.App,
    deduper: Deduper,
    memory: AckedTable,
    rules: RulesFile,
    send_acked: SendAcked,
    offsets: InputOffsets,
) -> tuple[str, Callable[[Any], Awaitable[None]]]:
    """Add the forwarding agent; return the internal topic the judge stage must also read,
    and the handler for its events. ``offsets`` keeps the offsets of the topics it reads."""
    name = decisions_topic(app.conf.id)
    internal = raw_topic(app, name, internal=True, partitions=1, acks=False)
    dlq = raw_topic(app, topics.DLQ)

    async def write(what: str, make: Callable[[], Awaitable[Any]]) -> None:
        await with_retries(make, what, BROKER_RETRY)

    async def park(event: Any, error: str) -> None:
        await write(topics.DLQ, partial(park_on_dlq, dlq, "decisions", event, error))
        metrics.DEAD_LETTERS.labels("decisions").inc()

    async def forward_one(event: Any) -> None:
        topic = event.message.topic
        prefix = LABEL_PREFIX if topic == topics.LABELS else CORRECTION_PREFIX
        key = prefix + (event.key or b"")
        if event.value is None:
            return  # a tombstone: a label erased; what it did to dedupe stays
        try:
            read_decision(key, event.value)
        except (ValidationError, ValueError) as exc:
            await park(
                event,
                f"not a valid {'Label' if prefix == LABEL_PREFIX else 'CaseCorrection'}: {exc}",
            )
            return

        async def send() -> None:
            await (await internal.send(key=key, value=event.value))

        await write(name, send)

    async def forwarded(event: Any, taken_in: int) -> bool:
        await forward_one(event)
        return True

    public = raw_topic(app, topics.CASE_CORRECTIONS, topics.LABELS, acks=False)

    @app.agent(public, name="forward-decisions")
    async def forward_decisions(stream: faust.StreamT[bytes]) -> None:
        await take_in_order(offsets, stream, one_by_one(forwarded))

    async def apply(event: Any) -> None:
        try:
            decision = read_decision(event.key, event.value)
            effect = apply_decision(decision, memory, rules.rules, deduper.policy)
        except Exception as exc:  # a bug must not stop the judge: park and go on
            log.exception("cannot apply an operator's decision")
            await park(event, f"{type(exc).__name__}: {exc}")
            return
        await write("dedupe memory", memory.written)  # remembered before handed on
        if effect.routed is not None and effect.topic is not None:
            key = effect.routed.signal.signal_id.encode()
            value = effect.routed.model_dump_json().encode()
            await write(effect.topic, partial(send_acked, effect.topic, key, value))
        kind = "label" if isinstance(decision, Label) else decision.verdict.value
        metrics.DECISIONS_APPLIED.labels(kind, effect.what).inc()
        log.info(
            "operator decision applied",
            extra=fields(
                decision=kind,
                effect=effect.what,
                signal_id=decision.signal_id,
                destination=effect.routed.destination.name if effect.routed else None,
            ),
        )

    return name, apply
