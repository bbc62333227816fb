"""A deployed insight worker upgraded to compact tables restores its old changelogs.

Before this version, the tables' changelogs held each report and case as a JSON-mode
dict. The worker started here finds such records in its changelogs (written as the
earlier version wrote them) and must count them, with what it counts afresh."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from schemas import Kind, Outcome, OutcomeStatus
from schemas.insight import reporter_ref
from services.insight.app import APP_ID
from services.insight.facts import Record, report_of
from services.insight.tally import with_change, with_record
from tests.integration.test_insight import (
    _outcome,
    _route,
    _routed,
    _signals,
    _summary_where,
)
from tests.support.broker import own_broker
from tests.support.services import Services, service_env

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with own_broker(tmp_path_factory.mktemp("insight-old-broker")) as bootstrap:
        yield bootstrap


def _changelog(table: str) -> str:
    return f"{APP_ID}-{table}-changelog"


def test_a_worker_restores_the_changelogs_an_earlier_version_wrote(
    own_kafka: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    now = datetime.now(UTC)
    complaint = _routed(Kind.complaint, "Retail", "anna")
    colleague = _routed(Kind.complaint, "Branches|North", "carla", of=complaint.signal.signal_id)
    case = complaint.signal.signal_id
    progress = with_change(
        with_record(None, Record(signal_id=case, at=now + timedelta(minutes=5))),
        Outcome(
            case_id=case,
            status=OutcomeStatus.resolved,
            changed_at=now + timedelta(hours=2),
            record_id="4711",
            destination="servicedesk",
            connector="request_tracker",
            event_id=f"test:{case}:resolved",
            observed_at=now + timedelta(hours=2),
        ),
    )
    admin = KafkaAdminClient(bootstrap_servers=own_kafka)
    admin.create_topics(
        [NewTopic(_changelog(t), 1, 1) for t in ("insight-reports", "insight-cases")]
    )
    admin.close()
    producer = KafkaProducer(bootstrap_servers=own_kafka, acks="all")
    records = [
        ("insight-reports", routed.signal.signal_id, report_of(routed).model_dump(mode="json"))
        for routed in (complaint, colleague)
    ]
    records.append(("insight-cases", case, progress.model_dump(mode="json")))
    for table, key, value in records:  # one record a batch, as the workers write them
        producer.send(
            _changelog(table), key=json.dumps(key).encode(), value=json.dumps(value).encode()
        ).get(timeout=10)

    var_dir = tmp_path_factory.mktemp("insight-old-var")
    services = Services(
        service_env(own_kafka, var_dir, {"ANTENNA_INSIGHT_PUBLISH_INTERVAL_S": "0.3"}), var_dir
    )
    services.start("insight")
    try:
        restored = _summary_where(
            own_kafka,
            "a summary counting the two reports and the resolution from the old changelogs",
            lambda s: _signals(s) == 2 and s.outcomes.tickets_resolved == 1,
        )
        assert restored.outcomes.cases == 1 and restored.outcomes.recorded == 1
        assert restored.outcomes.median_to_record_s == pytest.approx(300, abs=1)
        [resolved] = restored.mattered
        assert resolved.reporters == 2
        assert set(resolved.reporter_refs) == {reporter_ref("anna"), reporter_ref("carla")}
        assert {d.department for d in restored.participation.by_department} == {
            "Retail",
            "Branches|North",
        }
        # New facts count with the restored ones; one seen again counts once.
        lead = _routed(Kind.opportunity, "Retail", "bob")
        _route(producer, lead)
        _route(producer, colleague)
        _outcome(producer, lead.signal.signal_id, OutcomeStatus.won, now + timedelta(hours=4))
        after = _summary_where(
            own_kafka,
            "a summary with the new lead and its win",
            lambda s: _signals(s) == 3 and s.outcomes.leads_won == 1,
        )
        assert after.outcomes.tickets_resolved == 1 and after.participation.employees == 3
    finally:
        services.stop()
        producer.close()
