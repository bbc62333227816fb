"""One id per Idempotency-Key across an ingest restart, on the real pipeline (ingest,
processor and connectors as processes on the embedded broker): a re-post after the
restart gets the first signal_id; the same key with another body gets it too, is not
routed anywhere, and the status says the key was reused."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from schemas import topics
from tests.integration.test_pipeline import COMPLAINT, OPPORTUNITY, REPORTER, for_signal, unique
from tests.integration.test_status import status_of
from tests.support.http_recorder import Recorder
from tests.support.kafka import records_until_now, wait_for_records
from tests.support.services import Services

ROUTED = (topics.ROUTED_SERVICEDESK, topics.ROUTED_CRM, topics.TRIAGE, topics.DUPLICATES)


def _dropped(pipeline: Services) -> float:
    port = pipeline.env["ANTENNA_PROCESSOR_METRICS_PORT"]
    text = httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text
    for line in text.splitlines():
        if line.startswith("antenna_resubmissions_dropped_total "):
            return float(line.split()[1])
    return 0.0


def _until(what: str, condition: Any, timeout_s: float = 60) -> Any:
    """Poll ``condition`` (an event we can observe) until it holds; a bound, not a wait."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout_s}s")


def test_a_key_reposted_after_a_restart_keeps_its_id_and_another_body_is_not_routed(
    pipeline: Services, recorder: Recorder, kafka: str
) -> None:
    key = f"form-{uuid.uuid4().hex}"
    complaint = {"text": unique(COMPLAINT), "reporter": REPORTER}
    first = pipeline.post(complaint, **{"Idempotency-Key": key})
    assert first.status_code == 202, first.text
    signal_id = first.json()["signal_id"]
    recorder.wait_for("/desk", for_signal(signal_id))

    pipeline.restart("ingest")  # its in-memory Idempotency-Key cache is gone
    again = pipeline.post(complaint, **{"Idempotency-Key": key})
    assert again.status_code == 202 and again.json()["signal_id"] == signal_id
    status = _until("the status after the restart", lambda: status_of(pipeline, signal_id))
    assert status.json()["state"] == "delivered"  # not "received" forever

    pipeline.restart("ingest")  # or another replica: it has not seen this key either
    dropped = _dropped(pipeline)
    lead_text = unique(OPPORTUNITY)  # classified as a lead: a re-route would go to the CRM
    other = pipeline.post({"text": lead_text, "reporter": REPORTER}, **{"Idempotency-Key": key})
    assert other.status_code == 202 and other.json()["signal_id"] == signal_id

    # Both bodies are on signals.raw under one id; the processor judges the second
    # (its drop is counted), the status follower finds the reuse.
    records = wait_for_records(kafka, topics.RAW, lambda r: r.key == signal_id.encode(), count=3)
    assert {json.loads(r.value)["text"] for r in records} == {complaint["text"], lead_text}
    _until("the processor dropping the other body", lambda: _dropped(pipeline) > dropped)
    body = _until(
        "the status saying the key was reused",
        lambda: (
            status_of(pipeline, signal_id).json().get("key_reused")
            and status_of(pipeline, signal_id).json()
        ),
    )
    assert body["state"] == "delivered"
    for topic in ROUTED:
        assert not records_until_now(kafka, topic, lambda r: lead_text.encode() in r.value)
    assert not [r for r in recorder.received("/crm") if for_signal(signal_id)(r)]
    assert len([r for r in recorder.received("/desk") if for_signal(signal_id)(r)]) == 1
