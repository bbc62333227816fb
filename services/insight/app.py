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

The tables survive a restart: they are rebuilt from their changelogs. Their growth is
bounded by the horizon and the caps (expired every EXPIRE_EVERY_S while facts arrive, and
sooner once facts for a tenth of the smaller cap have come: ``expiry_sweeps``; the
summary itself ignores anything outside the horizon)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Generic, TypeVar

import faust
from faust.types import TP
from pydantic import ValidationError

from schemas import InsightSnapshot, topics
from schemas.insight import INSIGHT_KEY
from services.common.broker_errors import BrokerRetry, with_retries
from services.common.faust_app import (
    AckedTable,
    acked_table,
    make_faust_app,
    park_on_dlq,
    raw_topic,
)
from services.common.logging import fields
from services.common.table_bounds import Sweeps
from services.insight import metrics
from services.insight.facts import INPUTS, Change, Record, Report, decode, encode, read_fact
from services.insight.settings import InsightSettings
from services.insight.summary import summarise
from services.insight.tally import (
    CaseProgress,
    expired,
    horizon_start,
    with_change,
    with_record,
)

log = logging.getLogger(__name__)
M = TypeVar("M")
APP_ID = "antenna-insight"
FACTS_TOPIC = f"{APP_ID}-facts"
EXPIRE_EVERY_S = 600.0
# A broker that is away for a moment is waited for; a write it refuses for good (or
# after these tries) crashes the agent, which Faust restarts past that fact: it is
# missing from the counts, and the error is in the log. Statistics, not deliveries.
RETRY = BrokerRetry()
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
    inputs = raw_topic(app, *INPUTS)
    facts = raw_topic(app, FACTS_TOPIC, internal=True, partitions=1)
    summary_topic = raw_topic(app, topics.INSIGHT)
    dlq = raw_topic(app, topics.DLQ)
    reports = acked_table(app, "insight-reports", partitions=1)
    cases = acked_table(app, "insight-cases", partitions=1)
    publication = Publication()
    sweeps = expiry_sweeps(settings)
    tally_partition = TP(FACTS_TOPIC, 0)
    decoded_reports, decoded_cases = Decoded(_report), Decoded(_progress)

    async def park(event: Any, error: str) -> None:
        await park_on_dlq(dlq, "insight", event, error)
        metrics.DEAD_LETTERS.inc()

    async def hand_on(key: bytes | None, value: bytes) -> None:
        await (await facts.send(key=key, value=value))  # acked before the input counts

    async def written() -> None:
        await with_retries(partial(_written, reports, cases), "insight tables", RETRY)

    @app.agent(inputs, name="observe")
    async def observe(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            msg = event.message
            try:
                fact = read_fact(msg.topic, event.value)
            except (ValidationError, ValueError) as exc:
                await park(event, f"not a valid event for {msg.topic}: {exc}")
                continue
            if fact is not None:
                await with_retries(partial(hand_on, event.key, encode(fact)), FACTS_TOPIC, RETRY)

    def apply(fact: Report | Record | Change) -> bool:
        """One idempotent table write; False when the fact was known already."""
        if isinstance(fact, Report):
            value = fact.model_dump(mode="json")
            if reports.get(fact.signal_id) == value:
                return False
            reports[fact.signal_id] = value
            return True
        key = fact.signal_id if isinstance(fact, Record) else fact.outcome.case_id
        before = _progress(cases.get(key))
        after = (
            with_record(before, fact)
            if isinstance(fact, Record)
            else with_change(before, fact.outcome)
        )
        if after == before:
            return False
        cases[key] = after.model_dump(mode="json")
        return True

    def expire(now: datetime) -> None:
        cutoff = horizon_start(now, settings.insight_horizon_weeks)
        for table, keep, dated in (
            (reports, settings.insight_max_reports, _received_at),
            (cases, settings.insight_max_cases, _touched_at),
        ):
            gone = expired(((k, dated(v)) for k, v in table.items()), cutoff, keep)
            for key in gone:
                del table[key]
            if gone:
                log.info("forgot old entries", extra=fields(table=table.name, count=len(gone)))

    @app.agent(facts, name="tally")
    async def tally(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            try:
                fact = decode(event.value)
            except ValidationError as exc:
                await park(event, f"not an insight fact: {exc}")
                continue
            if apply(fact):
                await written()  # before the fact counts as processed
                publication.dirty = True
            metrics.FACTS.labels(fact.fact).inc()
            # Deletions need an event's context (the partition they are written to).
            if sweeps.due(0, time.time()):
                expire(datetime.now(UTC))
                await written()
            metrics.KEPT.labels("reports").set(len(reports))
            metrics.KEPT.labels("cases").set(len(cases))

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
        report_items, case_items = list(reports.items()), list(cases.items())
        try:
            started = time.perf_counter()
            snapshot = await asyncio.to_thread(
                _summary,
                decoded_reports,
                decoded_cases,
                report_items,
                case_items,
                settings.insight_horizon_weeks,
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


def _progress(value: Any) -> CaseProgress | None:
    if value is None:
        return None
    try:
        return CaseProgress.model_validate(value)
    except ValidationError:
        log.warning("unreadable case progress, starting afresh")
        return None


LONG_AGO = datetime.min.replace(tzinfo=UTC)  # an unreadable entry is the first to go


def _dated(value: Any, field: str) -> datetime:
    try:
        at = datetime.fromisoformat(value[field])
    except (KeyError, TypeError, ValueError):
        return LONG_AGO
    return at if at.tzinfo is not None else LONG_AGO


def _received_at(value: Any) -> datetime:
    return _dated(value, "received_at")


def _touched_at(value: Any) -> datetime:
    return _dated(value, "touched_at")


def _report(value: Any) -> Report | None:
    try:
        return Report.model_validate(value)
    except ValidationError:
        return None  # unreadable: left out, and expired first


class Decoded(Generic[M]):
    """Table values decoded once: a value the table still holds (the same object: a
    write replaces it) is not decoded again. Only the publishing thread uses it."""

    def __init__(self, decode: Callable[[Any], M | None]) -> None:
        self._decode = decode
        self._known: dict[str, tuple[Any, M | None]] = {}

    def __call__(self, items: list[tuple[str, Any]]) -> dict[str, M]:
        known: dict[str, tuple[Any, M | None]] = {}
        decoded: dict[str, M] = {}
        for key, value in items:
            hit = self._known.get(key)
            model = hit[1] if hit is not None and hit[0] is value else self._decode(value)
            known[key] = (value, model)
            if model is not None:
                decoded[key] = model
        self._known = known
        return decoded


def _summary(
    reports: Decoded[Report],
    cases: Decoded[CaseProgress],
    report_items: list[tuple[str, Any]],
    case_items: list[tuple[str, Any]],
    horizon_weeks: int,
) -> InsightSnapshot:
    """In a worker thread: decode what changed in the tables and derive the summary."""
    return summarise(
        reports(report_items).values(), cases(case_items), datetime.now(UTC), horizon_weeks
    )
