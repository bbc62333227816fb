"""The insight app takes its input in batches: a burst waiting for it when it starts is
read many events at a time, on the real broker. Each fact counts once however often it
comes in a batch (the processor and connectors deliver at least once, and a batch the
app reads again brings its facts again), an unreadable event in a batch goes to the DLQ
without holding up the rest, and what a batch wrote (each key once, its latest value)
is what a restarted worker restores from the changelogs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from schemas import (
    DeadLetter,
    InsightSnapshot,
    Kind,
    Outcome,
    OutcomeStatus,
    RoutedSignal,
    new_signal_id,
    topics,
)
from services.common.broker_errors import EXIT_BROKER_REFUSED
from services.insight.app import APP_ID, BATCH, FACTS_TOPIC
from services.insight.facts import INPUTS, Change, decode, encode, report_of
from tests.integration import test_insight as base
from tests.support.broker import own_broker
from tests.support.kafka import produce, records_until_now, wait_until_processed
from tests.support.services import Services, service_env

pytestmark = pytest.mark.integration
REPORTS = BATCH + BATCH // 2  # more than one batch
RESOLVED = 10


@pytest.fixture(scope="module")
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with own_broker(tmp_path_factory.mktemp("insight-batches-broker")) as bootstrap:
        yield bootstrap


def _counts(snapshot: InsightSnapshot) -> tuple[int, int, int, int]:
    outcomes = snapshot.outcomes
    return (
        base._signals(snapshot),
        snapshot.participation.employees,
        outcomes.recorded,
        outcomes.tickets_resolved,
    )


def _insight_letters(bootstrap: str) -> list[DeadLetter]:
    letters = records_until_now(bootstrap, topics.DLQ, lambda record: True)
    parsed = [DeadLetter.model_validate_json(record.value) for record in letters]
    return [letter for letter in parsed if letter.stage == "insight"]


def test_a_burst_is_counted_once_per_fact_and_restored_as_written(
    own_kafka: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    now = datetime.now(UTC)
    admin = KafkaAdminClient(bootstrap_servers=own_kafka)
    admin.create_topics([NewTopic(FACTS_TOPIC, 1, 1)])  # as the app declares it
    admin.close()
    producer = KafkaProducer(bootstrap_servers=own_kafka, acks="all", linger_ms=20)
    reports: list[RoutedSignal] = [
        base._routed(Kind.complaint, "Batch", f"employee-{n}") for n in range(REPORTS)
    ]
    # All of it waits for the worker, which reads it in batches. Every report comes
    # twice, ten tickets are recorded and resolved (the resolution twice), and the
    # facts of ten reports come a third time straight on the facts topic.
    for routed in reports:
        base._route(producer, routed)
    producer.send(topics.ROUTED_CRM, key=b"poison", value=b"not a routed signal")
    for routed in reports:
        base._route(producer, routed)
    for routed in reports[:RESOLVED]:
        case = routed.signal.signal_id
        base._delivered(producer, case, now + timedelta(minutes=5))
        for _ in range(2):
            base._outcome(producer, case, OutcomeStatus.resolved, now + timedelta(hours=1))
    for routed in reports[-RESOLVED:]:
        fact = encode(report_of(routed))
        producer.send(FACTS_TOPIC, key=routed.dedupe.cluster_id.encode(), value=fact)
    producer.send(FACTS_TOPIC, key=b"poison", value=b"not a fact")
    producer.flush()
    producer.close()

    var_dir = tmp_path_factory.mktemp("insight-batches-var")
    services = Services(
        service_env(own_kafka, var_dir, {"ANTENNA_INSIGHT_PUBLISH_INTERVAL_S": "0.3"}), var_dir
    )
    expected = (REPORTS, REPORTS, RESOLVED, RESOLVED)
    services.start("insight")
    try:
        counted = base._summary_where(
            own_kafka,
            "a summary with every report of the burst and the resolutions",
            lambda s: base._signals(s) >= REPORTS and s.outcomes.tickets_resolved >= RESOLVED,
        )
        wait_until_processed(
            own_kafka, [*((APP_ID, topic) for topic in INPUTS), (APP_ID, FACTS_TOPIC)]
        )
        time.sleep(1.0)  # a change the last batch made is published within 0.3 s
        counted = base._summary_where(own_kafka, "the latest summary", lambda s: True)
        assert _counts(counted) == expected
        letters = _insight_letters(own_kafka)
        assert sorted((letter.topic, letter.payload) for letter in letters) == [
            (FACTS_TOPIC, "not a fact"),
            (topics.ROUTED_CRM, "not a routed signal"),
        ]

        # What the batches wrote to the changelogs is what the tables held.
        services.kill("insight")
        restarted_at = datetime.now(UTC)
        services.start("insight")
        restored = base._summary_where(
            own_kafka,
            "a summary from the restarted worker",
            lambda s: s.generated_at > restarted_at,
        )
        assert _counts(restored) == expected
        assert len(_insight_letters(own_kafka)) == 2  # nothing parked twice
    finally:
        services.stop()


def test_a_fact_the_broker_refuses_stops_the_worker_and_is_read_again_after_the_restart(
    own_kafka: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Read again at once, a batch whose fact the broker refuses for good failed as fast
    as it was read, for ever. Here the producer's limit is set below the size of one fact
    (an outcome with a long record URL): insight must stop with its own exit code and a
    log line naming the case and the error, without committing past the outcome. Started
    with the usual limit, it hands the same outcome's fact on."""
    case = new_signal_id()
    now = datetime.now(UTC)
    outcome = Outcome(
        case_id=case,
        status=OutcomeStatus.resolved,
        changed_at=now,
        record_id="4711",
        record_url="https://desk.example/ticket/4711?" + "x" * 1900,
        destination="servicedesk",
        connector="request_tracker",
        event_id=f"test:{case}:resolved",
        observed_at=now,
    )
    var_dir = tmp_path_factory.mktemp("insight-refused-var")
    services = Services(service_env(own_kafka, var_dir), var_dir)
    log = services.log("insight")
    try:
        with services.running_with("insight", {"ANTENNA_KAFKA_MAX_REQUEST_BYTES": "1024"}) as w:
            produce(own_kafka, topics.OUTCOMES, outcome.model_dump_json().encode(), case.encode())
            assert w.wait(timeout=60) == EXIT_BROKER_REFUSED
            [line] = [ln for ln in log.read_text().splitlines() if "insight observe stopped" in ln]
            assert f"signal_id={case}" in line
            assert "error=MessageSizeTooLargeError" in line

        def handed_on() -> list[Any]:
            return records_until_now(own_kafka, FACTS_TOPIC, lambda r: r.key == case.encode())

        wait_until_processed(own_kafka, [(APP_ID, topics.OUTCOMES)])
        [fact] = handed_on()
        assert decode(fact.value) == Change(outcome=outcome)
    finally:
        services.stop()
