"""The processor as a Faust app. Agents only loop: take a batch, call handlers, send.

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

Both stages work in batches (``ANTENNA_PROCESSOR_BATCH_SIZE`` events, or what came within
``ANTENNA_PROCESSOR_BATCH_WAIT_MS``): every output of a batch is handed to the producer at
once and the acknowledgements are awaited together, and only then are the batch's input
offsets released for commit (at-least-once). A round trip to the broker, or to a worker
process, is paid per batch instead of per signal.

Classification runs in worker processes (services.common.budget) with a time budget,
``ANTENNA_CLASSIFY_BUDGET_S``: one call per batch, under that budget. When a batch does
not come back in time (or its worker dies, or it raises), each of its signals is
classified again on its own under the same budget, so a hostile message parks only
itself: it is parked on signals.dlq with the reason, its worker is killed and replaced,
and the partition goes on. The workers are forked once the model is trained, so they
start with it. The classify agent runs one actor per worker (``ANTENNA_CLASSIFY_WORKERS``,
default 1, which keeps each partition's order). With more, batches are classified side by
side on several cores and offsets are committed only up to the oldest signal not yet
handed over (at-least-once holds), but two signals of one partition in different batches
may reach the judge stage in either order, as signals of different partitions always
could. More processor replicas scale out without that.

The judge stage decides a batch's signals one after the other (each decision sees the
memory the previous one left), then waits once for the broker to acknowledge the dedupe
memory's writes, and only then hands any of the batch's events on. An operator's decision
in a batch ends a run of signals: what came before it is remembered and handed on first,
then the decision is applied as on its own (decision_stage.py), then the next run.
A record the broker failed to take is written again on its own after the batch's others:
across such a fault, two records of one batch may land in the other order.
"""

from __future__ import annotations

import logging
import os
import re
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NoReturn, cast

import faust
from faust.streams import _current_event
from faust.types import EventT

from schemas import topics
from services.common.broker_errors import (
    BrokerRefused,
    BrokerRetry,
    all_acknowledged,
    with_retries,
)
from services.common.budget import ChildPool
from services.common.crash_points import CrashPoints
from services.common.dead_letters import dead_letter
from services.common.faust_app import acked_table, let_go, make_faust_app, raw_topic
from services.common.logging import fields
from services.processor import metrics
from services.processor.batch import (
    Output,
    Parked,
    classify_batch,
    classify_messages,
    judged_outputs,
)
from services.processor.classifier.model import trained_models
from services.processor.decision_stage import add_decision_stage
from services.processor.domain.dedupe import DedupePolicy, Deduper
from services.processor.handlers import InvalidSignal, Judgement, decode_classified, judge
from services.processor.incident_stage import add_incident_stage
from services.processor.rules_file import RulesFile
from services.processor.settings import ProcessorSettings

log = logging.getLogger(__name__)
APP_ID = "antenna-processor"
CLASSIFIED_TOPIC = f"{APP_ID}-classified"
# A stage stops with this exit code when the broker refuses a write for good.
EXIT_BROKER_REFUSED = 70  # EX_SOFTWARE
BROKER_RETRY = BrokerRetry()
SIGNAL_ID = re.compile(r"[0-9A-Z]{26}")  # a ULID, as ingest keys signals.raw


