"""Which record in a target system holds a case, and which notes it has: the durable
case -> record mapping every connector shares.

Delivery is at least once, so a connector is asked again about a case it may have
written already: after a crash, a lost answer, a rebalance or a replay. It writes down
what it is about to do BEFORE the vendor call (a pending marker with the attempt
number) and what came of it AFTER (the record id and link). The next attempt then reads:

- a record: done, nothing is written again;
- a pending marker and no record: an earlier create may have committed with its answer
  lost, so the vendor is asked by the case's own key before anything is created;
- nothing, in a durable store: no attempt ever started, so there is nothing to look up.

A later report of the same case adds a note; each note has its own slot (case id +
note key, the duplicate's signal_id), so a redelivered duplicate adds it once.

Two stores: ``MemoryRecords`` (tests, and ``build_connectors`` without a Faust app; not
durable, so every attempt asks the vendor first) and ``TableRecords``, backed by a
changelog table (``AckedTable``) whose writes are acknowledged by the broker before the
vendor call goes out. A Faust table keeps a key in the partition of the event being
processed; duplicates are keyed by their case's cluster_id (PLAN contract 3), so a
case's entry and its notes' entries live in the partition of the case's own events.

Table entries expire with the delivery ledger's (the dedupe window, ``expired_keys``):
each stored value carries when it was written and its table partition. A report about
an expired case finds no entry and asks the vendor by the case's key, as for a case
delivered before the mapping existed. A case whose record is still polled for its
outcome is kept past the window, up to a horizon and a capacity
(services/common/open_cases.py): the pollers read their records from this mapping."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from services.common.open_cases import Released, Watching, everything_past
from services.common.table_bounds import oldest_past
from services.connectors.expiry import expires

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Slot:
    """One thing a connector writes once: a case's record, or (with ``note``) the note
    a later report of the case adds to it."""

    case_id: str
    note: str | None = None

    def key(self, destination: str) -> str:
        # Destinations share one table; "|" never occurs in a ULID or a destination name.
        base = f"{destination}|{self.case_id}"
        return f"{base}|note|{self.note}" if self.note is not None else base


@dataclass(frozen=True)
class Record:
    """A record in the target system: its id, a link a person can open, and what a
    person calls it when that is not its id (Tryton's opportunity number)."""

    id: str
    url: str | None = None
    label: str | None = None

    @property
    def name(self) -> str:
        return self.label or self.id


@dataclass(frozen=True)
class Attempt:
    """A write that was started: the attempt's number (1, 2, ...) and when it started.
    Its idempotency key is the slot's own (the case id, or the note key), so that every
    attempt sends the same one."""

    number: int
    started_at: datetime


@dataclass(frozen=True)
class Entry:
    """What the mapping knows about a slot."""

    record: Record | None = None
    attempt: Attempt | None = None  # the last write started, if one was

    @property
    def may_exist(self) -> bool:
        """A write was started and its outcome not recorded: it may have committed."""
        return self.record is None and self.attempt is not None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.record is not None:
            data["record"] = {
                "id": self.record.id,
                "url": self.record.url,
                "label": self.record.label,
            }
        if self.attempt is not None:
            data["attempt"] = {
                "number": self.attempt.number,
                "started_at": self.attempt.started_at.isoformat(),
            }
        return data

    @classmethod
    def from_json(cls, data: Any) -> Entry:
        if not isinstance(data, dict):
            return cls()
        record = data.get("record")
        attempt = data.get("attempt")
        return cls(
            record=Record(str(record["id"]), record.get("url"), record.get("label"))
            if record
            else None,
            attempt=Attempt(int(attempt["number"]), datetime.fromisoformat(attempt["started_at"]))
            if attempt
            else None,
        )


class CaseRecords(ABC):
    """The case -> record mapping of one destination."""

    #: Whether an absent entry proves that no write was ever started. Only then may a
    #: connector skip asking the vendor before it creates.
    durable: bool = False

    def __init__(self, destination: str, clock: Clock = _now) -> None:
        self.destination = destination
        self.clock = clock

    @abstractmethod
    async def get(self, slot: Slot) -> Entry:
        """What is known about ``slot`` (an empty Entry when nothing is)."""

    @abstractmethod
    async def _put(self, slot: Slot, entry: Entry) -> None:
        """Store ``entry``; return once it is durable."""

    async def begin(self, slot: Slot) -> Attempt:
        """Mark a write as started, durably, before the vendor call goes out."""
        previous = (await self.get(slot)).attempt
        attempt = Attempt((previous.number if previous else 0) + 1, self.clock())
        await self._put(slot, Entry(attempt=attempt))
        return attempt

    async def done(self, slot: Slot, record: Record) -> None:
        """Record the write's outcome, durably."""
        entry = await self.get(slot)
        await self._put(slot, Entry(record=record, attempt=entry.attempt))

    def must_look_up(self, entry: Entry) -> bool:
        """Whether the vendor must be asked before a create: an earlier write may have
        committed, or this store cannot tell."""
        return entry.may_exist or not self.durable


class MemoryRecords(CaseRecords):
    """In memory: for tests, and wherever no Faust app runs. Not durable."""

    def __init__(self, destination: str = "", clock: Clock = _now) -> None:
        super().__init__(destination, clock)
        self.entries: dict[str, dict[str, Any]] = {}

    async def get(self, slot: Slot) -> Entry:
        return Entry.from_json(self.entries.get(slot.key(self.destination)))

    async def _put(self, slot: Slot, entry: Entry) -> None:
        self.entries[slot.key(self.destination)] = entry.to_json()


class AckedMapping(Protocol):
    """What TableRecords needs of services.common.faust_app.AckedTable."""

    def get(self, key: str) -> Any: ...

    def __setitem__(self, key: str, value: Any) -> None: ...

    async def written(self) -> None: ...


class TableRecords(CaseRecords):
    """Backed by a changelog table: a write returns once the broker acknowledged it, so
    the pending marker is stored before the vendor call can commit anything. Must be
    used from inside the agent processing the case's event (the table stores the key in
    that event's partition)."""

    durable = True

    def __init__(
        self,
        table: AckedMapping,
        destination: str,
        clock: Clock = _now,
        partition: Callable[[], int | None] = lambda: None,
    ) -> None:
        """``partition``: the table partition a write goes to now (the event's being
        processed), stored for expiry; None: the entry does not expire."""
        super().__init__(destination, clock)
        self.table = table
        self.partition = partition

    async def get(self, slot: Slot) -> Entry:
        return Entry.from_json(self.table.get(slot.key(self.destination)))

    async def _put(self, slot: Slot, entry: Entry) -> None:
        value = entry.to_json()
        value.update(at=self.clock().timestamp(), partition=self.partition())
        self.table[slot.key(self.destination)] = value
        await self.table.written()


def expired_keys(
    items: Iterable[tuple[Any, Any]],
    partition: int,
    now: float,
    window_s: float,
    watching: Watching | None = None,
    keep: int | None = None,
) -> Released[Any]:
    """Keys of ``partition`` written last before the window (expiry.expires), in the
    table of every destination's mapping; with ``watching``, a case whose record is still
    polled for its outcome is kept past the window (services/common/open_cases.py). With
    ``keep``, of the partition's entries inside the window the oldest past the newest
    ``keep`` with a record go too (table_bounds): a busy window must not grow the mapping
    without end. A case let go early is looked up by its own key at the vendor, as an
    expired one; its outcome is no longer polled."""
    past, inside = [], []
    for key, value in items:
        if not isinstance(value, dict):
            continue
        at, written_in = value.get("at"), value.get("partition")
        if not isinstance(at, int | float) or written_in != partition:
            continue  # another partition's, or written by an older version: kept
        if expires(at, written_in, partition, now, window_s):
            past.append((key, value))
        elif value.get("record"):  # a pending marker stays: the next attempt asks first
            inside.append((key, at))
    released = watching.release(past) if watching is not None else everything_past(past)
    if keep is not None:
        released.keys += oldest_past(inside, keep)
    return released


Find = Callable[[Entry], Awaitable[Record | None]]
Create = Callable[[Attempt], Awaitable[Record]]


async def write_once(records: CaseRecords, slot: Slot, find: Find, create: Create) -> Record:
    """The record for ``slot``: from the mapping; else, when an earlier write may have
    committed (or the store cannot tell), from the vendor's own key (``find``); else
    created (``create``) after a durable pending marker. The outcome is recorded."""
    entry = await records.get(slot)
    if entry.record is not None:
        return entry.record
    found = await find(entry) if records.must_look_up(entry) else None
    if found is None:
        attempt = await records.begin(slot)
        found = await create(attempt)
    await records.done(slot, found)
    return found


async def known_record(records: CaseRecords, case_id: str, find: Find) -> Record | None:
    """The record of an existing case, for a note: from the mapping, else from the
    vendor (a case delivered before the mapping existed, or whose entry lives in
    another store). Never creates."""
    slot = Slot(case_id)
    entry = await records.get(slot)
    if entry.record is not None:
        return entry.record
    found = await find(entry)
    if found is not None:
        await records.done(slot, found)
    return found
