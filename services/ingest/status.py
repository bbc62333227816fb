"""Where a signal stands, for the employee who reported it.

``StatusBook`` is pure: it folds the events on signals.raw, the routed topics
(servicedesk, crm, triage, duplicates) and signals.delivered into one ``SignalStatus``
per signal_id, keeping the most recently touched ``capacity`` signals (LRU). Events may
arrive in any order across topics (a DeliveryResult before its RoutedSignal): each
event fills its own part, and a final delivery outcome is never undone by a later
"retrying".

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
from typing import Any, Final

from pydantic import ValidationError

from schemas import DeliveryResult, DeliveryStatus, RoutedSignal, Signal, topics
from services.common.follower import TopicFollower
from services.common.logging import fields
from services.ingest import metrics

log = logging.getLogger(__name__)

DEFAULT_CAPACITY: Final = 20_000  # IngestSettings.status_capacity
ROUTED_TOPICS: Final = (
    topics.ROUTED_SERVICEDESK,
    topics.ROUTED_CRM,
    topics.TRIAGE,
    topics.DUPLICATES,
)
FOLLOWED_TOPICS: Final = (topics.RAW, *ROUTED_TOPICS, topics.DELIVERED)
# Outcomes that a later, non-final DeliveryResult (e.g. "retrying") does not overwrite.
FINAL_DELIVERY: Final = frozenset({DeliveryStatus.delivered, DeliveryStatus.dead})
# Who reported one signal_id: normally one person; several only when a key was reused.
MAX_READERS: Final = 8


@dataclass(frozen=True, slots=True)
class Delivery:
    status: DeliveryStatus
    external_id: str | None
    external_url: str | None
    attempts: int
    error: str | None


@dataclass(frozen=True, slots=True)
class SignalStatus:
    """``routing`` is None until a routed topic spoke: "routed", "triage" or "duplicate"."""

    signal_id: str
    updated_at: datetime
    received_at: datetime | None = None
    routing: str | None = None
    destination: str | None = None
    target: str | None = None
    rule_id: str | None = None
    duplicate_of: str | None = None
    cluster_id: str | None = None
    reporters_count: int | None = None
    delivery: Delivery | None = None
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


def _readers(status: SignalStatus, signal: Signal) -> SignalStatus:
    reporter = signal.reporter
    names = {n.strip().lower() for n in (reporter.employee_id, reporter.email) if n}
    clients = {c for c in (signal.source, signal.metadata.get("client")) if c}
    return replace(
        status,
        reporters=frozenset(list(status.reporters | names)[:MAX_READERS]),
        clients=frozenset(list(status.clients | clients)[:MAX_READERS]),
    )


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
        self, signal_id: str, at: datetime, change: Callable[[SignalStatus], SignalStatus]
    ) -> SignalStatus:
        with self._lock:
            current = self._entries.pop(signal_id, None)
            if current is None:
                current = SignalStatus(signal_id=signal_id, updated_at=at)
            updated = change(current)
            if updated.updated_at < at:
                updated = replace(updated, updated_at=at)
            self._entries[signal_id] = updated
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
            return updated

    def apply_received(self, signal: Signal) -> SignalStatus:
        """A Signal on signals.raw: a redelivery of the same report changes nothing; the
        same signal_id with another body means its Idempotency-Key was reused."""
        reused = False

        def change(status: SignalStatus) -> SignalStatus:
            nonlocal reused
            status = _readers(status, signal)
            first, this = status.body_fingerprint, signal.body_fingerprint
            if first is None:
                return replace(
                    status,
                    received_at=status.received_at or signal.received_at,
                    body_fingerprint=this,
                )
            if this is not None and this != first and not status.key_reused:
                reused = True
                return replace(status, key_reused=True)
            return status

        status = self._update(signal.signal_id, signal.received_at, change)
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

        def change(status: SignalStatus) -> SignalStatus:
            return replace(
                _readers(status, signal),
                received_at=status.received_at or signal.received_at,
                routing=_routing_kind(topic, routed),
                destination=routed.destination.name,
                target=routed.destination.target,
                rule_id=routed.rule_id,
                duplicate_of=routed.dedupe.duplicate_of,
                cluster_id=routed.dedupe.cluster_id,
                reporters_count=routed.dedupe.reporters_count,
            )

        return self._update(signal.signal_id, routed.routed_at, change)

    def apply_delivery(self, result: DeliveryResult) -> SignalStatus:
        delivery = Delivery(
            status=result.status,
            external_id=result.external_id,
            external_url=result.external_url,
            attempts=result.attempts,
            error=result.error,
        )

        def change(status: SignalStatus) -> SignalStatus:
            previous = status.delivery
            if (
                previous is not None
                and previous.status in FINAL_DELIVERY
                and result.status not in FINAL_DELIVERY
            ):
                return status  # a stale "retrying"/"failed" after the final outcome
            if previous is not None and previous.status is DeliveryStatus.delivered:
                return status  # delivered stays delivered (a redelivery's echo)
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
                return self.apply_received(Signal.model_validate_json(value))
            if topic == topics.DELIVERED:
                return self.apply_delivery(DeliveryResult.model_validate_json(value))
            if topic in ROUTED_TOPICS:
                return self.apply_routed(topic, RoutedSignal.model_validate_json(value))
        except (ValidationError, ValueError):
            return None
        return None


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
