"""The processor's input topics carry poison, and the broker refuses a write: on the real
broker, against the running pipeline."""

from __future__ import annotations

import json

from schemas import Classification, Kind, topics
from schemas.classification import Category
from services.common.broker_errors import EXIT_BROKER_REFUSED
from services.processor.app import CLASSIFIED_TOPIC
from services.processor.handlers import ClassifiedSignal
from tests.integration.test_pipeline import REPORTER, for_signal, unique
from tests.support.builders import build_signal
from tests.support.http_recorder import Recorder
from tests.support.kafka import produce, wait_for_records
from tests.support.services import Services

CARD = Classification(
    kind=Kind.complaint,
    confidence=0.95,
    category=Category.payments_cards,
    language="en",
    classifier_version="test",
)


def test_poison_on_each_input_topic_is_parked_with_its_reason_and_judging_goes_on(
    pipeline: Services, recorder: Recorder, kafka: str
) -> None:
    """signals.raw feeds the classify stage, the internal classified topic the judge
    stage. Each gets an undecodable record, an empty one and a valid JSON document of the
    wrong shape; then a good report. The judge stage reads one partition in order, so the
    good report being routed proves it went past its poison."""
    signal_only = build_signal().model_dump_json().encode()  # no classification
    poison = {
        (topics.RAW, b"raw-bytes"): b"\xff\xfe not json",
        (topics.RAW, b"raw-empty"): b"",
        (topics.RAW, b"raw-shape"): json.dumps({"signal_id": "nope", "text": ""}).encode(),
        (CLASSIFIED_TOPIC, b"judge-bytes"): b"\xff\xfe not json",
        (CLASSIFIED_TOPIC, b"judge-empty"): b"",
        (CLASSIFIED_TOPIC, b"judge-shape"): b'{"signal": ' + signal_only + b', "topic": {}}',
    }
    for (topic, key), value in poison.items():
        produce(kafka, topic, value, key=key)
    good = pipeline.post(
        {
            "text": unique("Her bank card was declined at the till twice, she is angry."),
            "reporter": REPORTER,
        }
    )
    recorder.wait_for("/desk", for_signal(good.json()["signal_id"]))

    keys = {key for _, key in poison}
    letters = {
        r.key: json.loads(r.value)
        for r in wait_for_records(kafka, topics.DLQ, lambda r: r.key in keys, count=len(keys))
    }
    for (topic, key), _ in poison.items():
        assert letters[key]["stage"] == "processor"
        assert letters[key]["topic"] == topic
    assert "not a valid Signal" in letters[b"raw-bytes"]["error"]
    assert "empty message" in letters[b"raw-empty"]["error"]
    assert "signal_id" in letters[b"raw-shape"]["error"]
    assert "not a valid ClassifiedSignal" in letters[b"judge-bytes"]["error"]
    assert "empty message" in letters[b"judge-empty"]["error"]
    assert "classification: Field required" in letters[b"judge-shape"]["error"]


def test_a_routed_event_the_broker_refuses_stops_the_processor_loudly_and_is_not_skipped(
    pipeline: Services, recorder: Recorder, kafka: str
) -> None:
    """Seen: a table value past the broker's limit crashed the processor with
    MessageSizeTooLargeError. Such an error never passes by retrying. Here the producer's
    limit is set below the size of one routed event: the processor must stop with its own
    exit code and a log line that names the signal and the error class and nothing
    personal, and must not commit past the signal. Once the limit is raised again, the
    same signal is routed."""
    customer = {"name": "Wilhelmina Oosterhuis", "phone": "0611122233"}
    signal = build_signal(
        text=unique("Her card was declined again. " * 1500),
        customer=customer,
        idempotency_key=unique("faults"),
    )
    handover = ClassifiedSignal(signal=signal, classification=CARD, topic={})
    log = pipeline.log("processor")
    with pipeline.running_with("processor", {"ANTENNA_KAFKA_MAX_REQUEST_BYTES": "30000"}) as w:
        seen = log.stat().st_size
        produce(
            kafka, CLASSIFIED_TOPIC, handover.model_dump_json().encode(), signal.signal_id.encode()
        )
        assert w.wait(timeout=60) == EXIT_BROKER_REFUSED
        text = log.read_bytes()[seen:].decode(errors="replace")
        [line] = [ln for ln in text.splitlines() if "judge stage stopped" in ln]
        assert f"signal_id={signal.signal_id}" in line
        assert "error=MessageSizeTooLargeError" in line
        assert "Oosterhuis" not in text and "0611122233" not in text

    [routed] = recorder.wait_for("/desk", for_signal(signal.signal_id), timeout_s=90)
    assert routed.json()["dedupe"]["cluster_id"] == signal.signal_id
