"""Never 202 without the broker's acknowledgement: a stopped broker gives 503."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from services.common.broker import BrokerStartError, EmbeddedBroker
from services.common.kafka import ensure_topics
from tests.support.kafka import broker_settings
from tests.support.services import API_KEY, Services, service_env

BODY = {"text": "Her card was declined again.", "reporter": {"employee_id": "e-7"}}


def test_stopped_broker_gives_503_and_never_202(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path / "broker.log")
    broker.start()
    ensure_topics(broker_settings(broker.bootstrap, topic_partitions=1))
    ingest = Services(
        service_env(broker.bootstrap, tmp_path, {"ANTENNA_PUBLISH_TIMEOUT_S": "3"}), tmp_path
    )
    ingest.start("ingest")
    try:
        assert ingest.post(BODY).status_code == 202
        assert httpx.get(f"{ingest.api}/readyz").status_code == 200
        broker.stop()

        started = time.monotonic()
        refused = ingest.post(BODY)
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"].isdigit()
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert time.monotonic() - started < 15
        assert httpx.get(f"{ingest.api}/readyz", timeout=10).status_code == 503
        assert httpx.get(f"{ingest.api}/healthz").status_code == 200  # alive, just not ready
    finally:
        ingest.stop()
        broker.stop()


def test_ingest_starts_and_answers_503_when_no_broker_ever_answered(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nobody = f"127.0.0.1:{closed.getsockname()[1]}"
    ingest = Services(service_env(nobody, tmp_path, {"ANTENNA_PUBLISH_TIMEOUT_S": "2"}), tmp_path)
    ingest.start("ingest")
    try:
        response = httpx.post(
            f"{ingest.api}/v1/signals", json=BODY, headers={"X-API-Key": API_KEY}, timeout=30
        )
        assert response.status_code == 503
    finally:
        ingest.stop()


def test_broker_that_cannot_start_names_its_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        broker = EmbeddedBroker(tmp_path / "broker.log", port=taken.getsockname()[1])
        with pytest.raises(BrokerStartError) as failure:
            broker.start(timeout_s=10)
    assert str(tmp_path / "broker.log") in str(failure.value)
