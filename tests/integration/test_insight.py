"""The insight app as a real process on the real broker: its counts live in
changelog-backed tables, so a worker killed with SIGKILL and started again still knows
everything it counted, and counts nothing twice when events come again.

Events are produced as the processor and the connectors would; the test reads the
summaries the app publishes on insight.summary, as ingest does."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from kafka import KafkaProducer

from schemas import (
    Classification,
    Dedupe,
    DeliveryResult,
    DeliveryStatus,
    InsightSnapshot,
    Kind,
    Outcome,
    OutcomeStatus,
    RoutedSignal,
    topics,
)
from schemas.insight import INSIGHT_KEY, reporter_ref
from services.insight.app import APP_ID, FACTS_TOPIC
from services.insight.facts import INPUTS
from tests.support.broker import own_broker
from tests.support.builders import build_routed, build_signal
from tests.support.kafka import records_until_now, wait_until_processed
from tests.support.services import Services, service_env, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker of this module's own: the counts must be exactly the events made here."""
    with own_broker(tmp_path_factory.mktemp("insight-broker")) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="module")
def insight(own_kafka: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var_dir = tmp_path_factory.mktemp("insight-var")
    services = Services(
        service_env(own_kafka, var_dir, {"ANTENNA_INSIGHT_PUBLISH_INTERVAL_S": "0.3"}), var_dir
    )
    services.start("insight")
    yield services
    services.stop()


@pytest.fixture(scope="module")
def producer(own_kafka: str) -> Iterator[KafkaProducer]:
    client = KafkaProducer(bootstrap_servers=own_kafka, acks="all")
    yield client
    client.close()


def _routed(kind: Kind, department: str, employee: str, of: str | None = None) -> RoutedSignal:
    """A report as the processor routes it; ``of``: the case it joins, as the 2nd report."""
    signal = build_signal(
        received_at=datetime.now(UTC),
        reporter={"employee_id": employee, "name": "Someone", "department": department},
        customer={"name": "Jan Klant", "phone": "+31 6 11112222"},
    )
    dedupe = Dedupe(cluster_id=of, duplicate_of=of, reporters_count=2) if of else None
    return build_routed(
        signal,
        classification=Classification(
            kind=kind, confidence=0.9, language="en", classifier_version="test-1"
        ),
        destination={"name": "servicedesk" if kind is Kind.complaint else "crm"},
        dedupe=dedupe or Dedupe(cluster_id=signal.signal_id),
        routed_at=datetime.now(UTC),
    )


def _send(producer: KafkaProducer, topic: str, key: str, value: bytes) -> None:
    producer.send(topic, key=key.encode(), value=value).get(timeout=10)


def _route(producer: KafkaProducer, routed: RoutedSignal) -> None:
    if routed.dedupe.duplicate_of is not None:
        topic = topics.DUPLICATES
    else:
        topic = topics.ROUTED_BY_DESTINATION[routed.destination.name]
    _send(producer, topic, routed.dedupe.cluster_id, routed.model_dump_json().encode())


def _delivered(producer: KafkaProducer, case_id: str, at: datetime) -> None:
    result = DeliveryResult(
        signal_id=case_id,
        destination="servicedesk",
        connector="request_tracker",
        status=DeliveryStatus.delivered,
        external_id="4711",
        attempts=1,
        at=at,
    )
    _send(producer, topics.DELIVERED, case_id, result.model_dump_json().encode())


def _outcome(producer: KafkaProducer, case_id: str, status: OutcomeStatus, at: datetime) -> None:
    outcome = Outcome(
        case_id=case_id,
        status=status,
        changed_at=at,
        record_id="4711",
        destination="crm" if status in ("won", "lost") else "servicedesk",
        connector="request_tracker",
        event_id=f"test:{case_id}:{status}",
        observed_at=at,
    )
    _send(producer, topics.OUTCOMES, case_id, outcome.model_dump_json().encode())


def _latest(bootstrap: str) -> InsightSnapshot | None:
    records = records_until_now(bootstrap, topics.INSIGHT, lambda r: r.key == INSIGHT_KEY.encode())
    return InsightSnapshot.model_validate_json(records[-1].value) if records else None


def _summary_where(
    bootstrap: str, what: str, check: Callable[[InsightSnapshot], bool]
) -> InsightSnapshot:
    def found() -> InsightSnapshot | None:
        snapshot = _latest(bootstrap)
        return snapshot if snapshot is not None and check(snapshot) else None

    snapshot = wait_for(found, what, timeout_s=60)
    assert snapshot is not None
    return snapshot


def _signals(snapshot: InsightSnapshot) -> int:
    return sum(week.signals for week in snapshot.weeks)


def test_counts_survive_a_killed_worker_and_nothing_is_counted_twice(
    insight: Services, own_kafka: str, producer: KafkaProducer
) -> None:
    department = f"Retail-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    complaint = _routed(Kind.complaint, department, "anna")
    lead = _routed(Kind.opportunity, department, "bob")
    case = complaint.signal.signal_id
    colleague = _routed(Kind.complaint, "Branches", "carla", of=case)
    for routed in (complaint, lead, colleague):
        _route(producer, routed)
    _delivered(producer, case, now + timedelta(minutes=5))
    _outcome(producer, case, OutcomeStatus.resolved, now + timedelta(hours=2))
    _outcome(producer, lead.signal.signal_id, OutcomeStatus.won, now + timedelta(hours=4))

    before = _summary_where(
        own_kafka,
        "a summary with the three reports, the resolution and the win",
        lambda s: _signals(s) == 3 and s.outcomes.leads_won == 1,
    )
    assert before.outcomes.tickets_resolved == 1
    # The ticket after 5 minutes; the lead known from its win after 4 hours.
    assert before.outcomes.median_to_record_s == pytest.approx((300 + 4 * 3600) / 2, abs=5)
    assert before.participation.employees == 3
    assert {d.department for d in before.participation.by_department} == {department, "Branches"}
    [resolved] = [m for m in before.mattered if m.status == "resolved"]
    assert (resolved.department, resolved.reporters) == (department, 2)
    assert set(resolved.reporter_refs) == {reporter_ref("anna"), reporter_ref("carla")}
    assert "Jan Klant" not in before.model_dump_json()

    # Everything counted is committed: a restarted worker does not read it again, so what
    # it knows of it must come from its tables' changelogs.
    wait_until_processed(own_kafka, [*((APP_ID, topic) for topic in INPUTS), (APP_ID, FACTS_TOPIC)])
    insight.kill("insight")  # no flush, no goodbye
    # While it is down: one new report, and events it has counted already come again.
    later = _routed(Kind.complaint, "Branches", "dirk")
    _route(producer, later)
    _route(producer, colleague)
    _outcome(producer, case, OutcomeStatus.resolved, now + timedelta(hours=2))
    killed_at = datetime.now(UTC)
    insight.start("insight")

    after = _summary_where(
        own_kafka,
        "a summary from the restarted worker with the 3 reports from before the kill and "
        "the new one",
        lambda s: s.generated_at > killed_at and _signals(s) >= 4,
    )
    assert _signals(after) == 4  # 3 from before the kill (restored), 1 new, 0 twice
    assert after.outcomes.tickets_resolved == 1
    assert after.outcomes.leads_won == 1
    assert after.participation.employees == 4
    assert [m.status for m in after.mattered] == ["won", "resolved"]
