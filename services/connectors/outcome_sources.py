"""The connectors' outcome sources, as Faust agents and timers (the decisions are in
outcomes.py).

- ``follow-outcomes`` folds every Outcome on signals.outcomes into the changelog table
  ``case-outcomes`` (``<destination>|<case id>`` -> the latest outcome): what a poller
  compares with, durable across restarts.
- One timer per polled destination (a connector that is a ``StatusSource``) reads a
  page of the records the case -> record mapping knows and publishes the changes. Only
  the records of this worker's partitions: a case's mapping entry and its outcomes are
  kept in the partition of the case's own events (PLAN contract 3), which Faust assigns
  to one worker for every topic of the app.
- ``resolve-record-changes`` turns a RecordChange (a vendor webhook that names only
  its record) into an Outcome through the destination's ``ChangeResolver``. A vendor
  that is down is waited for as a delivery waits (the connectors' retry policy, let go
  for a rebalance, its offset kept by the connectors' InputOffsets); what cannot be
  resolved is parked on signals.dlq."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
from aiokafka.partitioner import murmur2
from pydantic import ValidationError

from schemas import Outcome, RecordChange, topics
from services.common.dead_letters import dead_letter
from services.common.faust_app import acked_table, pause_until_rebalance, raw_topic
from services.common.logging import fields
from services.common.metrics import OUTCOMES_PUBLISHED
from services.common.offsets import InputOffsets, one_by_one, take_in_order
from services.common.settings import CommonSettings
from services.connectors import metrics
from services.connectors.base import Connector, DeliveryError
from services.connectors.outcomes import (
    ChangeResolver,
    StatusSource,
    Watched,
    changes,
    latest,
    next_page,
    watched_since,
)
from services.connectors.records import Entry, Slot
from services.connectors.retry import (
    Park,
    RetryPolicy,
    Waiting,
    after_failure,
    decide,
    failure_of,
)

log = logging.getLogger(__name__)
Timer = Callable[[], Coroutine[Any, Any, None]]


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as aiokafka and kafka-python
    use it) gives ``key``."""
    hashed: int = murmur2(key.encode())
    return (hashed & 0x7FFFFFFF) % partitions


def _outcome(value: Any) -> Outcome | None:
    try:
        return Outcome.model_validate(value) if value is not None else None
    except ValidationError:
        return None


@dataclass(frozen=True)
class Watch:
    """What the sweep of the case -> record mapping needs of the outcome sources: the
    latest outcome of each case (``case_outcomes``, expired with its case's entry) and
    ``opened``, when a case's record was made while it is still polled (else None)."""

    case_outcomes: Any
    opened: Callable[[datetime], Callable[[str, dict[str, Any]], float | None]]


