"""The processor's judgement on the real broker: duplicates across colleagues and
channels, state that survives a restart or a crash at the worst moment, routing rules
reloaded without one."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import httpx

from schemas import RoutedSignal, topics
from services.processor.app import APP_ID
from tests.integration.test_pipeline import REPORTER, for_signal, unique
from tests.support.http_recorder import Recorder
from tests.support.kafka import wait_for_records
from tests.support.services import Services

MEMORY_CHANGELOG = f"{APP_ID}-dedupe-memory-changelog"
COMPLAINT = "Her bank card was declined three times this week, she is furious."
FOLLOW_UP = "Zijn pinpas wordt steeds geweigerd bij het betalen, hij is er klaar mee."


def unique_phone() -> str:
    """The dedupe memory lives as long as the test session: each case its own customer."""
    return f"06{secrets.randbelow(10**8):08d}"


def report_about(
    pipeline: Services, phone: str, text: str = COMPLAINT, reporter: str = "e-42"
) -> str:
    response = pipeline.post(
        {"text": unique(text), "reporter": {"employee_id": reporter}, "customer": {"phone": phone}}
    )
    return str(response.json()["signal_id"])


def crash_at(pipeline: Services, point: str) -> dict[str, str]:
    """Settings that make the processor SIGKILL itself at ``point``, once."""
    (pipeline.var_dir / "crash-points" / point).unlink(missing_ok=True)
    return {"ANTENNA_TEST_CRASH_AT": point}


def killed(process: subprocess.Popen[bytes]) -> bool:
    return process.wait(timeout=60) == -signal.SIGKILL


def routed_events(recorder: Recorder, path: str, signal_id: str) -> list[str]:
    return [
        r.headers["X-Antenna-Event"] for r in recorder.received(path) if for_signal(signal_id)(r)
    ]


def test_the_same_case_from_another_colleague_becomes_a_note_not_a_second_ticket(
    pipeline: Services, recorder: Recorder, kafka: str
) -> None:
    first = pipeline.post(
        {
            "text": unique("Her bank card was declined three times this week, she is furious."),
            "reporter": REPORTER,
            "customer": {"name": "Jan de Vries", "phone": "+31 6 11223344"},
        }
    )
    first_id = first.json()["signal_id"]
    recorder.wait_for("/desk", for_signal(first_id))

    again = pipeline.post(
        {
            "text": unique(
                "Zijn pinpas wordt steeds geweigerd bij het betalen, hij is er klaar mee."
            ),
            "channel": "chat",
            "reporter": {"employee_id": "e-77", "department": "Branches"},
            "customer": {"name": "J. de Vries", "phone": "06-11223344"},
        }
    )
    again_id = again.json()["signal_id"]
    [note] = recorder.wait_for("/desk", for_signal(again_id))
    assert note.headers["X-Antenna-Event"] == "signal.duplicate"
    routed = RoutedSignal.model_validate_json(note.body)
    assert routed.dedupe.duplicate_of == first_id
    assert routed.dedupe.cluster_id == first_id
    assert routed.dedupe.reporters_count == 2
    assert routed_events(recorder, "/desk", first_id) == ["signal.routed"]

    # Keyed by its case, so that it lands in the partition of the case's routed event.
    [dup] = wait_for_records(
        kafka,
        topics.DUPLICATES,
        lambda r: RoutedSignal.model_validate_json(r.value).signal.signal_id == again_id,
    )
    assert dup.key == first_id.encode()
    assert RoutedSignal.model_validate_json(dup.value).dedupe.duplicate_of == first_id


def test_dedupe_memory_survives_a_processor_restart(pipeline: Services, recorder: Recorder) -> None:
    email = "Fatima.ElAmrani@example.nl"
    first = pipeline.post(
        {
            "text": unique("She would like an offer for solar panels and a call tomorrow."),
            "reporter": REPORTER,
            "customer": {"name": "Fatima el Amrani", "email": email},
        }
    )
    first_id = first.json()["signal_id"]
    recorder.wait_for("/crm", for_signal(first_id))

    pipeline.restart("processor")

    again = pipeline.post(
        {
            "text": unique(
                "Mevrouw El Amrani is geïnteresseerd in zonnepanelen, graag een offerte."
            ),
            "reporter": {"employee_id": "e-88"},
            "customer": {"email": email.lower().replace("example.nl", "EXAMPLE.nl")},
        }
    )
    again_id = again.json()["signal_id"]
    [note] = recorder.wait_for("/crm", for_signal(again_id), timeout_s=90)
    assert note.headers["X-Antenna-Event"] == "signal.duplicate"
    assert note.json()["dedupe"]["duplicate_of"] == first_id
    assert routed_events(recorder, "/crm", first_id) == ["signal.routed"]


def test_a_processor_killed_between_remembering_a_case_and_routing_it_loses_nothing(
    pipeline: Services, recorder: Recorder, kafka: str
) -> None:
    """The judge stage has decided that a report opens a new case, and the processor
    dies (SIGKILL) before it sends the routed event and before the input offset is
    committed. At that moment the decision must already be on the broker, in the dedupe
    memory's changelog: this fails when the wait for the table's writes
    (``memory.written()``) is removed, because the writes are then still in Faust's
    buffer when the process dies. After the restart the report comes again, is routed,
    and a colleague's report about the same customer joins its case."""
    phone = unique_phone()
    with pipeline.running_with("processor", crash_at(pipeline, "judge.remembered")) as worker:
        first_id = report_about(pipeline, phone)
        assert killed(worker)
        [stored] = wait_for_records(
            kafka, MEMORY_CHANGELOG, lambda r: f"signal:{first_id}".encode() in (r.key or b"")
        )
        assert json.loads(stored.value)["decision"]["cluster_id"] == first_id

    recorder.wait_for("/desk", for_signal(first_id), timeout_s=90)
    again_id = report_about(pipeline, phone.replace("06", "+31 6 ", 1), FOLLOW_UP, "e-77")
    [note] = recorder.wait_for("/desk", for_signal(again_id))
    assert note.json()["dedupe"]["duplicate_of"] == first_id
    assert routed_events(recorder, "/desk", first_id) == ["signal.routed"]


