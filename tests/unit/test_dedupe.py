from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.processor.domain.dedupe import Seen, is_resubmission, resubmission_key

WINDOW = timedelta(days=14)
NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def test_never_seen_is_not_a_resubmission() -> None:
    assert is_resubmission(None, NOW, WINDOW) is False


def test_seen_within_the_window_is_a_resubmission() -> None:
    seen = Seen("01JD6W2Q7X5N6G2M3K4P5R6S7T", NOW - timedelta(days=13, hours=23))
    assert is_resubmission(seen, NOW, WINDOW) is True
    assert is_resubmission(Seen("x", NOW - timedelta(seconds=1)), NOW, WINDOW) is True


def test_seen_exactly_at_the_window_edge_is_a_resubmission() -> None:
    assert is_resubmission(Seen("x", NOW - WINDOW), NOW, WINDOW) is True


def test_seen_outside_the_window_is_not_a_resubmission() -> None:
    assert is_resubmission(Seen("x", NOW - WINDOW - timedelta(seconds=1)), NOW, WINDOW) is False
    assert is_resubmission(Seen("x", NOW - timedelta(days=30)), NOW, WINDOW) is False


def test_resubmission_key_is_scoped_by_source(make_signal) -> None:
    a = make_signal(source="api-key-aaaaaaaaaa", idempotency_key="order-17")
    b = make_signal(source="api-key-bbbbbbbbbb", idempotency_key="order-17")
    assert resubmission_key(a) != resubmission_key(b)
    assert resubmission_key(a) == "api-key-aaaaaaaaaa|order-17"


def test_resubmission_key_ignores_the_signal_id(make_signal) -> None:
    first = make_signal(source="email", idempotency_key="<msg-1@example.nl>")
    again = make_signal(source="email", idempotency_key="<msg-1@example.nl>")
    assert first.signal_id != again.signal_id
    assert resubmission_key(first) == resubmission_key(again)
    other_key = make_signal(source="email", idempotency_key="<msg-2@example.nl>")
    assert resubmission_key(other_key) != resubmission_key(first)
