"""The employee hears back: GET /v1/signals/{id} and /report/status/{id} follow a signal
through the real pipeline (ingest, processor, connectors on the test broker) to the
ticket the recorder stands in for."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.integration.test_pipeline import REPORTER, for_signal, unique
from tests.support.http_recorder import Recorder
from tests.support.services import API_KEY, Services


def status_of(pipeline: Services, signal_id: str) -> httpx.Response:
    return httpx.get(
        f"{pipeline.api}/v1/signals/{signal_id}",
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=10,
    )


def wait_for_status(
    pipeline: Services, signal_id: str, done: Any, timeout_s: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        response = status_of(pipeline, signal_id)
        if response.status_code == 200:
            last = response.json()
            if done(last):
                return dict(last)
        else:
            assert response.status_code == 404, response.text
            last = response.json()
        time.sleep(0.25)
    raise AssertionError(f"status of {signal_id} did not get there in {timeout_s}s: {last}")


def delivered(body: dict[str, Any]) -> bool:
    external_id = (body.get("delivery") or {}).get("external_id") or ""
    return body["state"] == "delivered" and external_id.startswith("EXT-")


def test_a_complaint_is_followed_to_its_ticket_and_a_second_report_to_that_case(
    pipeline: Services, recorder: Recorder
) -> None:
    customer = {"name": "Henk Jansen", "phone": "+31 6 55667788"}
    first = pipeline.post(
        {
            "text": unique("His bank card was declined twice at the shop, he is furious."),
            "reporter": REPORTER,
            "customer": customer,
        }
    )
    assert first.status_code == 202, first.text
    first_id = first.json()["signal_id"]

    status = wait_for_status(pipeline, first_id, delivered)
    assert status["destination"] == "servicedesk"
    assert status["rule_id"]
    assert status["duplicate_of"] is None
    assert status["delivery"]["external_id"].startswith("EXT-")
    assert any(for_signal(first_id)(r) for r in recorder.received("/desk"))

    again = pipeline.post(
        {
            "text": unique("Zijn pinpas wordt steeds geweigerd bij het betalen, hij is boos."),
            "reporter": {"employee_id": "e-78"},
            "customer": {"name": "H. Jansen", "phone": "06-55667788"},
        }
    )
    assert again.status_code == 202, again.text
    again_id = again.json()["signal_id"]
    status = wait_for_status(pipeline, again_id, lambda b: b["duplicate_of"] is not None)
    assert status["duplicate_of"] == first_id
    assert status["cluster_id"] == first_id
    assert status["reporters_count"] == 2


def test_unknown_and_invalid_ids(pipeline: Services) -> None:
    unknown = status_of(pipeline, "01JD6W2Q7X5N6G2M3K4P5R6S7T")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert status_of(pipeline, "not-a-ulid").status_code == 422
