"""Which destination is paused, and since when."""

from __future__ import annotations

from services.connectors.pause import DestinationHealth


def test_paused_since_the_longest_waiting_signal_until_none_waits() -> None:
    told: list[tuple[str, float | None]] = []
    health = DestinationHealth("servicedesk", lambda d, since: told.append((d, since)))
    assert health.paused_since is None
    health.waiting("p0", 100.0)
    health.waiting("p1", 90.0)
    health.waiting("p0", 100.0)  # the same wait again: nothing new to tell
    assert health.paused_since == 90.0
    health.done("p1")
    assert health.paused_since == 100.0
    health.done("p0")
    health.done("p0")
    assert health.paused_since is None
    assert told == [
        ("servicedesk", 100.0),
        ("servicedesk", 90.0),
        ("servicedesk", 100.0),
        ("servicedesk", None),
    ]


def test_the_last_delivery_only_moves_forward() -> None:
    health = DestinationHealth("crm")
    health.delivered(50.0)
    health.delivered(40.0)
    assert health.delivered_at == 50.0
