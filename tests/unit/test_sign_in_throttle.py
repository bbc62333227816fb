"""Password guessing on the employee pages: the pure throttle, then the pages using it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.ingest.forms.throttle import SignInThrottle, ThrottlePolicy
from services.ingest.settings import IngestSettings

POLICY = ThrottlePolicy(max_failures=3, window_s=60.0, max_clients=2)


def test_a_client_is_paused_after_max_failures_within_the_window() -> None:
    throttle = SignInThrottle(POLICY)
    for at in (0.0, 10.0):
        throttle.failed("10.0.0.1", at)
        assert throttle.retry_after("10.0.0.1", at) is None
    throttle.failed("10.0.0.1", 20.0)
    # Paused until the first failure (t=0) leaves the 60 s window.
    assert throttle.retry_after("10.0.0.1", 20.0) == 40
    assert throttle.retry_after("10.0.0.1", 59.5) == 1
    assert throttle.retry_after("10.0.0.1", 60.0) is None
    assert throttle.retry_after("10.0.0.2", 20.0) is None  # other clients are not affected


def test_failures_spread_over_more_than_the_window_never_pause() -> None:
    throttle = SignInThrottle(POLICY)
    for at in range(0, 600, 31):
        throttle.failed("10.0.0.1", float(at))
        assert throttle.retry_after("10.0.0.1", float(at)) is None


def test_a_right_password_clears_the_record() -> None:
    throttle = SignInThrottle(POLICY)
    throttle.failed("10.0.0.1", 0.0)
    throttle.failed("10.0.0.1", 1.0)
    throttle.succeeded("10.0.0.1")
    throttle.failed("10.0.0.1", 2.0)
    assert throttle.retry_after("10.0.0.1", 2.0) is None


def test_memory_is_bounded_by_forgetting_the_least_recent_client() -> None:
    throttle = SignInThrottle(POLICY)
    for client in ("a", "b", "c"):
        for at in (0.0, 1.0, 2.0):
            throttle.failed(client, at)
    assert throttle.retry_after("a", 3.0) is None  # forgotten
    assert throttle.retry_after("b", 3.0) is not None
    assert throttle.retry_after("c", 3.0) is not None


@pytest.mark.parametrize("field", ["report_sign_in_max_failures", "report_sign_in_window_s"])
def test_settings_refuse_a_throttle_that_cannot_work(field: str) -> None:
    with pytest.raises(ValidationError):
        IngestSettings.model_validate({"api_keys": ["k" * 32], field: 0})
