"""The processor as a Faust app. Agents only loop: decode, call a handler, send.

signals.raw (key signal_id, N partitions)
  -> classify: validate (invalid -> signals.dlq) and classify, in parallel per partition
  -> antenna-processor-classified (1 partition: one owner sees every customer's history)
  -> judge: drop re-submissions, recognise duplicates (-> signals.duplicates), route by
     the rules (-> signals.routed.servicedesk / signals.routed.crm / signals.triage)
     operators' decisions (same-case corrections, triage labels) reach the judge stage
     as a second input: decision_stage.py
  -> detect-incidents, beside the judge: several customers with one problem
     (-> signals.incidents, and one ticket for the desk on signals.incidents.desk:
     incident_stage.py)

The judge stage is a single partition on purpose: one customer may be known by phone
in one report and by e-mail in the next, so no partitioning key keeps a customer's
reports together. Classification, the costly part, stays parallel.

Every stage keeps its input offsets itself (services/common/offsets.py, as the connectors
do; Faust's acks are off for these topics): Faust 0.15.3 drops records it has fetched
around a rebalance, the first one at start-up included, and with its own offsets a
report it dropped stayed uncommitted and unjudged until the next restart. Events are
taken in offset order, in batches of what has been fetched (up to ``BATCH``): a batch is
classified in one call to a worker, judged in order, its table writes acknowledged before
anything of it is handed on, its hand-overs sent together, and its offsets committed once
all their acknowledgements are in (one commit per batch and partition);
after every rebalance each partition is read again from its first unfinished event. The
judge and incident stages both read the classified topic: it is committed up to the
first event one of them has not finished.

Classification runs in worker processes (services.common.budget) with a time budget,
``ANTENNA_CLASSIFY_BUDGET_S``: a message that takes longer is parked on signals.dlq with
that reason, its worker is killed and replaced, and the partition goes on. The workers
are forked once the model is trained, so they start with it. The classify agent runs one
actor per worker (``ANTENNA_CLASSIFY_WORKERS``, default 1, which keeps each partition's
order). With more, signals are classified side by side on several cores and offsets are
committed only up to the first signal not yet handed over (at-least-once holds), but two
signals of one partition classified at the same moment may reach the judge stage in
either order, as signals of different partitions always could. More processor replicas
scale out without that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import faust

from schemas import topics
from services.common.broker_errors import (
    BrokerRefused,
    BrokerRetry,
    send_all,
    stop_worker,
    with_retries,
)
from services.common.budget import ChildPool, OverBudget
from services.common.crash_points import CrashPoints
from services.common.dead_letters import dead_letter
from services.common.faust_app import acked_table, make_faust_app, raw_topic
from services.common.logging import fields
from services.common.offsets import AfterRebalance, InputOffsets, Taken, take_in_order
from services.processor import metrics, model_file
from services.processor.decision_stage import add_decision_stage, decisions_topic
from services.processor.domain.dedupe import DedupePolicy, Deduper
from services.processor.handlers import (
    ClassifiedSignal,
    InvalidSignal,
    Judgement,
    assess,
    decode_classified,
    decode_signal,
    judge,
)
from services.processor.incident_stage import add_incident_stage, clock_topic
from services.processor.rules_file import RulesFile
from services.processor.settings import ProcessorSettings

log = logging.getLogger(__name__)
APP_ID = "antenna-processor"
CLASSIFIED_TOPIC = f"{APP_ID}-classified"
BROKER_RETRY = BrokerRetry()
# A write the broker refuses for good stops the worker (exit code EXIT_BROKER_REFUSED).
stop_judging = partial(stop_worker, "judge stage")
JUDGE, INCIDENTS = "judge", "incidents"  # the two readers of the classified topic
# The most events a stage takes at once (of those already fetched: a batch never waits
# for more). Their hand-overs are sent together and acknowledged together, and each
# partition is committed once per batch: a round trip to the broker per batch instead of
# several per event.
BATCH = 100
# The most the producer sends of a partition in one request, unless
# ANTENNA_KAFKA_PRODUCER_MAX_BATCH_BYTES is set (its default, 16 KiB, suits the other
# workers). A batch of events writes about 1.4 MB to the dedupe memory's changelog, and
# a partition carries one batch of records per request, one request in flight: at
# 16 KiB, some 90 round trips before the batch could be handed on.
BATCH_BYTES = 256 * 1024


def input_offsets(app: faust.App, incidents: bool) -> InputOffsets:
    """The offsets of every topic the processor's stages read (all with acks=False), with
    the stage that reads each one, where it is not the only stage on its topic."""
    decisions = decisions_topic(app.conf.id)
    inputs = [topics.RAW, topics.CASE_CORRECTIONS, topics.LABELS, CLASSIFIED_TOPIC, decisions]
    readers = {CLASSIFIED_TOPIC: (JUDGE, INCIDENTS) if incidents else (JUDGE,)}
    readers[decisions] = (JUDGE,)
    if incidents:
        inputs.append(clock_topic(app.conf.id))
        readers[clock_topic(app.conf.id)] = (INCIDENTS,)
    # Committed behind: a stage takes its next batch while the last one's commit is made.
    offsets = InputOffsets(app, inputs, readers, commit_behind=True)
    app.sensors.add(AfterRebalance(offsets))
    return offsets


class SharedDecode:
    """The classified topic's hand-overs, decoded once for its two readers (the judge
    and the incident stage take every event of it): the first to read an offset keeps
    what it decoded, the second takes it, when the record is the same. At most ``most``
    are kept; a reader further behind decodes for itself."""

    def __init__(self, most: int) -> None:
        self.most = most
        self._kept: dict[int, tuple[bytes | None, ClassifiedSignal]] = {}

    def __call__(self, event: Any) -> ClassifiedSignal:
        """InvalidSignal for poison, as decode_classified."""
        offset, value = event.message.offset, event.value
        kept = self._kept.pop(offset, None)
        if kept is not None and kept[0] == value:
            return kept[1]
        handover = decode_classified(value)
        self._kept[offset] = (value, handover)
        if len(self._kept) > self.most:
            del self._kept[next(iter(self._kept))]  # the oldest
        return handover


def batch_bytes(settings: ProcessorSettings) -> int:
    """ANTENNA_KAFKA_PRODUCER_MAX_BATCH_BYTES when it is set, else BATCH_BYTES (no more
    than a request may hold)."""
    if "kafka_producer_max_batch_bytes" in settings.model_fields_set:
        return settings.kafka_producer_max_batch_bytes
    return min(BATCH_BYTES, settings.kafka_max_request_bytes)


def classify_message(value: bytes | None) -> bytes:
    """A raw signal in, the hand-over to the judge stage out (JSON): what a classify
    worker runs. InvalidSignal when the message is not a valid Signal."""
    return assess(decode_signal(value)).model_dump_json().encode()


def create_app(settings: ProcessorSettings) -> faust.App:
    # Load the model now, not on the first signal, and follow `antenna train --activate`.
    model_file.follow(settings.model_reload_interval_s)
    # Forked with the trained model, before the worker starts any thread. Not closed when
    # the app stops: a call still running would fail and park its signal. The workers go
    # when this process exits (the pool's finalizer, or their socket closing).
    classifiers = ChildPool(settings.classify_workers, "classify")
    classifiers.start()
    app = make_faust_app(APP_ID, settings, producer_max_batch_size=batch_bytes(settings))
    rules = RulesFile(settings.routing_rules)
    offsets = input_offsets(app, settings.incidents_enabled)
    raw = raw_topic(app, topics.RAW, acks=False)
    # acks=False on every topic object of an input: Faust acks by topic name.
    classified = raw_topic(app, CLASSIFIED_TOPIC, internal=True, partitions=1, acks=False)
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
    # Each key written once per batch, its latest value, before the batch is handed on.
    memory = acked_table(app, "dedupe-memory", partitions=1, coalesce=True)
    deduper = Deduper(
        memory,
        DedupePolicy(
            window=timedelta(days=settings.dedupe_window_days),
            resend_window=timedelta(minutes=settings.resend_window_minutes),
            index_cap=settings.dedupe_index_cap,
            max_reports=settings.dedupe_max_reports,
            phone_region=settings.dedupe_phone_region,
        ),
    )
    crash_point = CrashPoints(settings.test_crash_at, settings.var_dir)

    async def send_acked(topic: str, key: bytes | None, value: bytes) -> None:
        # Wait for the ack: the input offset is committed only after the hand-over is safe.
        await (await outputs[topic].send(key=key, value=value))

    # Operators' same-case corrections and triage labels, applied between two judgements.
    decisions, apply_decision = add_decision_stage(app, deduper, memory, rules, send_acked, offsets)

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

    async def classify_batch(batch: list[Taken]) -> list[bool]:
        """Classify a batch in one call to a worker (signal by signal when it is over
        budget: the culprit alone is parked), send the hand-overs in the partitions'
        order, and wait for all their acknowledgements."""
        budget = settings.classify_budget_s
        outcomes = await classifiers.run_each(
            budget, classify_message, [taken.event.value for taken in batch]
        )
        sent = []
        for taken, outcome in zip(batch, outcomes, strict=True):
            event, error = taken.event, outcome.error
            if outcome.value is not None:
                sent.append(await classified.send(key=event.key, value=outcome.value))
            elif isinstance(error, InvalidSignal):
                await park(event, str(error))
            elif isinstance(error, OverBudget):
                metrics.OVER_BUDGET.inc()
                await park(
                    event,
                    f"classification took longer than its budget of {budget:g} s "
                    "(ANTENNA_CLASSIFY_BUDGET_S): parked so that the partition goes on",
                )
            else:  # a bug must not stop the partition: park and go on
                log.error("cannot classify message", exc_info=error)
                await park(event, f"{type(error).__name__}: {error}")
        await asyncio.gather(*sent)
        return [True] * len(batch)

    @app.agent(raw, concurrency=settings.classify_workers)
    async def classify(stream: faust.StreamT[bytes]) -> None:
        # Each actor takes the partition's next events; they finish in any order.
        await take_in_order(offsets, stream, classify_batch, most=BATCH)

    # One partition: offsets name the records. Without the incident stage, no sharing.
    decode = SharedDecode(4 * BATCH) if settings.incidents_enabled else None

    def judge_event(event: Any) -> tuple[str, Judgement]:
        """Judge one event, in the order of the partition (the dedupe memory learns of
        it at once): its signal's id, and the judgement. InvalidSignal for poison."""
        handover = decode(event) if decode else decode_classified(event.value)
        return handover.signal.signal_id, judge(
            handover.signal,
            handover.classification,
            deduper,
            rules.rules,
            datetime.now(UTC),
            handover.topic,
            handover.matter,
        )

    Judged = tuple[Any, str, Judgement, float]  # event, signal_id, judgement, started

    async def hand_on(judged: list[Judged]) -> None:
        """Hand on what was judged, all at once, once the dedupe memory has it. The
        broker refusing a write for good stops the worker. The memory's writes are sent
        here, once per key (a coalesced table), even when nothing was judged: a message
        parked half-way may have written some."""
        try:
            # Remembered before handed on: see AckedTable (a wait that overlaps another
            # judgement's still covers every write made before it).
            await with_retries(memory.written, "dedupe memory", BROKER_RETRY)
            if not judged:
                return
            crash_point("judge.remembered")
            await send_all(
                [
                    (outputs[result.topic], result.key, result.routed.model_dump_json().encode())
                    for _, _, result, _ in judged
                    if result.topic is not None and result.routed is not None
                ],
                BROKER_RETRY,
            )
        except BrokerRefused as refused:
            stop_judging(judged[0][0].key if judged else None, refused)
        crash_point("judge.handed-on")
        for _, signal_id, result, started in judged:
            _count(result, signal_id, time.perf_counter() - started)

    async def judge_batch(batch: list[Taken]) -> list[bool]:
        """Judge a batch in order; hand on its judgements together. An operator's
        decision comes between two judgements, whole: what was judged before it is
        handed on first."""
        judged: list[Judged] = []
        for taken in batch:
            event = taken.event
            if event.message.topic == decisions:
                await hand_on(judged)
                judged = []
                try:
                    await apply_decision(event)
                except BrokerRefused as refused:
                    stop_judging(event.key, refused)
                continue
            started = time.perf_counter()
            try:
                judged.append((event, *judge_event(event), started))
            except Exception as exc:  # poison, or a bug: park it, the partition goes on
                if isinstance(exc, InvalidSignal):
                    reason = str(exc)
                else:
                    log.exception("cannot judge message")
                    reason = f"{type(exc).__name__}: {exc}"
                await with_retries(partial(park, event, reason), topics.DLQ, BROKER_RETRY)
        await hand_on(judged)
        return [True] * len(batch)

    judged = raw_topic(app, CLASSIFIED_TOPIC, decisions, internal=True, partitions=1, acks=False)

    @app.agent(judged)
    async def judge_signals(stream: faust.StreamT[bytes]) -> None:
        await take_in_order(offsets, stream, judge_batch, JUDGE, most=BATCH)

    @app.timer(settings.rules_reload_interval_s)  # type: ignore[untyped-decorator]
    async def reload_rules() -> None:
        rules.reload_if_changed()

    @app.timer(settings.model_reload_interval_s)  # type: ignore[untyped-decorator]
    async def reload_model() -> None:
        await asyncio.to_thread(model_file.reload_if_changed)  # a load takes ~0.2 s

    if settings.incidents_enabled:
        add_incident_stage(
            app,
            settings,
            CLASSIFIED_TOPIC,
            rules,
            stop_judging,
            offsets,
            INCIDENTS,
            BATCH,
            decode,
        )
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