def create_app(settings: ProcessorSettings) -> faust.App:
    trained_models()  # train now (1-2 s), not on the first signal
    # Forked with the trained model, before the worker starts any thread. Not closed when
    # the app stops: a call still running would fail and park its signal. The workers go
    # when this process exits (the pool's finalizer, or their socket closing).
    classifiers = ChildPool(settings.classify_workers, "classify")
    classifiers.start()
    app = make_faust_app(
        APP_ID, settings, producer_max_request_size=settings.kafka_max_request_bytes
    )
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
    outputs[CLASSIFIED_TOPIC] = classified
    memory = acked_table(app, "dedupe-memory", partitions=1, ends_alone=True)
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
    budget = settings.classify_budget_s
    batch_size, batch_wait_s = (
        settings.processor_batch_size,
        settings.processor_batch_wait_ms / 1000,
    )

    async def hand_on(events: Sequence[Any], handed: Sequence[tuple[int, Output]]) -> None:
        """Send the outputs of a batch's events (``handed``: the event's index, its
        output) in order, then await every acknowledgement; a transient broker error is
        retried per record (WriteRefused when the broker refuses one for good)."""
        writes: list[tuple[str, Callable[[], Awaitable[Awaitable[Any]]]]] = []
        for index, output in handed:
            if isinstance(output, Parked):
                writes.append((topics.DLQ, partial(_send_letter, events[index], output.reason)))
            else:
                topic, key, value = output
                writes.append((topic, partial(outputs[topic].send, key=key, value=value)))
        try:
            await all_acknowledged(writes, BROKER_RETRY)
        except BrokerRefused as refused:
            index = handed[refused.index or 0][0]
            raise WriteRefused(events[index].key, refused) from refused
        for index, output in handed:
            if isinstance(output, Parked):
                metrics.DEAD_LETTERS.labels("processor").inc()
                msg = events[index].message
                log.warning(
                    "parked on dlq",
                    extra=fields(topic=msg.topic, offset=msg.offset, error=output.reason[:200]),
                )

    async def send_acked(topic: str, key: bytes | None, value: bytes) -> None:
        await (await outputs[topic].send(key=key, value=value))

    # Operators' same-case corrections and triage labels, applied between two judgements.
    decisions, apply_decision = add_decision_stage(app, deduper, memory, rules, send_acked)

    def _send_letter(event: Any, reason: str) -> Awaitable[Awaitable[Any]]:
        msg = event.message
        letter = dead_letter(
            "processor", reason, msg.topic, msg.partition, msg.offset, event.key, event.value
        )
        return outputs[topics.DLQ].send(key=event.key, value=letter.model_dump_json().encode())

    async def in_worker(values: Sequence[bytes | None]) -> Sequence[bytes | str]:
        return await classifiers.run(budget, classify_messages, values)

    @app.agent(raw, concurrency=settings.classify_workers)
    async def classify(stream: faust.StreamT[bytes]) -> None:
        await in_batches(stream, batch_size, batch_wait_s, "classify", classify_and_hand_on)

    async def classify_and_hand_on(events: Sequence[Any]) -> None:
        results = await classify_batch(in_worker, [event.value for event in events], budget)
        handed: list[tuple[int, Output]] = [
            (i, result if isinstance(result, Parked) else (CLASSIFIED_TOPIC, event.key, result))
            for i, (event, result) in enumerate(zip(events, results, strict=True))
        ]
        await hand_on(events, handed)

    def judge_one(event: Any) -> tuple[str | None, Judgement | Parked]:
        """Decide one event; its memory writes are made, not yet acknowledged."""
        try:
            handover = decode_classified(event.value)
            with writing_for(event):
                result = judge(
                    handover.signal,
                    handover.classification,
                    deduper,
                    rules.rules,
                    datetime.now(UTC),
                    handover.topic,
                    handover.matter,
                )
        except Exception as exc:  # poison, or a bug: park it, the partition goes on
            if isinstance(exc, InvalidSignal):
                return None, Parked(str(exc))
            log.exception("cannot judge message")
            return None, Parked(f"{type(exc).__name__}: {exc}")
        return handover.signal.signal_id, result

    async def judge_batch(events: Sequence[Any]) -> None:
        """Judge a batch in order: its signals run by run, each operator's decision
        between two runs (applied once everything before it is handed on, as if alone).
        WriteRefused when the broker will not take what must be written first."""
        run: list[Any] = []
        for event in events:
            if event.message.topic != decisions:
                run.append(event)
                continue
            await judge_run(run)
            run = []
            try:
                with writing_for(event):
                    await apply_decision(event)
            except BrokerRefused as refused:
                raise WriteRefused(event.key, refused) from refused
        await judge_run(run)

    async def judge_run(events: Sequence[Any]) -> None:
        """Judge signals one after the other, wait once for the memory's writes, then hand
        every outcome on at once."""
        if not events:
            return
        started = time.perf_counter()
        judged = [judge_one(event) for event in events]
        # Remembered before anything is handed on: see AckedTable.
        try:
            await with_retries(memory.written, "dedupe memory", BROKER_RETRY)
        except BrokerRefused as refused:  # the batch is judged again from its first
            raise WriteRefused(events[0].key, refused) from refused
        crash_point("judge.remembered")
        await hand_on(events, judged_outputs([result for _, result in judged]))
        crash_point("judge.handed-on")
        seconds = time.perf_counter() - started
        for signal_id, result in judged:
            if signal_id is not None and not isinstance(result, Parked):
                _count(result, signal_id, seconds)

    @app.agent(raw_topic(app, CLASSIFIED_TOPIC, decisions, internal=True, partitions=1))
    async def judge_signals(stream: faust.StreamT[bytes]) -> None:
        await in_batches(stream, batch_size, batch_wait_s, "judge", judge_batch)

    @app.timer(settings.rules_reload_interval_s)  # type: ignore[untyped-decorator]
    async def reload_rules() -> None:
        rules.reload_if_changed()

    if settings.incidents_enabled:
        add_incident_stage(app, settings, CLASSIFIED_TOPIC, rules, partial(stop_stage, "incidents"))
    return app


