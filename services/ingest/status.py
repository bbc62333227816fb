"""Where a signal stands, for the employee who reported it, and how it got there.

``StatusBook`` is pure: it folds the events on signals.raw, the routed topics
(servicedesk, crm, triage, duplicates), signals.delivered and signals.outcomes into one
``SignalStatus`` per signal_id, keeping the most recently touched ``capacity`` signals
(LRU). Events may arrive in any order across topics (a DeliveryResult before its
RoutedSignal): each event fills its own part, and a final delivery outcome is never
undone by a later "retrying". A colleague's report of the same case is also noted on the
case's first report (who joined, when), and a case's outcomes are folded with
services.common.outcomes, the fold every consumer shares. ``story`` lays it all out in
time order: received, routed, the record, colleagues who joined, each outcome.

It also remembers who may read a status: the reporter's identities (employee id and
e-mail, lower-cased) and the API client (the signal's ``source``, and a form post's
``client``), learnt from the Signal on signals.raw or inside a RoutedSignal. And it finds an
Idempotency-Key reused for another report: two Signals with one ``signal_id`` (derived
from the key) and different ``body_fingerprint``s. Only the first was passed on; the
status says so and ``antenna_ingest_idempotency_key_reuses_total`` counts it.

``StatusFollower`` feeds a book from Kafka in a daemon thread (a TopicFollower, see
services/common/follower.py): kafka-python, no consumer
group (every ingest replica reads every partition from the beginning), records that do
not decode are skipped, a broker outage means waiting and reconnecting. Only ids,
topics, partitions, offsets and error class names are logged, never a signal's content.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any, Final, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas import (
    Channel,
    DeliveryResult,
    DeliveryStatus,
    Outcome,
    RoutedSignal,
    Signal,
    topics,
)
from schemas.signal import SignalId, UtcDatetime
from services.common.follower import TopicFollower
from services.common.logging import fields
from services.common.outcomes import current_outcome, fold_outcome
from services.ingest import metrics

log = logging.getLogger(__name__)

DEFAULT_CAPACITY: Final = 20_000  # IngestSettings.status_capacity
ROUTED_TOPICS: Final = (
    topics.ROUTED_SERVICEDESK,
    topics.ROUTED_CRM,
    topics.TRIAGE,
    topics.DUPLICATES,
)
FOLLOWED_TOPICS: Final = (topics.RAW, *ROUTED_TOPICS, topics.DELIVERED, topics.OUTCOMES)
# Outcomes that a later, non-final DeliveryResult (e.g. "retrying") does not overwrite.
FINAL_DELIVERY: Final = frozenset({DeliveryStatus.delivered, DeliveryStatus.dead})
# Who reported one signal_id: normally one person; several only when a key was reused.
MAX_READERS: Final = 8
# Colleagues' reports remembered on a case's first report (the latest ones).
MAX_JOINS: Final = 20


@dataclass(frozen=True, slots=True)
class Delivery:
    status: DeliveryStatus
    external_id: str | None
    external_url: str | None
    attempts: int
    error: str | None
    at: datetime | None = None


@dataclass(frozen=True)
class Join:
    """A colleague's report that joined this case: the ``ordinal``-th report of it."""

    signal_id: str
    at: datetime
    ordinal: int


@dataclass(frozen=True, slots=True)
class SignalStatus:
    """``routing`` is None until a routed topic spoke: "routed", "triage" or "duplicate"."""

    signal_id: str
    updated_at: datetime
    received_at: datetime | None = None
    routed_at: datetime | None = None
    routing: str | None = None
    destination: str | None = None
    target: str | None = None
    rule_id: str | None = None
    duplicate_of: str | None = None
    cluster_id: str | None = None
    reporters_count: int | None = None
    delivery: Delivery | None = None
    joins: tuple[Join, ...] = ()  # on a case's first report: colleagues who joined
    outcomes: tuple[Outcome, ...] = ()  # on a case's first report, folded
    # Who may read it (lower-cased employee ids and e-mails; API clients), see readers_of.
    reporters: frozenset[str] = frozenset()
    clients: frozenset[str] = frozenset()
    body_fingerprint: str | None = None  # of the first report under this id
    key_reused: bool = False  # another report came with the same key: not passed on

    @property
    def state(self) -> str:
        """received -> routed | triage | duplicate -> delivered | failed | dead."""
        if self.delivery is not None and self.delivery.status is not DeliveryStatus.retrying:
            return self.delivery.status.value
        return self.routing or "received"

    def as_json(self) -> dict[str, Any]:
        delivery = None
        if self.delivery is not None:
            delivery = {
                "status": self.delivery.status.value,
                "external_id": self.delivery.external_id,
                "external_url": self.delivery.external_url,
                "attempts": self.delivery.attempts,
                "error": self.delivery.error,
                "at": _iso(self.delivery.at),
            }
        return {
            "signal_id": self.signal_id,
            "state": self.state,
            "destination": self.destination,
            "target": self.target,
            "rule_id": self.rule_id,
            "duplicate_of": self.duplicate_of,
            "cluster_id": self.cluster_id,
            "reporters_count": self.reporters_count,
            "received_at": _iso(self.received_at),
            "routed_at": _iso(self.routed_at),
            "delivery": delivery,
            "key_reused": self.key_reused,
            "updated_at": self.updated_at.isoformat(),
        }

    def without_error_text(self) -> SignalStatus:
        """For everyone but an operator: a target system's error text may name internals or
        quote another record."""
        if self.delivery is None or self.delivery.error is None:
            return self
        return replace(self, delivery=replace(self.delivery, error=None))


