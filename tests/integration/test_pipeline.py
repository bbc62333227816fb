"""A signal travels from the HTTP API through Kafka and Faust to a connector."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from schemas import DeliveryResult, Signal, new_signal_id, topics
from tests.support.http_recorder import Recorder
from tests.support.kafka import produce, wait_for_records, wait_until_processed
from tests.support.services import Services

REPORTER = {"employee_id": "e-42", "name": "Sam", "department": "Retail"}
COMPLAINT = (
    "My neighbour's bank card was declined three times this week and she is fed up; "
    "nobody called her back."
)
OPPORTUNITY = (
    "Mijn buurvrouw is geïnteresseerd in zonnepanelen en wil morgen gebeld worden voor een offerte."
)


def unique(text: str) -> str:
    """Each test sends its own words: the same text twice is an exact duplicate."""
    return f"{text} [{new_signal_id()}]"


def for_signal(signal_id: str):  # type: ignore[no-untyped-def]
    return lambda r: r.json()["signal"]["signal_id"] == signal_id


# In pipeline order: the consumer group and topic of each stage a signal passes.
PROCESSOR, CONNECTORS = "antenna-processor", "antenna-connectors"
TO_THE_DESK = [
    (PROCESSOR, topics.RAW),
    (PROCESSOR, f"{PROCESSOR}-classified"),
    (CONNECTORS, topics.ROUTED_SERVICEDESK),
]


def test_complaint_and_opportunity_reach_desk_and_crm(
    pipeline: Services, recorder: Recorder, kafka: str
) -> None:
    complaint_text = unique(COMPLAINT)
    complaint = pipeline.post(
        {
            "text": complaint_text,
            "reporter": REPORTER,
            "customer": {"name": "Ann", "email": "ann@example.com"},
        }
    )
    opportunity = pipeline.post(
        {"text": unique(OPPORTUNITY), "reporter": REPORTER, "channel": "form"}
    )
    assert complaint.status_code == 202, complaint.text
    assert opportunity.status_code == 202, opportunity.text
    complaint_id, opportunity_id = complaint.json()["signal_id"], opportunity.json()["signal_id"]

    [desk] = recorder.wait_for("/desk", for_signal(complaint_id))
    [crm] = recorder.wait_for("/crm", for_signal(opportunity_id))

    for request, signal_id, kind, destination in (
        (desk, complaint_id, "complaint", "servicedesk"),
        (crm, opportunity_id, "opportunity", "crm"),
    ):  # signed: the recorder accepts only correctly signed requests
        assert request.headers["Idempotency-Key"] == signal_id
        routed = request.json()
        assert routed["classification"]["kind"] == kind
        assert routed["destination"]["name"] == destination
        assert routed["dedupe"]["reporters_count"] == 1
    assert desk.json()["signal"]["text"] == complaint_text
    assert desk.json()["signal"]["customer"]["email"] == "ann@example.com"
    assert crm.json()["signal"]["channel"] == "form"
    assert crm.json()["classification"]["language"] == "nl"

    results = wait_for_records(
        kafka,
        topics.DELIVERED,
        lambda r: r.key in (complaint_id.encode(), opportunity_id.encode()),
        count=2,
    )
    by_id = {
        DeliveryResult.model_validate_json(r.value).signal_id: DeliveryResult.model_validate_json(
            r.value
        )
        for r in results
    }
    assert by_id[complaint_id].status == "delivered"
    assert by_id[complaint_id].external_id is not None
    assert by_id[opportunity_id].destination == "crm"


def test_reposted_idempotency_key_is_delivered_once(
    pipeline: Services, recorder: Recorder, kafka: str
) -> None:
    body = {"text": unique(COMPLAINT), "reporter": REPORTER}
    first = pipeline.post(body, **{"Idempotency-Key": "form-submit-7731"})
    again = pipeline.post(body, **{"Idempotency-Key": "form-submit-7731"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    signal_id = first.json()["signal_id"]
    recorder.wait_for("/desk", for_signal(signal_id))
    # Once every stage has handled all it was given, a stray duplicate would be there.
    wait_until_processed(kafka, TO_THE_DESK)
    assert len([r for r in recorder.received("/desk") if for_signal(signal_id)(r)]) == 1


def test_resubmission_through_another_ingest_replica_is_dropped(
    pipeline: Services, recorder: Recorder, kafka: str
) -> None:
    """Two signals with one Idempotency-Key but different signal_ids (two ingest
    replicas, or an ingest restart) reach the desk once: the processor drops the other.
    They sit on different partitions of signals.raw, so either may win."""

    def signal(text: str) -> Signal:
        return Signal(
            signal_id=new_signal_id(),
            idempotency_key="replica-key-1",
            channel="api",
            source="api-key-replicas",
            received_at=datetime.now(UTC),
            reporter=REPORTER,
            text=text,
        )

    pair = signal(unique(COMPLAINT)), signal(unique(COMPLAINT))
    ids = {s.signal_id for s in pair}
    for s in pair:
        produce(kafka, topics.RAW, s.model_dump_json().encode(), key=s.signal_id.encode())
    recorder.wait_for("/desk", lambda r: r.json()["signal"]["signal_id"] in ids)
    wait_until_processed(kafka, TO_THE_DESK)
    assert (
        len([r for r in recorder.received("/desk") if r.json()["signal"]["signal_id"] in ids]) == 1
    )


def test_routed_event_consumed_twice_is_delivered_once(
    pipeline: Services, recorder: Recorder, kafka: str
) -> None:
    """At-least-once upstream: the same routed event arriving twice is one delivery."""
    posted = pipeline.post({"text": unique(COMPLAINT), "reporter": REPORTER})
    signal_id = posted.json()["signal_id"]
    [delivered] = recorder.wait_for("/desk", for_signal(signal_id))
    produce(kafka, topics.ROUTED_SERVICEDESK, delivered.body, key=signal_id.encode())
    wait_for_records(
        kafka, topics.ROUTED_SERVICEDESK, lambda r: r.key == signal_id.encode(), count=2
    )
    wait_until_processed(kafka, [(CONNECTORS, topics.ROUTED_SERVICEDESK)])
    assert len([r for r in recorder.received("/desk") if for_signal(signal_id)(r)]) == 1


def test_desk_outage_is_retried_until_delivered(pipeline: Services, recorder: Recorder) -> None:
    recorder.script["/desk"] = [503, 502]
    posted = pipeline.post({"text": unique(COMPLAINT), "reporter": REPORTER})
    signal_id = posted.json()["signal_id"]
    attempts = recorder.wait_for("/desk", for_signal(signal_id), count=3)
    assert len(attempts) == 3
    assert {a.headers["Idempotency-Key"] for a in attempts} == {signal_id}


def test_poison_messages_land_in_dlq_and_processing_goes_on(
    pipeline: Services, recorder: Recorder, kafka: str
) -> None:
    produce(kafka, topics.RAW, b"\xff\xfe this is not json", key=b"poison-1")
    produce(
        kafka, topics.RAW, json.dumps({"signal_id": "nope", "text": ""}).encode(), key=b"poison-2"
    )
    letters = wait_for_records(
        kafka, topics.DLQ, lambda r: r.key in (b"poison-1", b"poison-2"), count=2
    )
    errors = {r.key: json.loads(r.value) for r in letters}
    assert errors[b"poison-1"]["stage"] == "processor"
    assert errors[b"poison-1"]["topic"] == topics.RAW
    assert "not a valid Signal" in errors[b"poison-1"]["error"]
    assert "signal_id" in errors[b"poison-2"]["error"]
    after = pipeline.post({"text": unique(COMPLAINT), "reporter": REPORTER})
    recorder.wait_for("/desk", for_signal(after.json()["signal_id"]))
