"""The connectors as a Faust app.

One agent per routed topic delivers new cases to that destination's connector; one
agent on signals.duplicates hands each duplicate to the connector of the destination
its case went to, so that the ticket or lead gets a note instead of a twin; one on
signals.incidents.desk opens an incident's ticket and adds its notes the same way.

Every agent runs one actor per partition (``isolated_partitions``): a signal waiting for
its paused destination holds up its own partition only, keeps its place in it, and other
partitions of the same destination go on (and tell a bad payload from an outage).

The connectors keep their input offsets themselves (offsets.py; Faust's acks are off for
these topics): an event's offset is committed only once its outcome is published and
recorded in the ledger (a changelog-backed table keyed by the delivery: the signal_id
of a case, <signal_id>@<case> of a note; ledger.delivery_key), events are taken strictly
in offset order (committed once per batch of what has been fetched), and after every
rebalance each partition is read again from its first unfinished event. A signal that is
waiting when a rebalance or a shutdown starts is let go unfinished, with the rest of its
batch; neither waits for it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from pydantic import ValidationError

from schemas import DeliveryResult, DeliveryStatus, RoutedSignal, topics
from services.common.dead_letters import REPLAY_HEADER, dead_letter
from services.common.faust_app import (
    acked_table,
    make_faust_app,
    pause_until_rebalance,
    raw_topic,
)
from services.common.logging import fields
from services.common.offsets import AfterRebalance, InputOffsets, one_by_one, take_in_order
from services.common.open_cases import Watching
from services.common.table_bounds import Sweeps, share
from services.connectors import metrics, outcome_sources
from services.connectors.base import Connector, ConnectorContext
from services.connectors.delivery import deliver_in_order
from services.connectors.ledger import (
    Entry,
    delivery_key,
    entry_from,
    entry_value,
    expired_keys,
    resumed,
    should_deliver,
)
from services.connectors.pause import DestinationHealth
from services.connectors.records import CaseRecords, MemoryRecords, TableRecords
from services.connectors.records import expired_keys as expired_records
from services.connectors.registry import build
from services.connectors.retry import Waiting
from services.connectors.settings import ConnectorSettings

log = logging.getLogger(__name__)
APP_ID = "antenna-connectors"
DAY = 86400.0
Agent = Callable[[faust.StreamT[bytes]], Coroutine[Any, Any, None]]
# Which connector handles a routed signal; None: not ours (e.g. a triage duplicate).
Chooser = Callable[[RoutedSignal], Connector | None]
# Events of a partition delivered between two commits, at most: what has been fetched.
BATCH = 100


def build_connectors(
    settings: ConnectorSettings, records: Callable[[str], CaseRecords] = MemoryRecords
) -> dict[str, Connector]:
    """One connector per destination; ``records`` gives each destination its case ->
    record mapping (in memory unless the Faust app passes its table)."""
    window = timedelta(days=settings.dedupe_window_days)
    return {
        destination: build(
            dest.connector,
            dest.options,
            ConnectorContext(
                destination, settings.var_dir, records(destination), dedupe_window=window
            ),
        )
        for destination, dest in settings.destinations().items()
    }


def replay_of(event: Any) -> str | None:
    value = (event.headers or {}).get(REPLAY_HEADER)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def event_partition() -> int | None:
    """The partition of the event being processed, where Faust writes a table's key."""
    event = faust.current_event()
    return event.message.partition if event is not None else None


