"""Polling the destinations for what became of their records: the vendors' statuses as
outcomes, which records a tick reads, and which changes it publishes (pure)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from kafka.partitioner.default import murmur2

from schemas import Outcome, OutcomeStatus, new_signal_id
from services.common.outcomes import fold_outcomes
from services.connectors.base import DeliveryError
from services.connectors.outcome_sources import Poller, partition_of
from services.connectors.outcomes import (
    PolledConfig,
    RecordStatus,
    StatusSource,
    Watched,
    changes,
    latest,
    next_page,
    poll_event_id,
    still_polled,
)
from services.connectors.records import Record
from services.connectors.request_tracker import outcomes as rt
from services.connectors.tryton import outcomes as tryton

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WEEK_S = 7 * 24 * 3600.0


def outcome(
    status: OutcomeStatus, at: datetime = T0, case_id: str | None = None, event: str = "e1"
) -> Outcome:
    return Outcome(
        case_id=case_id or new_signal_id(),
        status=status,
        changed_at=at,
        record_id="17",
        destination="servicedesk",
        connector="request_tracker",
        event_id=event,
        observed_at=at,
    )


# --- Request Tracker ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("new", OutcomeStatus.opened),
        ("open", OutcomeStatus.in_progress),
        ("stalled", OutcomeStatus.in_progress),
        ("resolved", OutcomeStatus.resolved),
        ("rejected", OutcomeStatus.closed),
        ("deleted", OutcomeStatus.closed),
        ("Resolved", OutcomeStatus.resolved),
        ("awaiting-parts", None),  # a custom lifecycle's status: not guessed at
    ],
)
def test_request_tracker_statuses(status: str, expected: OutcomeStatus | None) -> None:
    assert rt.outcome_status(status) is expected


def test_request_tracker_times_the_change_by_the_field_that_tells_it() -> None:
    ticket = {
        "id": "17",
        "Created": "2026-03-01T08:00:00Z",
        "LastUpdated": "2026-03-02T10:30:00Z",
        "Resolved": "2026-03-02T10:00:00Z",
    }
    at = {
        status: rt.record_status({**ticket, "Status": status})
        for status in ("new", "open", "resolved")
    }
    assert at["new"] == RecordStatus(OutcomeStatus.opened, datetime(2026, 3, 1, 8, tzinfo=UTC))
    assert at["open"] == RecordStatus(
        OutcomeStatus.in_progress, datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    )
    assert at["resolved"] == RecordStatus(
        OutcomeStatus.resolved, datetime(2026, 3, 2, 10, tzinfo=UTC)
    )
    # RT's "never" for a resolution: the last update is the closest time it tells.
    unset = rt.record_status({**ticket, "Status": "resolved", "Resolved": "1970-01-01T00:00:00Z"})
    assert unset is not None and unset.changed_at == datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    assert rt.record_status({"id": "1", "Status": "open"}) is None  # no time at all


def test_request_tracker_reads_a_page_in_one_search_of_numeric_ids() -> None:
    assert rt.search_query(["3", "17", "4711"]) == "id = 3 OR id = 17 OR id = 4711"
    with pytest.raises(ValueError):
        rt.search_query(["3 OR Queue = 'General'"])


# --- Tryton ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("lead", OutcomeStatus.opened),
        ("opportunity", OutcomeStatus.in_progress),
        ("converted", OutcomeStatus.in_progress),
        ("won", OutcomeStatus.won),
        ("lost", OutcomeStatus.lost),
        ("cancelled", OutcomeStatus.lost),
        ("draft", None),
    ],
)
def test_tryton_states(state: str, expected: OutcomeStatus | None) -> None:
    assert tryton.outcome_status(state) is expected


def test_tryton_states_match_the_installed_model() -> None:
    """Every state of trytond_sale_opportunity 8.2's sale.opportunity, as read from
    opportunity.py, has its outcome."""
    states = ["lead", "opportunity", "converted", "won", "lost", "cancelled"]
    assert sorted(tryton.STATES) == sorted(states)


def test_tryton_datetimes_as_json_rpc_and_rest_send_them() -> None:
    encoded = {
        "__class__": "datetime",
        "year": 2026,
        "month": 3,
        "day": 2,
        "hour": 9,
        "minute": 5,
        "second": 7,
        "microsecond": 250,
    }
    assert tryton.tryton_datetime(encoded) == datetime(2026, 3, 2, 9, 5, 7, 250, tzinfo=UTC)
    assert tryton.tryton_datetime("2026-03-02T09:05:07") == datetime(
        2026, 3, 2, 9, 5, 7, tzinfo=UTC
    )
    assert tryton.tryton_datetime(None) is None
    assert tryton.tryton_datetime({"__class__": "date", "year": 2026}) is None
    created_only = {"id": 4, "state": "lead", "write_date": None, "create_date": encoded}
    assert tryton.statuses_of([created_only]) == {
        "4": RecordStatus(OutcomeStatus.opened, datetime(2026, 3, 2, 9, 5, 7, 250, tzinfo=UTC))
    }


# --- which records a tick reads -------------------------------------------------------


def test_closed_is_never_polled_again_done_is_polled_for_a_reopening_window() -> None:
    now = T0 + timedelta(days=3)
    assert still_polled(None, now, WEEK_S)
    assert still_polled(outcome(OutcomeStatus.in_progress), now, WEEK_S)
    assert not still_polled(outcome(OutcomeStatus.closed), now, WEEK_S)
    for done in (OutcomeStatus.resolved, OutcomeStatus.won, OutcomeStatus.lost):
        assert still_polled(outcome(done), now, WEEK_S)
        assert not still_polled(outcome(done), now, reopen_window_s=0)
        assert not still_polled(outcome(done), T0 + timedelta(days=8), WEEK_S)


def test_a_page_is_bounded_and_oldest_checked_first() -> None:
    cases = sorted(new_signal_id() for _ in range(6))
    watched = [Watched(case, Record(str(n))) for n, case in enumerate(cases)]
    watched[5] = Watched(cases[5], Record("5"), outcome(OutcomeStatus.closed, case_id=cases[5]))
    checked = {cases[0]: 30.0, cases[1]: 10.0, cases[2]: 20.0}  # 3 and 4 never checked

    page = next_page(watched, checked, batch=4, now=T0, reopen_window_s=WEEK_S)

    assert [w.case_id for w in page] == [cases[3], cases[4], cases[1], cases[2]]
    again = next_page(watched, checked, batch=10, now=T0, reopen_window_s=WEEK_S)
    assert cases[5] not in [w.case_id for w in again]  # closed: not read at all


# --- which changes a tick publishes ---------------------------------------------------


def test_only_a_change_is_published_with_an_id_every_reader_derives_alike() -> None:
    unchanged, changed, first, unseen = (new_signal_id() for _ in range(4))
    page = [
        Watched(unchanged, Record("1"), outcome(OutcomeStatus.in_progress, case_id=unchanged)),
        Watched(changed, Record("2", "https://rt/2"), outcome(OutcomeStatus.opened)),
        Watched(first, Record("3")),
        Watched(unseen, Record("4")),  # not in the answer: nothing known, nothing said
    ]
    resolved_at = T0 + timedelta(hours=2)
    statuses = {
        "1": RecordStatus(OutcomeStatus.in_progress, T0 + timedelta(hours=1)),
        "2": RecordStatus(OutcomeStatus.resolved, resolved_at),
        "3": RecordStatus(OutcomeStatus.opened, T0),
    }
    observed = T0 + timedelta(hours=3)

    def published() -> list[Outcome]:
        return changes(
            page,
            statuses,
            destination="servicedesk",
            connector="request_tracker",
            observed_at=observed,
        )

    found = published()
    assert [(o.case_id, o.status) for o in found] == [
        (changed, OutcomeStatus.resolved),
        (first, OutcomeStatus.opened),
    ]
    resolved = found[0]
    assert (resolved.record_id, resolved.record_url, resolved.changed_at) == (
        "2",
        "https://rt/2",
        resolved_at,
    )
    assert resolved.event_id == poll_event_id(
        "request_tracker", "2", OutcomeStatus.resolved, resolved_at
    )
    assert resolved.event_id == "request_tracker:2:resolved:2026-03-02T11:00:00.000000Z"
    # Another worker (after a rebalance) or a restart reads the same: the same ids.
    assert [o.event_id for o in published()] == [o.event_id for o in found]


def test_a_status_read_now_folds_as_the_latest_even_when_its_time_lags() -> None:
    """A reopened ticket whose time field lags the last outcome's time still comes out
    as the current status: never the older 'resolved'."""
    case = new_signal_id()
    resolved = outcome(OutcomeStatus.resolved, T0 + timedelta(hours=2), case_id=case)
    page = [Watched(case, Record("2"), resolved)]
    lagging = {"2": RecordStatus(OutcomeStatus.in_progress, T0 + timedelta(hours=1))}
    [reopened] = changes(
        page, lagging, destination="servicedesk", connector="request_tracker", observed_at=T0
    )
    assert reopened.changed_at > resolved.changed_at
    assert fold_outcomes([reopened, resolved])[-1] == reopened


def test_latest_of_a_case_s_outcomes() -> None:
    early = outcome(OutcomeStatus.opened, T0, event="a")
    late = outcome(OutcomeStatus.in_progress, T0 + timedelta(minutes=1), event="b")
    assert latest(None, late, early) is late
    assert latest(None, None) is None


def test_a_case_s_partition_is_kafka_s_default_partitioner_s() -> None:
    """The poller keeps to this worker's partitions by computing a case's partition: it
    must be the one every producer of the case's events picked (Faust through aiokafka,
    ingest through kafka-python)."""
    faust_producer = DefaultPartitioner()
    for _ in range(50):
        case = new_signal_id().encode()
        expected = faust_producer(case, [0, 1, 2], [0, 1, 2])
        assert partition_of(case.decode(), 3) == expected == (murmur2(case) & 0x7FFFFFFF) % 3


# --- one tick -------------------------------------------------------------------------


class Desk(StatusSource):
    """A polled destination: answers from ``statuses``, or fails while ``failing``."""

    def __init__(self, batch: int = 2) -> None:
        self.options = PolledConfig(poll_batch=batch)
        self.statuses: dict[str, RecordStatus] = {}
        self.reads: list[list[str]] = []
        self.failing: Exception | None = None

    @property
    def polling(self) -> PolledConfig:
        return self.options

    async def read_statuses(self, records: Sequence[Record]) -> dict[str, RecordStatus]:
        self.reads.append([r.id for r in records])
        if self.failing is not None:
            raise self.failing
        return {r.id: self.statuses[r.id] for r in records if r.id in self.statuses}


def ticker(desk: Desk, published: list[Outcome]) -> Poller:
    async def publish(outcome: Outcome) -> None:
        published.append(outcome)

    clock = iter(range(1, 1000))
    return Poller("servicedesk", "request_tracker", desk, publish, clock=lambda: next(clock))


def test_a_tick_publishes_the_changes_of_one_page() -> None:
    desk, published = Desk(batch=2), []
    poller = ticker(desk, published)
    cases = sorted(new_signal_id() for _ in range(3))
    watched = [Watched(case, Record(str(n))) for n, case in enumerate(cases)]
    desk.statuses = {str(n): RecordStatus(OutcomeStatus.opened, T0) for n in range(3)}

    first = asyncio.run(poller.tick(watched))
    second = asyncio.run(poller.tick(watched))

    assert desk.reads == [["0", "1"], ["2", "0"]]  # one query a tick, the next page next
    assert [o.case_id for o in first] == cases[:2] and published == first + second
    assert [o.case_id for o in second] == [cases[2], cases[0]]  # nothing known yet: twice


def test_a_failing_page_goes_to_the_back_and_the_tick_does_not_raise() -> None:
    desk, published = Desk(batch=2), []
    poller = ticker(desk, published)
    cases = sorted(new_signal_id() for _ in range(4))
    watched = [Watched(case, Record(str(n))) for n, case in enumerate(cases)]
    desk.statuses = {str(n): RecordStatus(OutcomeStatus.opened, T0) for n in range(4)}

    desk.failing = ValueError("a record the vendor cannot read")
    assert asyncio.run(poller.tick(watched)) == []
    desk.failing = DeliveryError("HTTP 503", retryable=True)
    assert asyncio.run(poller.tick(watched)) == []
    desk.failing = None
    found = asyncio.run(poller.tick(watched))

    assert desk.reads == [["0", "1"], ["2", "3"], ["0", "1"]]
    assert [o.record_id for o in found] == ["0", "1"]


def test_a_broker_that_fails_a_publish_leaves_the_rest_for_the_next_read() -> None:
    desk = Desk(batch=2)
    calls: list[Outcome] = []

    async def publish(outcome: Outcome) -> None:
        calls.append(outcome)
        if len(calls) == 2:
            raise KafkaError("not acknowledged")

    poller = Poller("servicedesk", "request_tracker", desk, publish)
    cases = sorted(new_signal_id() for _ in range(2))
    desk.statuses = {str(n): RecordStatus(OutcomeStatus.resolved, T0) for n in range(2)}
    published = asyncio.run(poller.tick([Watched(c, Record(str(n))) for n, c in enumerate(cases)]))
    assert [o.case_id for o in published] == cases[:1]
