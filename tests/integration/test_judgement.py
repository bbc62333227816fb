"""The processor's judgement on the real broker: duplicates across colleagues and
channels, state that survives a restart, routing rules reloaded without one."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from schemas import RoutedSignal, topics
from tests.integration.test_pipeline import REPORTER, for_signal, unique
from tests.support.http_recorder import Recorder
from tests.support.kafka import wait_for_records
from tests.support.services import Services


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

    [dup] = wait_for_records(kafka, topics.DUPLICATES, lambda r: r.key == again_id.encode())
    assert RoutedSignal.model_validate_json(dup.value).dedupe.duplicate_of == first_id


@pytest.mark.parametrize(
    ("how", "name", "surname", "email"),
    [
        ("stopped", "Fatima el Amrani", "El Amrani", "Fatima.ElAmrani@example.nl"),
        ("killed", "Noor Bakker", "Bakker", "Noor.Bakker@example.nl"),
    ],
)
def test_dedupe_memory_survives_a_processor_restart(
    pipeline: Services, recorder: Recorder, how: str, name: str, surname: str, email: str
) -> None:
    """Killed right after its routed event is out, the processor must still have stored
    the case: it waits for its table writes before it hands an event on."""
    customer = {"name": name, "email": email}
    first = pipeline.post(
        {
            "text": unique("She would like an offer for solar panels and a call tomorrow."),
            "reporter": REPORTER,
            "customer": customer,
        }
    )
    first_id = first.json()["signal_id"]
    recorder.wait_for("/crm", for_signal(first_id))

    if how == "killed":
        pipeline.kill("processor")
        pipeline.start("processor")
    else:
        pipeline.restart("processor")

    again = pipeline.post(
        {
            "text": unique(
                f"Mevrouw {surname} is geïnteresseerd in zonnepanelen, graag een offerte."
            ),
            "reporter": {"employee_id": "e-88"},
            "customer": {"email": email.lower().replace("example.nl", "EXAMPLE.nl")},
        }
    )
    again_id = again.json()["signal_id"]
    [note] = recorder.wait_for("/crm", for_signal(again_id), timeout_s=90)
    assert note.headers["X-Antenna-Event"] == "signal.duplicate"
    assert note.json()["dedupe"]["duplicate_of"] == first_id
    # A killed processor replays what it had not committed; the CRM still sees one lead.
    assert routed_events(recorder, "/crm", first_id) == ["signal.routed"]


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