def create_app(
    settings: ConnectorSettings, connectors: dict[str, Connector] | None = None
) -> faust.App:
    app = make_faust_app(APP_ID, settings)
    # Case -> record mapping, written before and after each vendor call (records.py).
    case_records = acked_table(app, "case-records", partitions=settings.topic_partitions)
    if connectors is None:
        connectors = build_connectors(
            settings, lambda d: TableRecords(case_records, d, partition=event_partition)
        )
    policy = settings.retry_policy()
    window_s = settings.dedupe_window_days * DAY
    # Sweep each partition's expired ledger and case -> record entries this often: cheap,
    # and quick enough that the tables hold little more than one window.
    sweep_every_s = min(600.0, window_s / 10)
    keep = share(settings.delivery_ledger_max_entries, settings.topic_partitions)
    sweeps = Sweeps(sweep_every_s, keep)
    # Open cases' entries outlive the window while their records are polled (open_cases).
    hold = settings.hold(settings.topic_partitions)
    health = {
        destination: DestinationHealth(destination, metrics.paused) for destination in connectors
    }
    for destination in connectors:
        metrics.paused(destination, None)
    delivered_topic = raw_topic(app, topics.DELIVERED)
    dlq = raw_topic(app, topics.DLQ)
    ledger = acked_table(app, "delivery-ledger", partitions=settings.topic_partitions)
    # The topics whose offsets the connectors keep (offsets.py): every agent's below
    # that takes its events through ``offsets.admit``.
    inputs = [topics.ROUTED_BY_DESTINATION[d] for d in connectors]
    inputs += [topics.DUPLICATES, topics.INCIDENTS_DESK, topics.RECORD_CHANGES]
    offsets = InputOffsets(app, inputs)
    app.sensors.add(AfterRebalance(offsets))

    async def park(event: Any, stage: str, error: str, **extra: Any) -> None:
        msg = event.message
        letter = dead_letter(
            stage, error, msg.topic, msg.partition, msg.offset, event.key, event.value, **extra
        )
        await (await dlq.send(key=event.key, value=letter.model_dump_json().encode()))

    async def publish(result: DeliveryResult) -> None:
        key = result.signal_id.encode()
        await (await delivered_topic.send(key=key, value=result.model_dump_json().encode()))

    async def record(key: str, entry: Entry) -> None:
        ledger[key] = entry_value(entry)
        await ledger.written()  # before the input offset can be committed

    async def sweep(partition: int) -> None:
        """Expire ledger and case -> record entries older than the dedupe window, and
        ledger entries past the partition's share of its capacity. Faust writes a table's
        tombstone to the current event's partition, so only that partition's entries."""
        now = time.time()
        if not sweeps.due(partition, now):
            return
        opened = watch.opened(datetime.fromtimestamp(now, UTC))
        records = expired_records(
            list(case_records.items()), partition, now, window_s, Watching(opened, hold, now), keep
        )
        if records.crowded:
            metrics.OUTCOME_WATCH_CROWDED.inc(records.crowded)
            log.warning(
                "open cases past the dedupe window let go: no room to poll them",
                extra=fields(partition=partition, count=records.crowded),
            )
        # A case's latest outcome goes with its mapping entry (same key, same partition).
        outcomes = [key for key in records.keys if key in watch.case_outcomes]
        for name, table, expired in (
            ("ledger", ledger, expired_keys(list(ledger.items()), partition, now, window_s, keep)),
            ("case-records", case_records, records.keys),
            ("case-outcomes", watch.case_outcomes, outcomes),
        ):
            for key in expired:
                del table[key]
            if expired:
                await table.written()
                log.info(
                    "table entries expired",
                    extra=fields(table=name, partition=partition, count=len(expired)),
                )

    async def handle(event: Any, choose: Chooser, taken_in: int) -> bool:
        """Deliver one event. True: its outcome is published and recorded (or it is not
        ours); False: let go unfinished (a rebalance or a shutdown started)."""
        partition = event.message.partition
        try:
            routed = RoutedSignal.model_validate_json(event.value)
        except ValidationError as exc:
            await park(event, "connectors", f"not a valid RoutedSignal: {exc}")
            metrics.DEAD_LETTERS.labels("unknown").inc()
            return True
        connector = choose(routed)
        if connector is None:
            return True
        destination = connector.context.destination
        signal_id = routed.signal.signal_id
        key = delivery_key(signal_id, routed.dedupe.cluster_id)
        replay = replay_of(event)
        entry = entry_from(ledger.get(key))
        if not should_deliver(entry, replay is not None):
            metrics.ALREADY_DELIVERED.labels(destination).inc()
            return True
        await sweep(partition)

        async def announce(result: DeliveryResult, waiting: Waiting) -> None:
            # "Waiting for the desk, which is not reachable", at most every few minutes.
            await publish(result)
            await record(key, Entry(DeliveryStatus.retrying, time.time(), partition, waiting))

        started = time.perf_counter()
        result = await deliver_in_order(
            connector,
            routed,
            policy,
            health[destination],
            pause_until_rebalance(app, taken_in),
            announce,
            waiting=resumed(entry),
        )
        if result is None:
            log.info(
                "let go of a waiting signal for a rebalance or a shutdown",
                extra=fields(signal_id=signal_id, destination=destination),
            )
            return False
        await publish(result)
        if result.status is not DeliveryStatus.delivered:
            # Not lost: the routed event waits on the DLQ, with the reason, for a replay.
            await park(
                event,
                f"connectors/{destination}",
                result.error or result.status.value,
                destination=destination,
                status=result.status,
                replay_of=replay,
            )
            metrics.DEAD_LETTERS.labels(destination).inc()
        await record(key, Entry(result.status, time.time(), partition))
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
                replay_of=replay,
            ),
        )
        return True

    def agent(choose: Chooser) -> Agent:
        async def deliver(stream: faust.StreamT[bytes]) -> None:
            async def one(event: Any, taken_in: int) -> bool:
                return await handle(event, choose, taken_in)

            # One actor per partition (below): a batch is one partition's events, each
            # delivered, published and recorded in turn, and committed once.
            await take_in_order(offsets, stream, one_by_one(one), most=BATCH)

        return deliver

    def always(connector: Connector) -> Chooser:
        return lambda routed: connector

    def by_destination(routed: RoutedSignal) -> Connector | None:
        return connectors.get(routed.destination.name)

    for destination, connector in connectors.items():
        topic = raw_topic(app, topics.ROUTED_BY_DESTINATION[destination], acks=False)
        app.agent(topic, name=f"deliver-{destination}", isolated_partitions=True)(
            agent(always(connector))
        )
    duplicates = raw_topic(app, topics.DUPLICATES, acks=False)
    app.agent(duplicates, name="note-duplicates", isolated_partitions=True)(agent(by_destination))
    # An incident's one ticket and its notes, in order (services/processor/incident_desk.py).
    incidents = raw_topic(app, topics.INCIDENTS_DESK, acks=False)
    app.agent(incidents, name="deliver-incidents", isolated_partitions=True)(agent(by_destination))
    # What became of the records: polled, or looked up for a vendor's webhook.
    watch = outcome_sources.install(app, settings, connectors, case_records, policy, offsets)
    return app