def install(
    app: faust.App,
    settings: CommonSettings,
    connectors: dict[str, Connector],
    case_records: Any,
    policy: RetryPolicy,
    offsets: InputOffsets,
) -> Watch:
    """The outcome sources; ``offsets`` keeps the offsets of signals.record-changes
    (the caller lists it among its InputOffsets' topics)."""
    outcomes_topic = raw_topic(app, topics.OUTCOMES)
    dlq = raw_topic(app, topics.DLQ)
    case_outcomes = acked_table(app, "case-outcomes", partitions=settings.topic_partitions)
    # Published by this worker and perhaps not folded into the table yet.
    sent: dict[str, Outcome] = {}

    async def publish(outcome: Outcome) -> None:
        value = outcome.model_dump_json().encode()
        await (await outcomes_topic.send(key=outcome.case_id.encode(), value=value))
        OUTCOMES_PUBLISHED.labels(outcome.destination, outcome.connector, outcome.status).inc()
        log.info(
            "outcome",
            extra=fields(
                case_id=outcome.case_id,
                destination=outcome.destination,
                status=outcome.status.value,
                record_id=outcome.record_id,
            ),
        )

    async def park(event: Any, destination: str, error: str) -> None:
        msg = event.message
        letter = dead_letter(
            f"outcomes/{destination}",
            error,
            msg.topic,
            msg.partition,
            msg.offset,
            event.key,
            event.value,
        )
        await (await dlq.send(key=event.key, value=letter.model_dump_json().encode()))
        metrics.DEAD_LETTERS.labels(destination).inc()

    @app.agent(outcomes_topic, name="follow-outcomes")
    async def follow(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            try:
                outcome = Outcome.model_validate_json(event.value)
            except ValidationError:
                metrics.OUTCOMES_UNREADABLE.inc()  # the producer's bug; consumers skip it
                continue
            key = Slot(outcome.case_id).key(outcome.destination)
            known = _outcome(case_outcomes.get(key))
            if latest(known, outcome) is not known:
                case_outcomes[key] = outcome.model_dump(mode="json")
                await case_outcomes.written()

    def local_partitions(topic: str) -> tuple[set[int], int]:
        mine = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}
        count = app.consumer.topic_partitions(topic) or settings.topic_partitions
        return mine, count

    def watched_records(destination: str) -> list[Watched]:
        """This worker's cases at ``destination`` that have a record, with the latest
        outcome known for each (the table's, or one sent since)."""
        mine, count = local_partitions(topics.ROUTED_BY_DESTINATION[destination])
        prefix = f"{destination}|"
        found = []
        for key, value in list(case_records.items()):
            if not key.startswith(prefix) or "|" in key[len(prefix) :]:
                continue  # another destination's, or a note's slot
            case_id = key[len(prefix) :]
            record = Entry.from_json(value).record
            if record is None or partition_of(case_id, count) not in mine:
                continue
            current = latest(_outcome(case_outcomes.get(key)), sent.get(key))
            found.append(Watched(case_id, record, current))
        # Forget what was sent once the table has it (or the case is no longer ours).
        still = {Slot(w.case_id).key(destination): w.current for w in found}
        for key in [k for k in sent if k.startswith(prefix)]:
            if still.get(key) is not sent[key]:
                del sent[key]
        return found

    def timer(poller: Poller) -> Timer:
        async def poll() -> None:
            if app.rebalancing or getattr(app, "in_recovery", False):
                return  # partitions and tables are moving: the next tick will do
            for outcome in await poller.tick(watched_records(poller.destination)):
                sent[Slot(outcome.case_id).key(poller.destination)] = outcome

        return poll

    def opened(now: datetime) -> Callable[[str, dict[str, Any]], float | None]:
        def since(key: str, value: dict[str, Any]) -> float | None:
            destination, _, case_id = key.partition("|")
            connector = connectors.get(destination)
            if not isinstance(connector, StatusSource) or "|" in case_id:
                return None  # not polled, or a note's slot
            current = latest(_outcome(case_outcomes.get(key)), sent.get(key))
            return watched_since(value, current, now, connector.polling.poll_reopen_window_s)

        return since

    for destination, connector in connectors.items():
        if isinstance(connector, StatusSource):
            interval = connector.polling.poll_interval_s
            poller = Poller(destination, connector.name, connector, publish)
            app.timer(interval, name=f"poll-outcomes-{destination}")(timer(poller))

    async def resolve_change(event: Any, taken_in: int) -> bool:
        """Resolve one RecordChange. False: let go unfinished (a rebalance or a stop)."""
        try:
            change = RecordChange.model_validate_json(event.value)
        except ValidationError as exc:
            await park(event, "unknown", f"not a valid RecordChange: {exc}")
            return True
        connector = connectors.get(change.destination)
        if not isinstance(connector, ChangeResolver) or connector.name != change.vendor:
            await park(
                event,
                change.destination,
                f"no {change.vendor} connector serves {change.destination} to look up "
                f"record {change.record_id}",
            )
            return True
        found = await resolved(connector, change, policy, pause_until_rebalance(app, taken_in))
        if isinstance(found, LetGo):
            return False
        if isinstance(found, Park):
            await park(event, change.destination, found.reason)
        elif found is None:
            metrics.CHANGES_IGNORED.labels(change.destination, change.vendor).inc()
        else:
            await publish(found)
        return True

    # While the vendor is down a change waits, in order, like a delivery does; its offset
    # is kept as a delivery's is (offsets.py), not by Faust's acks.
    changes_topic = raw_topic(app, topics.RECORD_CHANGES, acks=False)

    @app.agent(changes_topic, name="resolve-record-changes")
    async def resolve(stream: faust.StreamT[bytes]) -> None:
        await take_in_order(offsets, stream, one_by_one(resolve_change))

    return Watch(case_outcomes, opened)


