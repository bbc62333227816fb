"""The case -> record mapping: written before and after each vendor call, so that a
redelivery, a lost answer or a crash never writes a record or a note twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas import Dedupe, RoutedSignal
from services.connectors.base import ConnectorConfig, ConnectorContext, Ticket, TicketConnector
from services.connectors.records import (
    Attempt,
    CaseRecords,
    Entry,
    MemoryRecords,
    Record,
    Slot,
    TableRecords,
    expired_keys,
    known_record,
    write_once,
)
from tests.support.builders import build_routed
from tests.support.records import DictTable

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


class Vendor:
    """A target system whose create may commit and then lose its answer."""

    def __init__(self, records: CaseRecords, slot: Slot) -> None:
        self.records, self.slot = records, slot
        self.created: list[str] = []
        self.lookups = 0
        self.lose_next_answer = False
        self.marker_seen: list[Entry] = []

    async def find(self, entry: Entry) -> Record | None:
        self.lookups += 1
        return Record(self.created[0]) if self.created else None

    async def create(self, attempt: Attempt) -> Record:
        # The pending marker must be stored before anything reaches the vendor.
        self.marker_seen.append(await self.records.get(self.slot))
        self.created.append(f"R-{len(self.created) + 1}")
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise ConnectionError("answer lost after commit")
        return Record(self.created[-1], f"https://crm/{self.created[-1]}")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.mark.parametrize("durable", [True, False])
def test_one_record_however_often_a_case_is_delivered(durable: bool) -> None:
    records: CaseRecords = (
        TableRecords(DictTable(), "crm", clock=lambda: NOW) if durable else MemoryRecords("crm")
    )
    slot = Slot("01CASE")
    vendor = Vendor(records, slot)
    results = [run(write_once(records, slot, vendor.find, vendor.create)) for _ in range(3)]

    assert vendor.created == ["R-1"]
    assert results == [Record("R-1", "https://crm/R-1")] * 3
    # A durable store knows that no attempt started: it creates without asking first.
    assert vendor.lookups == (0 if durable else 1)


def test_a_lost_answer_is_found_by_the_vendor_key_not_created_again() -> None:
    table = DictTable()
    records = TableRecords(table, "crm", clock=lambda: NOW)
    slot = Slot("01CASE")
    vendor = Vendor(records, slot)
    vendor.lose_next_answer = True
    with pytest.raises(ConnectionError):
        run(write_once(records, slot, vendor.find, vendor.create))

    entry = run(records.get(slot))
    assert entry.may_exist and entry.attempt == Attempt(1, NOW)
    assert table.acked == table  # the marker was acknowledged before the call
    assert vendor.marker_seen[0].attempt == Attempt(1, NOW)

    record = run(write_once(records, slot, vendor.find, vendor.create))
    assert record == Record("R-1") and vendor.created == ["R-1"] and vendor.lookups == 1
    assert run(records.get(slot)) == Entry(Record("R-1"), Attempt(1, NOW))


def test_attempts_are_counted_when_the_vendor_has_nothing() -> None:
    records = TableRecords(DictTable(), "crm", clock=lambda: NOW)
    slot = Slot("01CASE")

    async def nothing(entry: Entry) -> Record | None:
        return None

    async def fail(attempt: Attempt) -> Record:
        raise TimeoutError

    for _ in range(2):
        with pytest.raises(TimeoutError):
            run(write_once(records, slot, nothing, fail))
    assert run(records.get(slot)).attempt == Attempt(2, NOW)


def test_destinations_and_notes_have_their_own_slots() -> None:
    table = DictTable()
    crm, desk = TableRecords(table, "crm"), TableRecords(table, "servicedesk")
    run(crm.done(Slot("01CASE"), Record("lead-1")))
    run(crm.done(Slot("01CASE", note="01DUP"), Record("note-1")))
    assert run(desk.get(Slot("01CASE"))) == Entry()
    assert run(crm.get(Slot("01CASE", note="01OTHER"))) == Entry()
    assert set(table) == {"crm|01CASE", "crm|01CASE|note|01DUP"}


def test_entries_survive_the_changelog_round_trip() -> None:
    entry = Entry(Record("7", "https://crm/7", label="OPP-7"), Attempt(3, NOW))
    assert Entry.from_json(entry.to_json()) == entry
    assert Entry.from_json(None) == Entry()


def test_known_record_asks_the_vendor_once_then_remembers() -> None:
    records = MemoryRecords("crm")
    asked: list[str] = []

    async def find(entry: Entry) -> Record | None:
        asked.append("x")
        return Record("T-1")

    assert run(known_record(records, "01CASE", find)) == Record("T-1")
    assert run(known_record(records, "01CASE", find)) == Record("T-1")
    assert asked == ["x"]


def test_entries_expire_with_the_ledger_window_in_their_own_partition() -> None:
    """Each write stores when and in which table partition it was made; a partition's
    sweep expires its own entries older than the window, whatever their destination."""
    table = DictTable()
    day = 86400.0
    at = {"now": NOW}
    crm = TableRecords(table, "crm", clock=lambda: at["now"], partition=lambda: 1)
    desk = TableRecords(table, "servicedesk", clock=lambda: at["now"], partition=lambda: 1)
    elsewhere = TableRecords(table, "crm", clock=lambda: at["now"], partition=lambda: 2)
    unplaced = TableRecords(table, "crm", clock=lambda: at["now"])  # no event: kept
    run(crm.done(Slot("01OLD"), Record("lead-1")))
    run(desk.done(Slot("01OLD", note="01DUP"), Record("note-1")))
    run(elsewhere.done(Slot("01THERE"), Record("lead-2")))
    run(unplaced.done(Slot("01NOWHERE"), Record("lead-3")))
    at["now"] = NOW + timedelta(days=10)
    run(crm.done(Slot("01NEW"), Record("lead-4")))
    table["crm|01LEGACY"] = Entry(Record("lead-5")).to_json()  # an older version's value

    now = (NOW + timedelta(days=15)).timestamp()
    items = list(table.items())
    assert expired_keys(items, 1, now, 14 * day).keys == [
        "crm|01OLD",
        "servicedesk|01OLD|note|01DUP",
    ]
    assert expired_keys(items, 2, now, 14 * day).keys == ["crm|01THERE"]
    assert expired_keys(items, 1, now, 20 * day).keys == []
    # What expiry stores beside an entry does not change what it reads as.
    assert run(crm.get(Slot("01OLD"))) == Entry(Record("lead-1"))


# --- the ticket capability on top of the mapping ------------------------------------------


class Desk(TicketConnector):
    name = "desk"
    config_model = ConnectorConfig

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(ConnectorConfig(), context)
        self.tickets: dict[str, str] = {}  # ticket id -> case id
        self.notes: list[tuple[str, str]] = []
        self.calls: list[str] = []
        self.lose_next_answer = False

    async def find_ticket(self, case_id: str) -> Ticket | None:
        self.calls.append("find_ticket")
        ids = [t for t, c in self.tickets.items() if c == case_id]
        return Ticket(ids[0]) if ids else None

    async def open_ticket(self, routed: RoutedSignal) -> Ticket:
        self.calls.append("open_ticket")
        ticket_id = str(len(self.tickets) + 1)
        self.tickets[ticket_id] = routed.signal.signal_id
        return Ticket(ticket_id)

    async def has_note(self, ticket: Ticket, signal_id: str) -> bool:
        self.calls.append("has_note")
        return (ticket.id, signal_id) in self.notes

    async def add_note(self, ticket: Ticket, routed: RoutedSignal) -> None:
        self.calls.append("add_note")
        self.notes.append((ticket.id, routed.signal.signal_id))
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise ConnectionError("answer lost after commit")


def test_a_ticket_connector_uses_the_mapping_before_the_desk() -> None:
    records = TableRecords(DictTable(), "servicedesk")
    desk = Desk(ConnectorContext("servicedesk", Path("unused"), records))
    case = build_routed()
    duplicate = build_routed(
        dedupe=Dedupe(
            duplicate_of=case.signal.signal_id, cluster_id=case.signal.signal_id, reporters_count=2
        )
    )
    for _ in range(3):
        assert run(desk.deliver(case)).external_id == "1"
    desk.lose_next_answer = True
    with pytest.raises(ConnectionError):
        run(desk.deliver(duplicate))
    for _ in range(3):
        assert run(desk.deliver(duplicate)).external_id == "1"

    assert list(desk.tickets) == ["1"]
    assert desk.notes == [("1", duplicate.signal.signal_id)]
    # Durable mapping: no look-up before the first create; one after the lost answer.
    assert desk.calls == ["open_ticket", "add_note", "has_note"]


def test_the_context_keeps_an_in_memory_mapping_by_default() -> None:
    context = ConnectorContext("crm", Path("unused"))
    assert isinstance(context.records, MemoryRecords)
    assert context.records.destination == "crm"
    assert ConnectorContext("crm", Path("unused")).records is not context.records


def test_a_partition_past_its_share_lets_its_oldest_records_go_inside_the_window() -> None:
    """The mapping stays bounded within the window (a busy one, 100,000 cases in a day):
    past ``keep`` entries of a partition, the oldest with a record go; a pending marker
    stays (without it, the next attempt would create without asking the vendor)."""
    table = DictTable()
    at = {"now": NOW}
    crm = TableRecords(table, "crm", clock=lambda: at["now"], partition=lambda: 0)
    other = TableRecords(table, "crm", clock=lambda: at["now"], partition=lambda: 1)
    run(crm.begin(Slot("01PENDING")))  # the oldest, never done
    for i in range(5):
        at["now"] = NOW + timedelta(minutes=i + 1)
        run(crm.done(Slot(f"01CASE{i}"), Record(f"lead-{i}")))
    run(other.done(Slot("01THERE"), Record("lead-9")))
    now = (NOW + timedelta(hours=1)).timestamp()
    items = list(table.items())
    assert sorted(expired_keys(items, 0, now, 14 * 86400.0, keep=3).keys) == [
        "crm|01CASE0",
        "crm|01CASE1",
    ]
    assert expired_keys(items, 0, now, 14 * 86400.0).keys == []
    assert expired_keys(items, 1, now, 14 * 86400.0, keep=1).keys == []
