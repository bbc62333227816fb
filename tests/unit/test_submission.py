"""SignalSubmission -> Signal (services/ingest/submission.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import Signal, new_signal_id
from services.ingest.submission import SignalSubmission, to_signal

BODY = (
    b'{"text": "  De klant is boos.  ", "reporter": {"employee_id": "E-1"},'
    b' "customer": {"email": "jan@example.nl"},'
    b' "attachments": [{"filename": "a.png", "content_type": "image/png", "size": 3}],'
    b' "metadata": {"form": "f-1"}, "callback_window": {"text": "morgen"}}'
)


def _signal(submission: SignalSubmission) -> Signal:
    return to_signal(
        submission,
        signal_id=new_signal_id(),
        idempotency_key=None,
        source="api-key-test",
        received_at=datetime.now(UTC),
    )


def test_the_signal_carries_every_field_of_the_submission() -> None:
    submission = SignalSubmission.model_validate_json(BODY)
    signal = _signal(submission)
    assert signal.text == "De klant is boos."
    for name in SignalSubmission.model_fields:
        assert getattr(signal, name) == getattr(submission, name), name
    # and its record reads back as the same Signal
    assert Signal.model_validate_json(signal.model_dump_json()) == signal


def test_the_submissions_models_are_taken_as_they_are() -> None:
    """Not dumped to dicts and validated again (the busiest path: bench_ingest)."""
    submission = SignalSubmission.model_validate_json(BODY)
    signal = _signal(submission)
    assert signal.reporter is submission.reporter
    assert signal.customer is submission.customer
    assert signal.callback_window is submission.callback_window
    assert signal.attachments[0] is submission.attachments[0]