class Poller:
    """One polled destination: each ``tick`` reads a page of the watched records and
    publishes the changes. Remembers when each record was read last (in memory: after a
    restart every record is new to it, and read again in turn)."""

    def __init__(
        self,
        destination: str,
        connector: str,
        source: StatusSource,
        publish: Callable[[Outcome], Awaitable[None]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.destination, self.connector = destination, connector
        self.source, self.publish, self.clock = source, publish, clock
        self.checked: dict[str, float] = {}  # case id -> when its record was last read

    async def tick(self, watched: list[Watched]) -> list[Outcome]:
        """The outcomes published this tick. Never raises: a timer that raises stops."""
        for gone in self.checked.keys() - {w.case_id for w in watched}:
            del self.checked[gone]
        options = self.source.polling
        now = datetime.now(UTC)
        page = next_page(
            watched, self.checked, options.poll_batch, now, options.poll_reopen_window_s
        )
        if not page:
            return []
        metrics.POLLS.labels(self.destination, self.connector).inc()
        # Read or not, these go to the back of the queue: a page that keeps failing must
        # not keep the others from being read.
        self.checked.update((w.case_id, self.clock()) for w in page)
        try:
            statuses = await self.source.read_statuses([w.record for w in page])
        except Exception as exc:
            metrics.POLL_FAILURES.labels(self.destination, self.connector).inc()
            log.warning(
                "outcome poll failed",
                extra=fields(destination=self.destination, error=str(exc)[:200]),
                exc_info=not isinstance(exc, DeliveryError),
            )
            return []
        found = changes(
            page,
            statuses,
            destination=self.destination,
            connector=self.connector,
            observed_at=datetime.now(UTC),
        )
        published = []
        for outcome in found:
            try:
                await self.publish(outcome)
            except Exception as exc:  # the broker: the next read of the record tells again
                log.warning(
                    "outcome not published",
                    extra=fields(destination=self.destination, error=str(exc)[:200]),
                )
                break
            published.append(outcome)
        return published


class LetGo:
    """A rebalance or a stop started while a change waited: its next reader resolves it."""


async def resolved(
    resolver: ChangeResolver,
    change: RecordChange,
    policy: RetryPolicy,
    pause: Callable[[float], Awaitable[bool]],
    clock: Callable[[], float] = time.time,
) -> Outcome | Park | LetGo | None:
    """``resolver.resolve_change(change)``, tried again as a delivery is (retry.decide):
    while the vendor is down or busy until the horizon, a refusal or a repeated fault
    parked. ``pause(seconds)`` waits, or says False when a rebalance or stop started."""
    waiting: Waiting | None = None
    while True:
        try:
            return await resolver.resolve_change(change)
        except Exception as exc:  # judged, as a delivery's: never a crashed agent
            failure = failure_of(exc)
        now = clock()
        waiting = after_failure(waiting, now)
        step = decide(policy, waiting, failure, now, destination_delivered_at=None)
        if isinstance(step, Park):
            return step
        log.info(
            "record change lookup failed, trying again",
            extra=fields(
                destination=change.destination,
                attempt=waiting.attempts,
                delay_s=round(step.delay_s, 2),
                error=failure.reason[:200],
            ),
        )
        if not await pause(step.delay_s):
            return LetGo()
