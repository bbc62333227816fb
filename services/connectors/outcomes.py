"""What the connectors report back: the status of the records they created, as Outcomes
on signals.outcomes. Pure, apart from the two capabilities a connector may have.

Two ways a record's status reaches Antenna:

- ``StatusSource``: a connector that can read the status of its records (Request
  Tracker, Tryton) is polled. Each tick reads one page of the records the case -> record
  mapping knows, oldest-checked first, in one query, and an Outcome is published only
  when a record's status differs from the last one known for its case. A record whose
  outcome is final is no longer polled: ``closed`` at once, ``resolved``/``won``/``lost``
  once ``poll_reopen_window_s`` has passed since the change (a customer's reply reopens
  a resolved ticket, an opportunity can be taken up again). A record still polled keeps
  its mapping entry past the dedupe window (``watched_since``), up to
  ``ANTENNA_OUTCOME_WATCH_DAYS`` after it was made and a capacity
  (services/common/open_cases.py).
- ``ChangeResolver``: a vendor's webhook names a record but not its case (HubSpot's deal
  events); ingest passes the verified change on as a RecordChange and the connector
  looks the record up to find its case.

A poller derives an outcome's ``event_id`` from the record, the status and the time of
the change at the source, so that two workers (after a rebalance) or a restart that read
the same change publish the same id: consumers fold it once."""

from __future__ import annotations

import heapq
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field

from schemas import Outcome, OutcomeStatus, RecordChange
from services.common.outcomes import order_key
from services.connectors.base import ConnectorConfig
from services.connectors.records import Entry, Record

# Polled again (for a reopening) until the window has passed; ``closed`` never is.
REOPENABLE = frozenset({OutcomeStatus.resolved, OutcomeStatus.won, OutcomeStatus.lost})
WEEK_S = 7 * 24 * 3600.0


class PolledConfig(ConnectorConfig):
    """Polling options of a connector whose records are polled (``..__POLL_*``)."""

    poll_interval_s: float = Field(default=60.0, gt=0)
    # Records read per tick, in one query (RT's REST2 answers at most 100 per page).
    poll_batch: int = Field(default=50, ge=1, le=100)
    poll_reopen_window_s: float = Field(default=WEEK_S, ge=0)


@dataclass(frozen=True)
class RecordStatus:
    """A record's status as its system shows it now, and when it took that status (or
    the closest time the system tells)."""

    status: OutcomeStatus
    changed_at: datetime


class StatusSource(ABC):
    """A connector that can report the status of the records it created."""

    @property
    @abstractmethod
    def polling(self) -> PolledConfig:
        """Its polling options."""

    @abstractmethod
    async def read_statuses(self, records: Sequence[Record]) -> dict[str, RecordStatus]:
        """The status of each record (by id), read in as few queries as the system
        allows (one, where it can read a batch). A record it cannot see is left out.
        Raise DeliveryError when the system cannot be asked."""


class ChangeResolver(ABC):
    """A connector that can turn a RecordChange from its system's webhook into an
    Outcome, by looking the record up there."""

    @abstractmethod
    async def resolve_change(self, change: RecordChange) -> Outcome | None:
        """The Outcome the change means for its case; None when the record is not one
        of Antenna's, or the change is not a status. Raise DeliveryError when the
        system cannot be asked."""


# --- polling: pure decisions ---------------------------------------------------------


@dataclass(frozen=True)
class Watched:
    """A case's record at a polled destination, and the latest outcome known for it."""

    case_id: str
    record: Record
    current: Outcome | None = None


def latest(*outcomes: Outcome | None) -> Outcome | None:
    """The latest of some outcomes of one case (by the time of the change at the source)."""
    known = [outcome for outcome in outcomes if outcome is not None]
    return max(known, key=order_key) if known else None


def still_polled(current: Outcome | None, now: datetime, reopen_window_s: float) -> bool:
    if current is None:
        return True
    if current.status is OutcomeStatus.closed:
        return False
    if current.status in REOPENABLE:
        return now - current.changed_at <= timedelta(seconds=reopen_window_s)
    return True


def watched_since(
    value: Any, current: Outcome | None, now: datetime, reopen_window_s: float
) -> float | None:
    """When a case -> record entry's record was made (its last write), while the record
    is still polled for its outcome; None when it is not (no record, a final outcome):
    what keeps the entry past the dedupe window (services/common/open_cases.py)."""
    if not isinstance(value, dict) or not isinstance(value.get("at"), int | float):
        return None
    if Entry.from_json(value).record is None or not still_polled(current, now, reopen_window_s):
        return None
    return float(value["at"])


def next_page(
    watched: Iterable[Watched],
    checked: Mapping[str, float],
    batch: int,
    now: datetime,
    reopen_window_s: float,
) -> list[Watched]:
    """The records to read this tick: at most ``batch`` of those still polled, the ones
    checked longest ago (``checked``: case id -> when) first, never-checked ones before
    all, oldest case first. O(n log batch)."""
    polled = (w for w in watched if still_polled(w.current, now, reopen_window_s))
    return heapq.nsmallest(
        batch, polled, key=lambda w: (checked.get(w.case_id, float("-inf")), w.case_id)
    )


def poll_event_id(connector: str, record_id: str, status: OutcomeStatus, at: datetime) -> str:
    """The id of a change a poller saw: the same record, status and time give the same
    id on every worker and after every restart."""
    return f"{connector}:{record_id}:{status.value}:{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%fZ}"


def changes(
    page: Sequence[Watched],
    statuses: Mapping[str, RecordStatus],
    *,
    destination: str,
    connector: str,
    observed_at: datetime,
) -> list[Outcome]:
    """An Outcome for every record of ``page`` whose status differs from its case's
    current outcome.

    The status read now is the record's status now, so it must come out as the latest
    change when folded: a source time at or before the current outcome's (a time field
    that lags, clocks that differ) is moved just after it."""
    found = []
    for watched in page:
        seen = statuses.get(watched.record.id)
        if seen is None:
            continue
        current = watched.current
        if current is not None and current.status is seen.status:
            continue
        at = seen.changed_at.astimezone(UTC)
        if current is not None and at <= current.changed_at:
            at = current.changed_at + timedelta(microseconds=1)
        found.append(
            Outcome(
                case_id=watched.case_id,
                status=seen.status,
                changed_at=at,
                record_id=watched.record.id,
                record_url=watched.record.url,
                destination=destination,
                connector=connector,
                event_id=poll_event_id(connector, watched.record.id, seen.status, at),
                observed_at=observed_at,
            )
        )
    return found
