"""The connectors as a Faust app.

One agent per routed topic delivers new cases to that destination's connector; one
agent on signals.duplicates hands each duplicate to the connector of the destination
its case went to, so that the ticket or lead gets a note instead of a twin.

Each agent decodes a RoutedSignal, skips it when the ledger (a changelog-backed table
keyed by signal_id) says it was handled already, delivers with retries, publishes the
DeliveryResult to signals.delivered, and records the outcome in the ledger."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import faust
from pydantic import ValidationError

from schemas import DeliveryResult, DeliveryStatus, RoutedSignal, topics
from services.common.dead_letters import dead_letter
from services.common.faust_app import acked_table, make_faust_app, raw_topic
from services.common.logging import fields
from services.connectors import metrics, outcome_sources
from services.connectors.base import Connector, ConnectorContext
from services.connectors.delivery import deliver_with_retries
from services.connectors.records import CaseRecords, MemoryRecords, TableRecords
from services.connectors.registry import build
from services.connectors.retry import RetryPolicy
from services.connectors.settings import ConnectorSettings

log = logging.getLogger(__name__)
APP_ID = "antenna-connectors"
FINAL = {DeliveryStatus.delivered.value, DeliveryStatus.dead.value}
Agent = Callable[[faust.StreamT[bytes]], Coroutine[Any, Any, None]]
# Which connector handles a routed signal; None: not ours (e.g. a triage duplicate).
Chooser = Callable[[RoutedSignal], Connector | None]


def build_connectors(
    settings: ConnectorSettings, records: Callable[[str], CaseRecords] = MemoryRecords
) -> dict[str, Connector]:
    """One connector per destination; ``records`` gives each destination its case ->
    record mapping (in memory unless the Faust app passes its table)."""
    return {
        destination: build(
            dest.connector,
            dest.options,
            ConnectorContext(destination, settings.var_dir, records(destination)),
        )
        for destination, dest in settings.destinations().items()
    }


def create_app(
    settings: ConnectorSettings, connectors: dict[str, Connector] | None = None
) -> faust.App:
    app = make_faust_app(APP_ID, settings)
    # Case -> record mapping, written before and after each vendor call (records.py).
    case_records = acked_table(app, "case-records", partitions=settings.topic_partitions)
    if connectors is None:
        connectors = build_connectors(settings, lambda d: TableRecords(case_records, d))
    policy = RetryPolicy(
        max_attempts=settings.delivery_max_attempts,
        base_delay_s=settings.delivery_base_delay_s,
        max_delay_s=settings.delivery_max_delay_s,
    )
    delivered_topic = raw_topic(app, topics.DELIVERED)
    dlq = raw_topic(app, topics.DLQ)
    ledger = acked_table(app, "delivery-ledger", partitions=settings.topic_partitions)

    async def park(event: Any, stage: str, error: str) -> None:
        msg = event.message
        letter = dead_letter(
            stage, error, msg.topic, msg.partition, msg.offset, event.key, event.value
        )
        await (await dlq.send(key=event.key, value=letter.model_dump_json().encode()))

    def agent(choose: Chooser) -> Agent:
        async def deliver(stream: faust.StreamT[bytes]) -> None:
            async for event in stream.events():
                try:
                    routed = RoutedSignal.model_validate_json(event.value)
                except ValidationError as exc:
                    await park(event, "connectors", f"not a valid RoutedSignal: {exc}")
                    metrics.DEAD_LETTERS.labels("unknown").inc()
                    continue
                connector = choose(routed)
                if connector is None:
                    continue
                destination = connector.context.destination
                signal_id = routed.signal.signal_id
                if ledger.get(signal_id) in FINAL:
                    metrics.ALREADY_DELIVERED.labels(destination).inc()
                    continue
                started = time.perf_counter()
                result = await deliver_with_retries(connector, routed, policy)
                await publish(result, event)
                ledger[signal_id] = result.status.value
                await ledger.written()  # before the input offset can be committed
                metrics.DELIVERIES.labels(destination, connector.name, result.status.value).inc()
                metrics.DELIVERY_SECONDS.labels(destination).observe(time.perf_counter() - started)
                log.info(
                    "delivery",
                    extra=fields(
                        signal_id=signal_id,
                        destination=destination,
                        status=result.status.value,
                        attempts=result.attempts,
                        duplicate_of=routed.dedupe.duplicate_of,
                    ),
                )

        return deliver

    async def publish(result: DeliveryResult, event: Any) -> None:
        key = result.signal_id.encode()
        await (await delivered_topic.send(key=key, value=result.model_dump_json().encode()))
        if result.status is not DeliveryStatus.delivered:
            # Not lost: the routed event waits on the DLQ, with the reason, for a replay.
            await park(event, f"connectors/{result.destination}", result.error or result.status)
            metrics.DEAD_LETTERS.labels(result.destination).inc()

    def always(connector: Connector) -> Chooser:
        return lambda routed: connector

    def by_destination(routed: RoutedSignal) -> Connector | None:
        return connectors.get(routed.destination.name)

    for destination, connector in connectors.items():
        topic = raw_topic(app, topics.ROUTED_BY_DESTINATION[destination])
        app.agent(topic, name=f"deliver-{destination}")(agent(always(connector)))
    app.agent(raw_topic(app, topics.DUPLICATES), name="note-duplicates")(agent(by_destination))
    # What became of the records: polled, or looked up for a vendor's webhook.
    outcome_sources.install(app, settings, connectors, case_records, policy)
    return app
