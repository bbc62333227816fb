"""The jira_servicedesk connector against a stateful Jira Service Management fake on
loopback (tests/support/jira_fake.py) whose search lags behind writes: one request per
case and one internal comment per duplicate, however often an event is delivered and
whichever answer is lost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas import Destination, Urgency
from services.connectors.base import StartupError
from services.connectors.jira_servicedesk import search_may_lag, verbatim
from services.connectors.records import Attempt, Entry, Record
from tests.support.builders import build_duplicate, build_routed, build_signal
from tests.support.connectors import Deliveries
from tests.support.jira_fake import JiraServiceManagementFake, rate_limited

CREATE = r"/rest/servicedeskapi/request"
COMMENT = r"/rest/servicedeskapi/request/[^/]+/comment"
NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def jira() -> Iterator[JiraServiceManagementFake]:
    with JiraServiceManagementFake() as fake:
        fake.search_lags = True  # as on Jira Cloud: a new request is not searchable at once
        yield fake


def deliveries(
    fake: JiraServiceManagementFake, clock: Clock | None = None, **options: Any
) -> Deliveries:
    config = {
        "url": fake.url,
        "email": fake.email,
        "token": fake.token,
        "service_desk_id": "4",
        "request_type_id": "10",
        "settle_s": 60,
        **options,
    }
    return Deliveries("jira_servicedesk", config, clock=clock or Clock())


def label(routed: Any) -> str:
    return f"antenna-{routed.signal.signal_id}"


def test_the_same_event_delivered_three_times_raises_one_request(
    jira: JiraServiceManagementFake,
) -> None:
    deliver = deliveries(jira)
    routed = build_routed(
        build_signal(customer={"name": "Jan de Vries", "phone": "+31 6 11223344"})
    )

    results = [deliver(routed) for _ in range(3)]  # the search has not caught up meanwhile

    [issue] = jira.issues_labelled(label(routed))
    assert results == [results[0]] * 3
    assert results[0].external_id == issue["key"] == "SUP-1"
    assert results[0].external_url == f"{jira.url}/browse/SUP-1"
    assert len(jira.received("POST", CREATE)) == 1
    assert issue["requestTypeId"] == "10" and issue["priority"] == "Medium"
    assert issue["summary"].startswith("other: The customer is furious")
    assert issue["description"].startswith("{noformat}\nThe customer is furious")
    assert "Jan de Vries" in issue["description"]


def test_a_lost_create_answer_waits_for_the_search_then_finds_the_request(
    jira: JiraServiceManagementFake,
) -> None:
    clock = Clock()
    deliver = deliveries(jira, clock)
    routed = build_routed()
    jira.lose_answer("POST", CREATE)

    assert deliver.failure(routed).retryable  # committed, answer lost
    clock.now += timedelta(seconds=10)
    waiting = deliver.failure(routed)  # not searchable yet: creating now would make a twin
    assert waiting.retryable and waiting.retry_after_s == 5.0
    jira.catch_up()
    delivered = deliver(routed)
    deliver(routed)

    [issue] = jira.issues_labelled(label(routed))
    assert delivered.external_id == issue["key"]
    assert len(jira.received("POST", CREATE)) == 1


def test_a_create_that_never_arrived_is_retried_once_the_search_had_time(
    jira: JiraServiceManagementFake,
) -> None:
    clock = Clock()
    deliver = deliveries(jira, clock)
    routed = build_routed()
    jira.fail("POST", CREATE, 503)  # refused before anything was written

    assert deliver.failure(routed).retryable
    assert deliver.failure(routed).retryable  # it cannot know yet that nothing committed
    clock.now += timedelta(seconds=61)
    delivered = deliver(routed)

    [issue] = jira.issues_labelled(label(routed))
    assert delivered.external_id == issue["key"]


def test_search_may_lag_only_within_the_settle_time_of_a_pending_create() -> None:
    started = Entry(attempt=Attempt(1, NOW))
    assert search_may_lag(started, NOW + timedelta(seconds=20), 60) == 40
    assert search_may_lag(started, NOW + timedelta(seconds=60), 60) is None
    assert search_may_lag(Entry(), NOW, 60) is None  # nothing was ever sent
    done = Entry(record=Record("SUP-1"), attempt=Attempt(1, NOW))
    assert search_may_lag(done, NOW, 60) is None


def test_a_duplicate_delivered_three_times_adds_one_internal_comment(
    jira: JiraServiceManagementFake,
) -> None:
    deliver = deliveries(jira)
    first = build_routed()
    case = deliver(first)
    duplicate = build_duplicate(first)

    noted = [deliver(duplicate) for _ in range(3)]

    assert noted == [case] * 3
    [note] = jira.internal_comments(case.external_id or "")
    marker = f"[antenna {duplicate.signal.signal_id}]"
    assert note["body"].startswith("{noformat}\nReported again (2 colleagues so far) " + marker)
    assert jira.issues_labelled(label(duplicate)) == []


def test_a_lost_comment_answer_adds_the_comment_once(jira: JiraServiceManagementFake) -> None:
    deliver = deliveries(jira)
    first = build_routed()
    case = deliver(first)
    duplicate = build_duplicate(first)
    jira.lose_answer("POST", COMMENT)

    assert deliver.failure(duplicate).retryable
    deliver(duplicate)
    deliver(duplicate)

    assert len(jira.internal_comments(case.external_id or "")) == 1
    assert len(jira.received("POST", COMMENT)) == 1


def test_a_duplicate_of_a_case_delivered_elsewhere_is_found_by_its_label(
    jira: JiraServiceManagementFake,
) -> None:
    first = build_routed()
    case = deliveries(jira)(first)  # another worker's mapping
    duplicate = build_duplicate(first)

    assert deliveries(jira).failure(duplicate).retryable  # not searchable yet
    jira.catch_up()
    assert deliveries(jira)(duplicate) == case


def test_request_type_by_target_and_priority_by_urgency(jira: JiraServiceManagementFake) -> None:
    deliver = deliveries(
        jira, request_types={"Payments-Urgent": "12"}, priority={"high": "Highest"}
    )
    to_cards = build_routed(destination=Destination(name="servicedesk", target="payments-urgent"))
    deliver(to_cards)
    high = build_routed()
    deliver(
        high.model_copy(
            update={
                "classification": high.classification.model_copy(update={"urgency": Urgency.high})
            }
        )
    )

    [issue] = jira.issues_labelled(label(to_cards))
    assert issue["requestTypeId"] == "12" and issue["priority"] == "Medium"  # not mapped
    [issue] = jira.issues_labelled(label(high))
    assert issue["requestTypeId"] == "10" and issue["priority"] == "Highest"


def test_a_request_type_without_the_labels_field_is_a_final_error(
    jira: JiraServiceManagementFake,
) -> None:
    failure = deliveries(jira, request_type_id="11").failure(build_routed())
    assert not failure.retryable
    assert "Field 'labels' cannot be set" in str(failure)


def test_errors_are_classified(jira: JiraServiceManagementFake) -> None:
    deliver = deliveries(jira)
    jira.fail("POST", CREATE, rate_limited(retry_after_s=3))
    busy = deliver.failure(build_routed())
    assert busy.retryable and busy.retry_after_s == 3.0
    wrong_token = deliver.failure(build_routed(), token="w" * 40)
    assert not wrong_token.retryable and "401" in str(wrong_token)


def test_start_checks_credentials_and_request_types(jira: JiraServiceManagementFake) -> None:
    deliver = deliveries(jira, request_types={"cards": "12"})
    deliver.start()
    with pytest.raises(StartupError, match=r"did not accept .*EMAIL and __TOKEN"):
        deliver.start(token="w" * 40)
    with pytest.raises(StartupError, match="no request type 99 in service desk 4"):
        deliver.start(request_types={"cards": "99"})
    jira.fail("GET", r"/rest/api/3/myself", 503)
    deliver.start()  # unreachable now: deliveries wait for it


def test_text_stays_as_typed_in_wiki_markup() -> None:
    assert verbatim("*bold* [link]") == "{noformat}\n*bold* [link]\n{noformat}"
    assert "{noformat}" not in verbatim("a {noformat} b")[len("{noformat}") : -len("{noformat}")]
