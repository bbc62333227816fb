"""The processor's incident stage: watches the classified signals beside the judge stage
and publishes incidents (signals.incidents) and their tickets for the service desk.

antenna-processor-classified (1 partition) ──► judge (unchanged)
                                            └► detect-incidents ──► signals.incidents
antenna-processor-incident-clock (1 partition) ┘                 └► the desk (incident_desk.py)

The agent reads the topic the judge reads: Faust hands each record to both agents and
commits its offset only once both have acked it, so neither waits for the other's
decisions and every report stays its own case. The clock topic brings a tick every
``incident_clock_interval_s`` from each worker's timer, so that incidents close when they
have gone quiet even if no signal comes in (a Faust table can be written only while an
event is processed). With one partition it is co-partitioned with the classified topic:
the worker that owns one owns the other, and the incident table with them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import AppT
from pydantic import ValidationError

from schemas import topics
from services.common.dead_letters import dead_letter
from services.common.faust_app import acked_table, raw_topic
from services.common.logging import fields
from services.processor import metrics
from services.processor.domain.incidents import Change, IncidentDetector, report_of
from services.processor.handlers import ClassifiedSignal
from services.processor.incident_desk import desk_event
from services.processor.rules_file import RulesFile
from services.processor.settings import ProcessorSettings

log = logging.getLogger(__name__)
TICK_KEY = b"tick"


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
    app: faust.App, settings: ProcessorSettings, classified: str, rules: RulesFile
) -> None:
    """Add the agent, its table and its clock to the processor's ``app``; ``classified``
    is the judge stage's input topic."""
    policy = settings.incident_policy()
    clock_name = clock_topic(app.conf.id)
    memory = acked_table(app, "incident-memory", partitions=1)
    detector = IncidentDetector(memory, policy)
    source = raw_topic(app, classified, clock_name, internal=True, partitions=1)
    clock = raw_topic(app, clock_name, internal=True, partitions=1)
    outputs = {
        name: raw_topic(app, name)
        for name in (topics.INCIDENTS, topics.ROUTED_SERVICEDESK, topics.DUPLICATES, topics.DLQ)
    }

    def export_open() -> None:
        for category, count in detector.open_by_category().items():
            metrics.INCIDENTS_OPEN.labels(category).set(count)

    def refresh(worker: AppT) -> None:
        if any(tp.topic == classified for tp in worker.assignor.assigned_actives()):
            export_open()
        else:
            metrics.INCIDENTS_OPEN.clear()

    app.sensors.add(IncidentGaugeSensor(refresh))

    async def send_acked(topic: str, key: bytes | None, value: bytes) -> None:
        await (await outputs[topic].send(key=key, value=value))

    async def publish(change: Change) -> None:
        """The incident, then what it adds to its ticket; both keyed by incident_id."""
        incident = change.incident
        key = incident.incident_id.encode()
        await send_acked(topics.INCIDENTS, key, incident.model_dump_json().encode())
        event = desk_event(change, rules.rules, policy.quiet)
        if event is not None:
            topic, routed = event
            await send_acked(topic, key, routed.model_dump_json().encode())
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
            handover = ClassifiedSignal.model_validate_json(event.value)
        except ValidationError:
            return []  # the judge parks what it cannot read
        report = report_of(handover.signal, handover.classification, policy)
        return detector.observe(report) if report is not None else []

    async def park(event: Any, error: str) -> None:
        msg = event.message
        letter = dead_letter(
            "incidents", error, msg.topic, msg.partition, msg.offset, event.key, event.value
        )
        await send_acked(topics.DLQ, event.key, letter.model_dump_json().encode())
        metrics.DEAD_LETTERS.labels("incidents").inc()

    @app.agent(source, name="detect-incidents")
    async def detect_incidents(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            try:
                changes = changes_of(event)
                await memory.written()  # remembered before handed on: see AckedTable
                for change in changes:
                    await publish(change)
            except (ValueError, KeyError, TypeError) as exc:
                log.exception("cannot detect incidents")  # a bug must not stop the stage
                await park(event, f"{type(exc).__name__}: {exc}")
                continue
            export_open()

    @app.timer(settings.incident_clock_interval_s)  # type: ignore[untyped-decorator]
    async def incident_clock() -> None:
        await clock.send(key=TICK_KEY, value=tick_value(datetime.now(UTC)))
