"""`antenna send` posts a sample report; with --reporter-email the notifier can mail it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.cli import main


def sent(monkeypatch: pytest.MonkeyPatch, *args: str) -> dict[str, Any]:
    posted: dict[str, Any] = {}

    def post(url: str, json: dict[str, Any], **kwargs: Any) -> httpx.Response:
        posted.update(json)
        return httpx.Response(202, json={"signal_id": "01JD6W2Q7X5N6G2M3K4P5R6S7T"})

    monkeypatch.setenv("ANTENNA_API_KEY", "unit-test-key-0123456789")
    monkeypatch.setattr(httpx, "post", post)
    with pytest.raises(SystemExit) as exit:
        main(["send", *args])
    assert exit.value.code == 0
    return posted


def test_the_sample_reporter_has_no_address_unless_given(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "email" not in sent(monkeypatch)["reporter"]
    reporter = sent(monkeypatch, "--reporter-email", "sam@example.com")["reporter"]
    assert reporter["email"] == "sam@example.com"
    assert reporter["employee_id"] == "e-1001"