class _Reader(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    employee_id: str | None = None
    email: str | None = None


class Received(BaseModel):
    """What the status takes from a Signal on signals.raw, read from its record without
    the rest. The follower reads every record ingest publishes, in ingest's own process:
    the whole Signal would validate the text, the customer and every e-mail address again
    (50 µs a record with two addresses, against 7 µs for this), which ingest validated
    before it published. The processor still reads every record whole."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    signal_id: SignalId
    channel: Channel
    source: str
    received_at: UtcDatetime
    reporter: _Reader
    metadata: dict[str, str] = Field(default_factory=dict)
    body_fingerprint: str | None = None


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


class _Readers(TypedDict):
    reporters: frozenset[str]
    clients: frozenset[str]


def _readers(status: SignalStatus | None, signal: Signal | Received) -> _Readers:
    """The ``reporters`` and ``clients`` of ``status`` (None: nobody yet) with ``signal``'s
    added: fields for the one ``replace`` of each change (a dataclass replace costs
    microseconds, and the follower applies every record ingest publishes)."""
    reporter = signal.reporter
    names = {n.strip().lower() for n in (reporter.employee_id, reporter.email) if n}
    clients = {c for c in (signal.source, signal.metadata.get("client")) if c}
    if status is not None:
        names |= status.reporters
        clients |= status.clients
    return {
        "reporters": frozenset(list(names)[:MAX_READERS]),
        "clients": frozenset(list(clients)[:MAX_READERS]),
    }


def _split_off(status: SignalStatus, topic: str, routed: RoutedSignal) -> bool:
    """A report that had joined a case, routed again as a case of its own."""
    return status.routing == "duplicate" and _routing_kind(topic, routed) != "duplicate"


def _before(delivery: Delivery | None, at: datetime | None) -> bool:
    return delivery is not None and delivery.at is not None and at is not None and delivery.at < at


def _supersedes(new: Delivery, old: Delivery, routed_at: datetime | None) -> bool:
    """Whether delivery result ``new`` replaces ``old``. A final outcome is not undone by a
    stale "retrying" or "failed", and delivered stays delivered (a redelivery's echo),
    unless it was the note of a report an operator split off its case since: then a
    result after that routing (its own record, or its wait for it), or a later delivery
    (its own record, read before the routing) replaces it."""
    if old.status is DeliveryStatus.delivered:
        later = new.at is not None and old.at is not None and new.at > old.at
        after_split = _before(old, routed_at) and not _before(new, routed_at)
        return after_split or (new.status is DeliveryStatus.delivered and later)
    return not (old.status in FINAL_DELIVERY and new.status not in FINAL_DELIVERY)


def _without_join(signal_id: str, case: SignalStatus) -> SignalStatus:
    return replace(case, joins=tuple(j for j in case.joins if j.signal_id != signal_id))


def _routing_kind(topic: str, routed: RoutedSignal) -> str:
    if topic == topics.DUPLICATES or routed.dedupe.duplicate_of is not None:
        return "duplicate"
    if topic == topics.TRIAGE:
        return "triage"
    return "routed"


class StatusBook:
    """Thread-safe: the follower writes from its thread, the routes read from the loop."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._entries: OrderedDict[str, SignalStatus] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, signal_id: str) -> SignalStatus | None:
        with self._lock:
            status = self._entries.get(signal_id)
            if status is not None:
                self._entries.move_to_end(signal_id)
            return status

    def _update(
        self,
        signal_id: str,
        at: datetime,
        change: Callable[[SignalStatus], SignalStatus],
        first: Callable[[], SignalStatus] | None = None,
    ) -> SignalStatus:
        """``change`` the signal's status; ``first``, when given, builds the status of a
        signal not known yet in one go (what ``change`` would make of an empty one)."""
        with self._lock:
            current = self._entries.pop(signal_id, None)
            if current is None and first is not None:
                updated = first()
            else:
                updated = change(current or SignalStatus(signal_id=signal_id, updated_at=at))
            if updated.updated_at < at:
                updated = replace(updated, updated_at=at)
            self._entries[signal_id] = updated
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
            return updated

    def apply_received(self, signal: Signal | Received) -> SignalStatus:
        """A Signal on signals.raw: a redelivery of the same report changes nothing; the
        same signal_id with another body means its Idempotency-Key was reused."""
        reused = False

        def change(status: SignalStatus) -> SignalStatus:
            nonlocal reused
            readers = _readers(status, signal)
            first, this = status.body_fingerprint, signal.body_fingerprint
            if first is None:
                return replace(
                    status,
                    **readers,
                    received_at=status.received_at or signal.received_at,
                    body_fingerprint=this,
                )
            if this is not None and this != first and not status.key_reused:
                reused = True
                return replace(status, **readers, key_reused=True)
            return replace(status, **readers)

        def first() -> SignalStatus:
            # The usual case: ingest's follower reads back what it just published.
            return SignalStatus(
                signal_id=signal.signal_id,
                updated_at=signal.received_at,
                received_at=signal.received_at,
                body_fingerprint=signal.body_fingerprint,
                **_readers(None, signal),
            )

        status = self._update(signal.signal_id, signal.received_at, change, first)
        if reused:
            metrics.KEY_REUSES.inc()
            log.warning(
                "an Idempotency-Key was reused for another report; only the first is passed on",
                extra=fields(signal_id=signal.signal_id, source_kind=signal.channel.value),
            )
        return status

    def apply_routed(self, topic: str, routed: RoutedSignal) -> SignalStatus:
        if topic not in ROUTED_TOPICS:
            raise ValueError(f"not a routed topic: {topic}")
        signal = routed.signal

        dedupe = routed.dedupe

        def change(status: SignalStatus) -> SignalStatus:
            if status.routed_at is not None and routed.routed_at < status.routed_at:
                # An earlier routing read late (a triage record after the operator's, a
                # note after its split): what it says is out of date.
                return replace(
                    status,
                    **_readers(status, signal),
                    received_at=status.received_at or signal.received_at,
                )
            delivery = status.delivery
            if _split_off(status, topic, routed) and _before(delivery, routed.routed_at):
                delivery = None  # the note on the old case's record is not its own record
            return replace(
                status,
                **_readers(status, signal),
                delivery=delivery,
                received_at=status.received_at or signal.received_at,
                routed_at=routed.routed_at,
                routing=_routing_kind(topic, routed),
                destination=routed.destination.name,
                target=routed.destination.target,
                rule_id=routed.rule_id,
                duplicate_of=dedupe.duplicate_of,
                cluster_id=dedupe.cluster_id,
                # A colleague's report may have told the case's first report more already.
                reporters_count=max(status.reporters_count or 0, dedupe.reporters_count),
            )

        def joined(case: SignalStatus) -> SignalStatus:
            join = Join(signal.signal_id, routed.routed_at, dedupe.reporters_count)
            joins = {j.signal_id: j for j in case.joins}
            joins[join.signal_id] = join  # a redelivery changes nothing
            latest = sorted(joins.values(), key=lambda j: (j.at, j.signal_id))[-MAX_JOINS:]
            return replace(
                case,
                joins=tuple(latest),
                reporters_count=max(case.reporters_count or 0, dedupe.reporters_count),
            )

        earlier = self.get(signal.signal_id)
        updated = self._update(signal.signal_id, routed.routed_at, change)
        case_id = dedupe.duplicate_of
        if case_id is not None and case_id != signal.signal_id and updated.duplicate_of == case_id:
            self._update(case_id, routed.routed_at, joined)
        left = earlier.duplicate_of if earlier is not None else None
        if left is not None and updated.duplicate_of != left and self.get(left) is not None:
            # An operator said it is not the same case: it is no colleague of that case's.
            self._update(left, routed.routed_at, partial(_without_join, signal.signal_id))
        return updated

    def apply_outcome(self, outcome: Outcome) -> SignalStatus:
        """An outcome of a case, on the case's first report (its id is the case id)."""

        def change(status: SignalStatus) -> SignalStatus:
            return replace(status, outcomes=fold_outcome(status.outcomes, outcome))

        return self._update(outcome.case_id, outcome.changed_at, change)

    def apply_delivery(self, result: DeliveryResult) -> SignalStatus:
        delivery = Delivery(
            status=result.status,
            external_id=result.external_id,
            external_url=result.external_url,
            attempts=result.attempts,
            error=result.error,
            at=result.at,
        )

        def change(status: SignalStatus) -> SignalStatus:
            previous = status.delivery
            if previous is not None and not _supersedes(delivery, previous, status.routed_at):
                return status
            return replace(
                status, delivery=delivery, destination=status.destination or result.destination
            )

        return self._update(result.signal_id, result.at, change)

    def apply_record(self, topic: str, value: bytes | None) -> SignalStatus | None:
        """Decode one record of a followed topic and fold it in; None when it does not
        decode (skipped, never fatal)."""
        if value is None:
            return None
        try:
            if topic == topics.RAW:
                return self.apply_received(Received.model_validate_json(value))
            if topic == topics.DELIVERED:
                return self.apply_delivery(DeliveryResult.model_validate_json(value))
            if topic == topics.OUTCOMES:
                return self.apply_outcome(Outcome.model_validate_json(value))
            if topic in ROUTED_TOPICS:
                return self.apply_routed(topic, RoutedSignal.model_validate_json(value))
        except (ValidationError, ValueError):
            return None
        return None


# ------------------------------------------------------------------------------ story


@dataclass(frozen=True)
class Step:
    """One thing that happened to a report, with its time. ``kind``: received, routed,
    triage, joined_case (this report joined an earlier case, as its ``ordinal``-th
    report), recorded (the case's ticket or lead), noted (this report added to it),
    waiting, parked, colleague (another report joined this case), outcome."""

    kind: str
    at: datetime
    destination: str | None = None
    target: str | None = None
    rule_id: str | None = None
    case_id: str | None = None
    ordinal: int | None = None
    record_id: str | None = None
    record_url: str | None = None
    status: str | None = None

    def as_json(self) -> dict[str, Any]:
        fields = {k: v for k, v in self.__dict__.items() if v is not None}
        fields["at"] = self.at.isoformat()
        return fields


ORDER: Final = {"received": 0, "routed": 1, "triage": 1, "joined_case": 1}


def story(status: SignalStatus, case: SignalStatus | None = None) -> list[Step]:
    """What happened to this report, oldest first. ``case`` is the status of the case's
    first report when this one is a colleague's (its record, joins and outcomes live
    there); for a first report it is the report itself. Pure; no error text."""
    case = case or status
    steps: list[Step] = []
    if status.received_at is not None:
        steps.append(Step("received", status.received_at))
    if status.routed_at is not None and status.routing == "routed":
        steps.append(
            Step(
                "routed",
                status.routed_at,
                destination=status.destination,
                target=status.target,
                rule_id=status.rule_id,
            )
        )
    elif status.routed_at is not None and status.routing == "triage":
        steps.append(Step("triage", status.routed_at))
    elif status.routed_at is not None and status.routing == "duplicate":
        steps.append(
            Step(
                "joined_case",
                status.routed_at,
                case_id=status.duplicate_of,
                ordinal=status.reporters_count,
            )
        )
    record = case.delivery
    if record is not None and record.status is DeliveryStatus.delivered and record.at:
        steps.append(
            Step(
                "recorded",
                record.at,
                destination=case.destination,
                record_id=record.external_id,
                record_url=record.external_url,
            )
        )
    own = status.delivery
    if own is not None and own.at is not None:
        if own.status is not DeliveryStatus.delivered:
            kind = "waiting" if own.status is DeliveryStatus.retrying else "parked"
            steps.append(Step(kind, own.at, destination=status.destination))
        elif case is not status:  # a colleague's report, added to the case's record
            steps.append(Step("noted", own.at, record_id=own.external_id))
    steps.extend(
        Step("colleague", join.at, ordinal=join.ordinal)
        for join in case.joins
        if join.signal_id != status.signal_id
    )
    steps.extend(
        Step(
            "outcome",
            outcome.changed_at,
            destination=outcome.destination,
            record_id=outcome.record_id,
            record_url=outcome.record_url,
            status=outcome.status.value,
        )
        for outcome in case.outcomes
    )
    return sorted(steps, key=lambda step: (step.at, ORDER.get(step.kind, 2)))


def status_json(status: SignalStatus, case: SignalStatus | None = None) -> dict[str, Any]:
    """The JSON API's answer: where it stands, the case's current outcome, the story."""
    body = status.as_json()
    current = current_outcome((case or status).outcomes)
    body["outcome"] = None if current is None else current.status.value
    body["story"] = [step.as_json() for step in story(status, case)]
    return body


# --------------------------------------------------------------------------- follower


class StatusFollower(TopicFollower):
    """Reads the followed topics into ``book`` until ``close()``: a TopicFollower
    (services/common/follower.py) whose records fold into a StatusBook."""

    def __init__(
        self,
        book: StatusBook,
        bootstrap: list[str],
        *,
        topic_names: Iterable[str] = FOLLOWED_TOPICS,
        **options: Any,
    ) -> None:
        self.book = book
        super().__init__(
            bootstrap,
            topic_names,
            lambda topic, record: book.apply_record(topic, record.value) is not None,
            name="status-follower",
            client_id="antenna-ingest-status",
            **options,
        )