async def in_batches(
    stream: faust.StreamT[bytes],
    size: int,
    wait_s: float,
    stage: str,
    handle: Callable[[Sequence[Any]], Awaitable[None]],
) -> None:
    """Hand the stream to ``handle`` up to ``size`` events at a time, or those that came
    within ``wait_s``. Faust acks (lets commit) a batch's events when the loop asks for
    the next batch, so only once ``handle`` is done with them. WriteRefused stops the
    worker (stop_stage)."""
    taken: AsyncIterator[Sequence[EventT[bytes]]]
    taken = cast(faust.Stream[bytes], stream).take_events(size, within=wait_s)
    async for events in taken:
        try:
            await handle(events)
        except WriteRefused as refused:
            stop_stage(stage, refused.key, refused.refused)
        except BaseException:
            _let_go_all(events)
            raise


@contextmanager
def writing_for(event: Any) -> Iterator[None]:
    """Table writes made inside go to ``event``'s partition (Faust finds it through the
    task's current event). Only this task's context is set: the stream's own
    ``current_event`` belongs to take_events, which reads it while it fills the next
    batch (clearing it there lost an event from a batch)."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def _let_go_all(events: Sequence[Any]) -> None:
    """A batch that did not finish (cancelled at a stop, or a bug): none of its offsets
    may be committed, though take_events acks what it yielded when it is left."""
    for event in events:
        let_go(event)


class WriteRefused(Exception):
    """The broker refused a stage's write for good (``refused``), for the event keyed
    ``key``."""

    def __init__(self, key: bytes | None, refused: BrokerRefused) -> None:
        super().__init__(str(refused))
        self.key = key
        self.refused = refused


def stop_stage(stage: str, key: bytes | None, refused: BrokerRefused) -> NoReturn:
    """Stop the worker at once, loudly, with the batch's offsets uncommitted: its
    signals are read again after the restart. Not by raising: Faust restarts a crashed
    agent, which goes on with the next events, past the ones it crashed on (seen in
    tests/integration/test_processor_faults.py). Nothing of the signal but its id (the
    key) is logged."""
    text = (key or b"").decode("ascii", "replace")
    signal_id = text if SIGNAL_ID.fullmatch(text) else "<not a signal id>"
    log.critical(
        f"{stage} stage stopped: the broker refused a write; the signal is read again "
        "after a restart",
        extra=fields(
            signal_id=signal_id,
            write=refused.what,
            error=type(refused.error).__name__,
            attempts=refused.attempts,
        ),
    )
    logging.shutdown()
    os._exit(EXIT_BROKER_REFUSED)


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
