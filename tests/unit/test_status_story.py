"""The whole story of a report: received, routed (where, by which rule), its record,
colleagues who joined, each outcome, with their times; on the page and in the JSON, in
any order of arrival, without a target system's error text for anyone but operators."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

from schemas import Dedupe, Destination, Outcome, topics
from services.ingest.status import StatusBook, status_json, story
from tests.unit.test_status import (  # noqa: F401 - client and book are fixtures
    KEY,
    api,
    book,
    build_routed,
    build_signal,
    client,
    delivery,
    page,
)

T0 = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


def words(response: Any) -> str:
    """The page's text, without markup."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def outcome(case_id: str, status: str, at: datetime, event: str | None = None) -> Outcome:
    return Outcome(
        case_id=case_id,
        status=status,
        changed_at=at,
        record_id="4711",
        record_url="https://rt.example/Ticket/Display.html?id=4711",
        destination="servicedesk",
        connector="request_tracker",
        event_id=event or f"rt:4711:{status}:{at.isoformat()}",
        observed_at=at,
    )


def case_events(statuses: StatusBook) -> tuple[str, str, str]:
    """A complaint, its ticket, two colleagues and three outcomes, arriving out of order:
    (case id, 2nd report id, 3rd report id)."""
    first = build_routed(
        build_signal(received_at=T0),
        destination=Destination(name="servicedesk", target="cards"),
        rule_id="cards-urgent",
        routed_at=minutes(1),
    )
    case = first.signal.signal_id

    def colleague(n: int, at: datetime) -> Any:
        return build_routed(
            build_signal(received_at=at - timedelta(minutes=1)),
            dedupe=Dedupe(duplicate_of=case, cluster_id=case, reporters_count=n),
            routed_at=at,
        )

    second, third = colleague(2, minutes(30)), colleague(3, minutes(90))
    statuses.apply_outcome(outcome(case, "resolved", minutes(600)))  # before anything else
    statuses.apply_routed(topics.DUPLICATES, third)
    statuses.apply_received(first.signal)
    statuses.apply_routed(topics.ROUTED_SERVICEDESK, first)
    statuses.apply_delivery(delivery(case, external_id="4711", at=minutes(3)))
    statuses.apply_routed(topics.DUPLICATES, second)
    statuses.apply_routed(topics.DUPLICATES, second)  # redelivered
    statuses.apply_outcome(outcome(case, "opened", minutes(3)))
    statuses.apply_outcome(outcome(case, "in_progress", minutes(120)))
    statuses.apply_outcome(outcome(case, "in_progress", minutes(60)))  # late, older
    statuses.apply_outcome(outcome(case, "resolved", minutes(600)))  # again
    statuses.apply_delivery(delivery(second.signal.signal_id, external_id="4711", at=minutes(31)))
    return case, second.signal.signal_id, third.signal.signal_id


def test_the_first_report_tells_the_whole_story_in_time_order() -> None:
    statuses = StatusBook()
    case, _, _ = case_events(statuses)
    status = statuses.get(case)
    assert status is not None
    steps = [(s.kind, s.at, s.status or s.ordinal) for s in story(status)]
    assert steps == [
        ("received", T0, None),
        ("routed", minutes(1), None),
        ("recorded", minutes(3), None),
        ("outcome", minutes(3), "opened"),
        ("colleague", minutes(30), 2),
        ("outcome", minutes(60), "in_progress"),
        ("colleague", minutes(90), 3),
        ("outcome", minutes(120), "in_progress"),
        ("outcome", minutes(600), "resolved"),
    ]
    routed = story(status)[1]
    assert (routed.destination, routed.target, routed.rule_id) == (
        "servicedesk",
        "cards",
        "cards-urgent",
    )
    assert status.reporters_count == 3  # the colleagues told the case, in any order


