"""The processor's incident stage: watches the classified signals beside the judge stage
and publishes incidents (signals.incidents) and their tickets for the service desk
(signals.incidents.desk).

antenna-processor-classified (1 partition) ──► judge (unchanged)
                                            └► detect-incidents ──► signals.incidents
antenna-processor-incident-clock (1 partition) ┘                 └► signals.incidents.desk

The agent reads the topic the judge reads: Faust hands each record to both agents, and
its offset is committed only once both have finished it (services/common/offsets.py,
each a reader of the topic with a place of its own), so neither waits for the other's
decisions and every report stays its own case. The clock topic brings a tick every
``incident_clock_interval_s`` from each worker's timer, so that incidents close when they
have gone quiet even if no signal comes in (a Faust table can be written only while an
event is processed). With one partition it is co-partitioned with the classified topic:
the worker that owns one owns the other, and the incident table with them.

Like the judge, the stage writes its table before it hands anything on, retries a broker
that is away, and stops the worker when the broker refuses a write for good
(``on_refused``): the event stays uncommitted and is read again after the restart, and
the detector, idempotent per report and per tick, gives back what it owes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, NoReturn

import faust
from faust.types import AppT

from schemas import topics
from services.common.broker_errors import (
    BrokerRefused,
    BrokerRetry,
    Outgoing,
    send_all,
    with_retries,
)
from services.common.crash_points import CrashPoints
from services.common.faust_app import acked_table, park_on_dlq, raw_topic
from services.common.logging import fields
from services.common.offsets import InputOffsets, Taken, take_in_order
from services.processor import metrics
from services.processor.domain.incidents import Change, IncidentDetector, report_of
from services.processor.handlers import ClassifiedSignal, InvalidSignal, decode_classified
from services.processor.incident_desk import desk_event
from services.processor.rules_file import RulesFile
from services.processor.settings import ProcessorSettings

log = logging.getLogger(__name__)
TICK_KEY = b"tick"
BROKER_RETRY = BrokerRetry()
# Stops the worker when the broker refuses a write for good (the judge's stop_judging).
OnRefused = Callable[[bytes | None, BrokerRefused], NoReturn]


def clock_topic(app_id: str) -> str:
    return f"{app_id}-incident-clock"


def tick_value(now: datetime) -> bytes:
    """A tick says what time it is; the stage closes what has been quiet since."""
    return now.astimezone(UTC).isoformat().encode()


class IncidentGaugeSensor(faust.Sensor):
    """Once a rebalance is over (tables restored), the worker that owns the stage exports
    its open incidents at once, and any other worker nothing: a stale 1 from a worker
    that lost the stage would keep the alert firing, a gap until the next tick would
    resolve it for a moment."""

    def __init__(self, refresh: Callable[[AppT], None]) -> None:
        super().__init__()
        self.refresh = refresh

    def on_rebalance_end(self, app: AppT, state: dict[str, Any]) -> None:
        self.refresh(app)


def add_incident_stage(
    app: faust.App,
    settings: ProcessorSettings,
    classified: str,
    rules: RulesFile,
    on_refused: OnRefused,
    offsets: InputOffsets,
    reader: str,
    batch: int = 1,
    decode: Callable[[Any], ClassifiedSignal] | None = None,
) -> None:
    """Add the agent, its table and its clock to the processor's ``app``; ``classified``
    is the judge stage's input topic; ``offsets`` keeps the stage's input offsets, as
    ``reader`` of the classified topic; ``batch``: the most events taken at once (their
    table writes acknowledged together, before any of their incidents is published);
    ``decode``: reads a classified event (the judge's, shared), InvalidSignal for poison."""
    decode = decode or (lambda event: decode_classified(event.value))
    policy = settings.incident_policy()
    clock_name = clock_topic(app.conf.id)
    # Coalesced: a category's window, rewritten by each of its complaints, is sent once
    # per batch (its latest value), before anything of the batch is published.
    memory = acked_table(app, "incident-memory", partitions=1, coalesce=True)
    detector = IncidentDetector(memory, policy)
    source = raw_topic(app, classified, clock_name, internal=True, partitions=1, acks=False)
    clock = raw_topic(app, clock_name, internal=True, partitions=1, acks=False)
    outputs = {name: raw_topic(app, name) for name in (topics.INCIDENTS, topics.INCIDENTS_DESK)}
    dlq = raw_topic(app, topics.DLQ)
    crash_point = CrashPoints(settings.test_crash_at, settings.var_dir)

    def export_open() -> None:
        for category, count in detector.open_by_category().items():
            metrics.INCIDENTS_OPEN.labels(category).set(count)

    def refresh(worker: AppT) -> None:
        if any(tp.topic == classified for tp in worker.assignor.assigned_actives()):
            export_open()
        else:
            metrics.INCIDENTS_OPEN.clear()

    app.sensors.add(IncidentGaugeSensor(refresh))

    async def write(what: str, make: Callable[[], Awaitable[Any]]) -> None:
        await with_retries(make, what, BROKER_RETRY)

    def records(change: Change) -> list[Outgoing]:
        """The incident, then what it adds to its ticket; both keyed by incident_id."""
        incident = change.incident
        key = incident.incident_id.encode()
        out: list[Outgoing] = [
            (outputs[topics.INCIDENTS], key, incident.model_dump_json().encode())
        ]
        routed = desk_event(change, rules.rules, policy.quiet)
        if routed is not None:
            out.append((outputs[topics.INCIDENTS_DESK], key, routed.model_dump_json().encode()))
        return out

    def published(change: Change) -> None:
        incident = change.incident
        metrics.INCIDENT_CHANGES.labels(incident.category.value, incident.status.value).inc()
        log.info(
            "incident",
            extra=fields(
                incident_id=incident.incident_id,
                status=incident.status.value,
                category=incident.category.value,
                reports=incident.reports_count,
                version=incident.version,
            ),
        )

    def changes_of(event: Any) -> list[Change]:
        message = event.message
        if message.topic == clock_name:
            now = datetime.fromisoformat(event.value.decode())
            # The tick's place on its topic names it: a redelivered tick is the same one.
            return detector.tick(now, f"{message.partition}-{message.offset}")
        try:
            handover = decode(event)
        except InvalidSignal:
            return []  # the judge parks what it cannot read
        report = report_of(handover.signal, handover.classification, policy)
        return detector.observe(report) if report is not None else []

    async def detect(batch: list[Taken]) -> None:
        changes: list[Change] = []
        for taken in batch:
            event = taken.event
            try:
                changes.extend(changes_of(event))
            except Exception as exc:  # a bug must not stop the stage: park and go on
                log.exception("cannot detect incidents")
                error = f"{type(exc).__name__}: {exc}"
                await write(topics.DLQ, partial(park_on_dlq, dlq, "incidents", event, error))
                metrics.DEAD_LETTERS.labels("incidents").inc()
        await write("incident memory", memory.written)  # remembered before handed on
        if changes:
            crash_point("incidents.remembered")
        # Sent together, acknowledged together; each incident's changes stay in order.
        await send_all([r for change in changes for r in records(change)], BROKER_RETRY, True)
        for change in changes:
            published(change)
        export_open()

    async def detect_or_stop(batch: list[Taken]) -> list[bool]:
        try:
            await detect(batch)
        except BrokerRefused as refused:
            on_refused(batch[-1].event.key, refused)
        return [True] * len(batch)

    @app.agent(source, name="detect-incidents")
    async def detect_incidents(stream: faust.StreamT[bytes]) -> None:
        await take_in_order(offsets, stream, detect_or_stop, reader, most=batch)

    @app.timer(settings.incident_clock_interval_s)  # type: ignore[untyped-decorator]
    async def incident_clock() -> None:
        await clock.send(key=TICK_KEY, value=tick_value(datetime.now(UTC)))
