"""Exact re-submissions: the same Idempotency-Key from the same source, or the same
signal_id, within the retention window. Pure functions over what the table remembers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas import Signal


@dataclass(frozen=True)
class Seen:
    signal_id: str
    at: datetime


def resubmission_key(signal: Signal) -> str:
    # Keys are scoped by source: two clients may pick the same Idempotency-Key.
    return f"{signal.source}|{signal.idempotency_key}"


def is_resubmission(seen: Seen | None, now: datetime, window: timedelta) -> bool:
    """A signal whose key was already routed within the window is dropped.

    The table only records a key after the routed event was acknowledged, so a
    redelivery after a crash before that point is routed again (sinks are idempotent)."""
    return seen is not None and now - seen.at <= window