def test_a_colleagues_report_tells_the_cases_story() -> None:
    statuses = StatusBook()
    case, second, _ = case_events(statuses)
    status, first = statuses.get(second), statuses.get(case)
    assert status is not None and first is not None
    kinds = [(s.kind, s.status or s.ordinal or s.record_id) for s in story(status, first)]
    # In time order: the case had its ticket before this colleague reported it.
    assert kinds == [
        ("recorded", "4711"),
        ("outcome", "opened"),
        ("received", None),
        ("joined_case", 2),
        ("noted", "4711"),  # its own note on the ticket
        ("outcome", "in_progress"),
        ("colleague", 3),  # the others who joined, not itself
        ("outcome", "in_progress"),
        ("outcome", "resolved"),
    ]


def test_json_has_the_story_the_times_and_the_current_outcome() -> None:
    statuses = StatusBook()
    case, second, _ = case_events(statuses)
    status, first = statuses.get(case), statuses.get(second)
    assert status is not None and first is not None
    body = status_json(status)
    assert body["outcome"] == "resolved"
    assert body["received_at"] == T0.isoformat()
    assert body["routed_at"] == minutes(1).isoformat()
    assert body["delivery"]["at"] == minutes(3).isoformat()
    assert body["story"][0] == {"kind": "received", "at": T0.isoformat()}
    assert body["story"][-1] == {
        "kind": "outcome",
        "at": minutes(600).isoformat(),
        "destination": "servicedesk",
        "record_id": "4711",
        "record_url": "https://rt.example/Ticket/Display.html?id=4711",
        "status": "resolved",
    }
    assert status_json(first, statuses.get(case))["outcome"] == "resolved"


def test_a_reopened_ticket_is_in_progress_again() -> None:
    statuses = StatusBook()
    case, _, _ = case_events(statuses)
    statuses.apply_outcome(outcome(case, "in_progress", minutes(700)))
    status = statuses.get(case)
    assert status is not None
    assert status_json(status)["outcome"] == "in_progress"


def test_the_page_tells_the_story_in_english_and_dutch(client, book) -> None:  # noqa: F811
    case, second, _ = case_events(book)
    # The page and API are for the reporter (anna, see test_status) and the key's client.
    english = words(page(client, case))
    assert "Resolved: ticket 4711" in english
    assert "What happened" in english
    for line in (
        "2025-03-14 09:30 UTC Received",
        "2025-03-14 09:31 UTC Sent to the service desk by rule “cards-urgent”",
        "2025-03-14 09:33 UTC Ticket 4711 opened at the service desk",
        "2025-03-14 10:00 UTC A colleague reported the same (report number 2)",
        "2025-03-14 19:30 UTC Ticket 4711 resolved",
    ):
        assert line in english, line
    assert 'href="/report/preferences?lang=en"' in page(client, case).text  # opt out here
    dutch = words(page(client, case, "nl"))
    assert "Opgelost: ticket 4711" in dutch
    assert (
        "2025-03-14 09:31 UTC Doorgestuurd naar de servicedesk door regel “cards-urgent”" in dutch
    )
    colleague = words(page(client, second))
    assert "Added to a case a colleague had reported: report number 2" in colleague
    assert "Ticket 4711 resolved" in colleague
    body = api(client, second).json()
    assert body["outcome"] == "resolved"
    assert {
        "kind": "joined_case",
        "at": minutes(30).isoformat(),
        "case_id": case,
        "ordinal": 2,
    } in (body["story"])


def test_no_one_but_an_operator_reads_the_target_systems_error(client, book) -> None:  # noqa: F811
    routed = build_routed(build_signal(received_at=T0), routed_at=minutes(1))
    signal_id = routed.signal.signal_id
    book.apply_routed(topics.ROUTED_SERVICEDESK, routed)
    book.apply_delivery(
        delivery(signal_id, "dead", error="HTTP 400: customer 0612345678 unknown", at=minutes(2))
    )
    body = api(client, signal_id).json()
    assert body["delivery"]["error"] is None
    assert "0612345678" not in str(body)
    assert body["story"][-1] == {
        "kind": "parked",
        "at": minutes(2).isoformat(),
        "destination": "servicedesk",
    }
    text = words(page(client, signal_id))
    assert "Set aside, an operator has been told" in text
    assert "0612345678" not in text
    assert KEY not in text
