"""The test service desk / CRM checks webhook signatures as the README tells receivers to."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from services.common.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.support.http_recorder import Recorder

SECRET = "recorder-test-secret-0123456789"
BODY = b'{"signal": {"signal_id": "01TEST"}}'


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder(secret=SECRET)
    yield server
    server.close()


def post(recorder: Recorder, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{recorder.url}/desk", content=BODY, headers=headers, timeout=10)


def signature(secret: str, timestamp: int) -> dict[str, str]:
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret.encode(), timestamp, BODY),
    }


def test_a_correctly_signed_request_is_recorded(recorder: Recorder) -> None:
    response = post(recorder, signature(SECRET, int(time.time())))
    assert response.status_code == 201
    assert [r.body for r in recorder.received("/desk")] == [BODY]
    assert recorder.refused == []


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(signature("another-secret-0123456789", int(time.time())), id="wrong-secret"),
        pytest.param(signature(SECRET, int(time.time()) - 600), id="stale"),
        pytest.param({TIMESTAMP_HEADER: str(int(time.time()))}, id="no-signature"),
        pytest.param({SIGNATURE_HEADER: "v1=" + "0" * 64}, id="no-timestamp"),
        pytest.param({}, id="unsigned"),
    ],
)
def test_a_wrongly_signed_request_is_refused(recorder: Recorder, headers: dict[str, str]) -> None:
    response = post(recorder, headers)
    assert response.status_code == 401
    assert recorder.received("/desk") == []
    assert [r.body for r in recorder.refused] == [BODY]
