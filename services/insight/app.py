"""The insight app as a Faust app: durable counts for the programme lead's page.

signals.routed.servicedesk / .crm, signals.triage, signals.duplicates, signals.delivered,
signals.outcomes (N partitions)
  -> observe: each event becomes one fact without customer data (facts.py); an event
     that cannot be read goes to signals.dlq
  -> antenna-insight-facts (1 partition: one owner holds every count)
  -> tally: each fact is one idempotent write to a changelog-backed table (tally.py),
     acknowledged by the broker before the fact counts as processed (AckedTable)
  -> every ANTENNA_INSIGHT_PUBLISH_INTERVAL_S, when something changed, the owner of the
     tables derives the summary (summary.py) and publishes it to the compacted topic
     insight.summary, which ingest follows for /insight and /v1/insight.

Both stages work in batches of up to BATCH events, of those already fetched (a batch
never waits for more), to save the broker round trips that cost most of their CPU:
observe sends a batch's facts together and waits for all their acknowledgements at
once; tally applies a batch's facts and then waits once for the tables' changelog
writes, each key written once per batch with its latest value (coalesced tables). Their
input offsets are kept by the app (services/common/offsets.py; Faust's acks are off for
these topics) and committed once per batch, only after the batch is handed on (observe)
or its writes acknowledged (tally). A batch whose hand-over or writes fail is read
again, whole: every table write is idempotent, so a fact seen twice counts once. A write
the broker refuses for good stops the worker first (stop_worker): it is read again
after the restart.

The tables survive a restart: they are rebuilt from their changelogs. Their growth is
bounded by the horizon and the caps (expired every EXPIRE_EVERY_S while facts arrive, and
sooner once facts for a tenth of the smaller cap have come: ``expiry_sweeps``; the
summary itself ignores anything outside the horizon)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

import faust
from faust.types import TP
from pydantic import ValidationError

from schemas import InsightSnapshot, topics
from schemas.insight import INSIGHT_KEY
from services.common.broker_errors import (
    BrokerRefused,
    BrokerRetry,
    Outgoing,
    send_all,
    stop_worker,
    with_retries,
)
from services.common.faust_app import (
    AckedTable,
    acked_table,
    make_faust_app,
    park_on_dlq,
    raw_topic,
)
from services.common.logging import fields
from services.common.offsets import AfterRebalance, InputOffsets, Taken, take_in_order
from services.common.table_bounds import Sweeps
from services.insight import metrics
from services.insight.facts import INPUTS, Change, Record, Report, decode, encode, read_fact
from services.insight.settings import InsightSettings
from services.insight.summary import summarise_tables
from services.insight.tally import (
    case_time,
    case_with_change,
    case_with_record,
    compact_case,
    compact_report,
    expired,
    horizon_start,
    kept_report,
    micros,
    pack_case,
    pack_report,
    read_case,
    report_time,
)

log = logging.getLogger(__name__)
APP_ID = "antenna-insight"
FACTS_TOPIC = f"{APP_ID}-facts"
EXPIRE_EVERY_S = 600.0
# A broker that is away for a moment is waited for; a write it refuses for good (or
# after these tries) stops the worker (stop_worker), and the batch it belongs to is read
# again after the restart. Read again at once, it failed as fast as it was read.
RETRY = BrokerRetry()
# The most events a stage takes at once (of those already fetched: a batch never waits
# for more): one round trip to the broker per batch instead of one per event.
BATCH = 100
# A quiet system still gets a fresh summary now and then: the weeks move on.
REPUBLISH_EVERY_S = 900.0


@dataclass
class Publication:
    dirty: bool = True  # a fresh worker publishes once it holds the tables
    published_at: float = 0.0


def expiry_sweeps(settings: InsightSettings) -> Sweeps:
    """When the tally expires its tables: every EXPIRE_EVERY_S, and sooner once facts
    for a tenth of the smaller cap have come since the last time. On the clock alone, the
    tables held every report of a busy ten minutes on top of their caps."""
    return Sweeps(EXPIRE_EVERY_S, min(settings.insight_max_reports, settings.insight_max_cases))


def create_app(settings: InsightSettings) -> faust.App:
    app = make_faust_app(APP_ID, settings)
    # The inputs' offsets are kept here, not by Faust's acks (offsets.py): a batch is
    # committed past once it is handed on, and read again when it is not.
    offsets = InputOffsets(app, (*INPUTS, FACTS_TOPIC))
    app.sensors.add(AfterRebalance(offsets))
    inputs = raw_topic(app, *INPUTS, acks=False)
    # acks=False on every topic object of an input: Faust acks by topic name.
    facts = raw_topic(app, FACTS_TOPIC, internal=True, partitions=1, acks=False)
    summary_topic = raw_topic(app, topics.INSIGHT)
    dlq = raw_topic(app, topics.DLQ)
    # Each key written once per batch, its latest value, before the batch counts as
    # processed (written() is awaited before the commit): see AckedTable. One partition
    # each, as take_in_order needs for batches of more than one event.
    reports = acked_table(app, "insight-reports", partitions=1, coalesce=True)
    cases = acked_table(app, "insight-cases", partitions=1, coalesce=True)
    # What an earlier version wrote (a JSON-mode dict) is compacted as it is restored.
    setattr(reports, "_to_value", compact_report)  # noqa: B010 (faust's hook, no API)
    setattr(cases, "_to_value", compact_case)  # noqa: B010
    publication = Publication()
    sweeps = expiry_sweeps(settings)
    tally_partition = TP(FACTS_TOPIC, 0)

    async def park(event: Any, error: str) -> None:
        await park_on_dlq(dlq, "insight", event, error)
        metrics.DEAD_LETTERS.inc()

    async def written(batch: list[Taken]) -> None:
        try:
            await with_retries(partial(_written, reports, cases), "insight tables", RETRY)
        except BrokerRefused as refused:
            stop_worker("insight tally", batch[-1].event.key, refused)

    async def observe_batch(batch: list[Taken]) -> list[bool]:
        """Turn a batch of events into facts and hand them on together; an event that
        cannot be read is parked on the DLQ."""
        records: list[Outgoing] = []
        for taken in batch:
            event = taken.event
            msg = event.message
            try:
                fact = read_fact(msg.topic, event.value)
            except (ValidationError, ValueError) as exc:
                await park(event, f"not a valid event for {msg.topic}: {exc}")
                continue
            except Exception as exc:  # a bug must not stop the partition: park, go on
                log.exception("cannot read an event")
                await park(event, f"{type(exc).__name__}: {exc}")
                continue
            if fact is not None:
                records.append((facts, event.key, encode(fact)))
        # Acknowledged before the batch counts as processed; a record sent again arrives
        # out of order, which the tally does not mind (tally.py).
        try:
            await send_all(records, RETRY)
        except BrokerRefused as refused:
            stop_worker("insight observe", batch[0].event.key, refused)
        return [True] * len(batch)

    @app.agent(inputs, name="observe")
    async def observe(stream: faust.StreamT[bytes]) -> None:
        await take_in_order(offsets, stream, observe_batch, most=BATCH)

    def apply(fact: Report | Record | Change) -> bool:
        """One idempotent table write; False when the fact was known already."""
        if isinstance(fact, Report):
            value = pack_report(fact.signal_id, kept_report(fact))
            if reports.get(fact.signal_id) == value:
                return False
            reports[fact.signal_id] = value
            return True
        key = fact.signal_id if isinstance(fact, Record) else fact.outcome.case_id
        before = cases.get(key)
        case = read_case(before)
        if case is None and before is not None:
            log.warning("unreadable case progress, starting afresh")
        after = pack_case(
            case_with_record(case, fact)
            if isinstance(fact, Record)
            else case_with_change(case, fact.outcome)
        )
        if after == before:
            return False
        cases[key] = after
        return True

    def expire(now: datetime) -> None:
        cutoff = micros(horizon_start(now, settings.insight_horizon_weeks))
        for table, keep, dated in (
            (reports, settings.insight_max_reports, report_time),
            (cases, settings.insight_max_cases, case_time),
        ):
            gone = expired(((k, dated(v)) for k, v in table.items()), cutoff, keep)
            for key in gone:
                del table[key]
            if gone:
                log.info("forgot old entries", extra=fields(table=table.name, count=len(gone)))

    async def tally_batch(batch: list[Taken]) -> list[bool]:
        """Apply a batch of facts to the tables (expiring them when it is time), then
        wait once for every write: the batch counts as processed once they are
        acknowledged. Written again after a failure, every write changes nothing."""
        changed, sweep, counted = False, False, []
        for taken in batch:
            event = taken.event
            try:
                fact = decode(event.value)
            except ValidationError as exc:
                await park(event, f"not an insight fact: {exc}")
                continue
            try:
                changed = apply(fact) or changed
            except Exception as exc:  # a bug must not stop the tally: park, go on
                log.exception("cannot count a fact")
                await park(event, f"{type(exc).__name__}: {exc}")
                continue
            counted.append(fact.fact)
            sweep = sweeps.due(0, time.time()) or sweep  # counts every fact
        # Deletions need an event's context (the partition they are written to): the
        # batch's last event's, the only partition of the tables.
        if sweep:
            expire(datetime.now(UTC))
        await written(batch)  # before the batch counts as processed
        if changed:
            publication.dirty = True
        for kind in counted:
            metrics.FACTS.labels(kind).inc()
        metrics.KEPT.labels("reports").set(len(reports))
        metrics.KEPT.labels("cases").set(len(cases))
        return [True] * len(batch)

    @app.agent(facts, name="tally")
    async def tally(stream: faust.StreamT[bytes]) -> None:
        await take_in_order(offsets, stream, tally_batch, most=BATCH)

    def holds_the_tables() -> bool:
        """This worker owns the tally partition and has restored its tables."""
        try:
            return not app.rebalancing and tally_partition in app.consumer.assignment()
        except Exception:  # not started yet
            return False

    @app.timer(settings.insight_publish_interval_s)  # type: ignore[untyped-decorator]
    async def publish() -> None:
        quiet_for = time.time() - publication.published_at
        if not holds_the_tables() or (not publication.dirty and quiet_for < REPUBLISH_EVERY_S):
            return
        publication.dirty = False  # a change while the summary is made sets it again
        # Copies (one allocation each) for the thread: the agents go on writing.
        report_items, case_items = _entries(reports), _entries(cases)
        try:
            started = time.perf_counter()
            snapshot = await asyncio.to_thread(
                _summary, report_items, case_items, settings.insight_horizon_weeks
            )
            metrics.SUMMARY_SECONDS.observe(time.perf_counter() - started)
            value = snapshot.model_dump_json().encode()
            await (await summary_topic.send(key=INSIGHT_KEY.encode(), value=value))
        except Exception:  # try again at the next tick; never stop the timer
            publication.dirty = True
            log.exception("could not publish the insight summary")
            return
        publication.published_at = time.time()
        metrics.SNAPSHOTS.inc()
        metrics.LAST_SNAPSHOT.set(publication.published_at)
        log.info(
            "published the insight summary",
            extra=fields(reports=len(report_items), cases=len(case_items), bytes=len(value)),
        )

    return app


async def _written(*tables: AckedTable) -> None:
    for table in tables:
        await table.written()


def _entries(table: AckedTable) -> dict[str, Any]:
    """A copy of the table's entries, made at once (the memory store's own dict)."""
    return dict(cast(Any, table).data.data)


def _summary(reports: dict[str, Any], cases: dict[str, Any], horizon_weeks: int) -> InsightSnapshot:
    """In a worker thread: derive the summary from copies of the tables."""
    return summarise_tables(reports.items(), cases, datetime.now(UTC), horizon_weeks)