def test_a_processor_killed_after_routing_before_committing_routes_again_as_the_same_case(
    pipeline: Services, recorder: Recorder, kafka: str
) -> None:
    """The broker has acknowledged the routed event, and the processor dies (SIGKILL)
    before the input offset is committed. At that moment the routed event must be on
    the broker: this fails when the wait for the send's acknowledgement is removed, as
    the event then still sits in the producer's buffer. After the restart the report
    comes again (at least once): the memory gives the same decision, so it is routed
    again as the same case, and a colleague's report joins that case."""
    phone = unique_phone()
    with pipeline.running_with("processor", crash_at(pipeline, "judge.handed-on")) as worker:
        first_id = report_about(pipeline, phone)
        assert killed(worker)
        wait_for_records(kafka, topics.ROUTED_SERVICEDESK, lambda r: r.key == first_id.encode())

    routed = wait_for_records(
        kafka, topics.ROUTED_SERVICEDESK, lambda r: r.key == first_id.encode(), count=2
    )
    assert {RoutedSignal.model_validate_json(r.value).dedupe.cluster_id for r in routed} == {
        first_id
    }
    again_id = report_about(pipeline, phone, FOLLOW_UP, "e-78")
    [note] = recorder.wait_for("/desk", for_signal(again_id), timeout_s=90)
    assert note.json()["dedupe"]["duplicate_of"] == first_id


def test_routing_rules_reload_without_restart_and_a_bad_file_keeps_them(
    pipeline: Services, recorder: Recorder
) -> None:
    rules = Path(pipeline.env["ANTENNA_ROUTING_RULES"])
    original = rules.read_text()
    metrics_url = f"http://127.0.0.1:{pipeline.env['ANTENNA_PROCESSOR_METRICS_PORT']}/"
    try:
        rules.write_text(original.replace("target: general", "target: moved-queue"))
        time.sleep(1.5)
        moved = pipeline.post(
            {
                "text": unique("The customer's internet has not worked for days, she is fed up."),
                "reporter": REPORTER,
            }
        )
        [request] = recorder.wait_for("/desk", for_signal(moved.json()["signal_id"]))
        assert request.json()["destination"]["target"] == "moved-queue"
        assert request.json()["rule_id"] == "complaints"

        rules.write_text("rules: [\n")
        os.utime(rules, None)
        deadline = time.monotonic() + 10
        while "antenna_routing_rules_reload_failures_total 1.0" not in httpx.get(metrics_url).text:
            assert time.monotonic() < deadline, "the bad file was not counted"
            time.sleep(0.2)
        kept = pipeline.post(
            {
                "text": unique("Her parcel never arrived and nobody answers, she is angry."),
                "reporter": REPORTER,
            }
        )
        [request] = recorder.wait_for("/desk", for_signal(kept.json()["signal_id"]))
        assert request.json()["destination"]["target"] == "moved-queue"
    finally:
        rules.write_text(original)
