"""The delivery ledger's entries: what happened to each signal_id, kept in a
changelog-backed table. Pure: the agent reads and writes the table, this module decides.

An entry is final when delivered; ``failed`` and ``dead`` (parked on signals.dlq) are
final for an ordinary redelivery but not for a replay from the DLQ; ``retrying`` holds a
waiting signal's attempts so that a restart keeps its horizon and its announcements.
Entries expire with the dedupe window, and a partition keeps at most its share of
``ANTENNA_DELIVERY_LEDGER_MAX_ENTRIES`` (the oldest go first), so the table does not grow
without bound; after that, a redelivery is still stopped by the connector's own
idempotency (its lookup before create, the webhook's Idempotency-Key).

An entry's key is the delivery's (``delivery_key``): a report is delivered once as a case
of its own and once as a note on each case it joined, so that a report an operator split
off the case it had joined ("not the same case") reaches its destination as a case."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from schemas import DeliveryStatus
from services.common.table_bounds import oldest_past
from services.connectors.expiry import expires
from services.connectors.retry import Waiting


@dataclass(frozen=True)
class Entry:
    status: DeliveryStatus
    at: float | None  # unix seconds of the last change; None: written by an older version
    # The table partition it was written in: an expired entry can only be deleted from an
    # event of that partition (Faust writes a table's tombstone to the current event's).
    partition: int | None = None
    waiting: Waiting | None = None


def delivery_key(signal_id: str, case_id: str) -> str:
    """What a delivery is remembered under: the signal_id of a report delivered as its own
    case (the case id is its signal_id), ``<signal_id>@<case id>`` of one added as a note
    to another case's record."""
    return signal_id if case_id == signal_id else f"{signal_id}@{case_id}"


def entry_from(value: Any) -> Entry | None:
    """Decode a table value; older versions wrote the bare status string."""
    try:
        if isinstance(value, str):
            return Entry(DeliveryStatus(value), at=None)
        if not isinstance(value, dict):
            return None
        waiting = value.get("waiting")
        return Entry(
            status=DeliveryStatus(value["status"]),
            at=float(value["at"]),
            partition=int(value["partition"]),
            waiting=Waiting(
                since=float(waiting["since"]),
                attempts=int(waiting["attempts"]),
                announced_at=waiting.get("announced_at"),
            )
            if isinstance(waiting, dict)
            else None,
        )
    except (KeyError, TypeError, ValueError):
        return None  # unreadable: treated as absent, the connector's idempotency holds


def entry_value(entry: Entry) -> dict[str, Any]:
    value: dict[str, Any] = {
        "status": entry.status.value,
        "at": entry.at,
        "partition": entry.partition,
    }
    if entry.waiting is not None:
        value["waiting"] = {
            "since": entry.waiting.since,
            "attempts": entry.waiting.attempts,
            "announced_at": entry.waiting.announced_at,
        }
    return value


def should_deliver(entry: Entry | None, replay: bool) -> bool:
    """Whether a consumed routed event is handed to the connector."""
    if entry is None or entry.status is DeliveryStatus.retrying:
        return True
    if entry.status is DeliveryStatus.delivered:
        return False  # replaying twice creates nothing new
    return replay  # parked: only an operator's replay tries it again


def resumed(entry: Entry | None) -> Waiting | None:
    """The attempts of a signal that was waiting when its worker stopped."""
    if entry is not None and entry.status is DeliveryStatus.retrying:
        return entry.waiting
    return None


def expired_keys(
    items: Iterable[tuple[Any, Any]],
    partition: int,
    now: float,
    window_s: float,
    keep: int | None = None,
) -> list[Any]:
    """Keys of ``partition`` whose last change is older than the window (expiry.expires),
    and past the newest ``keep`` of the partition the oldest (table_bounds). Entries still
    waiting are kept: the retry horizon parks them long before."""
    expired, kept = [], []
    for key, value in items:
        entry = entry_from(value)
        if (
            entry is None
            or entry.partition != partition
            or entry.at is None
            or entry.status is DeliveryStatus.retrying
        ):
            continue
        if expires(entry.at, entry.partition, partition, now, window_s):
            expired.append(key)
        else:
            kept.append((key, entry.at))
    if keep is not None:
        expired += oldest_past(kept, keep)
    return expired
