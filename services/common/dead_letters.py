"""Build the DeadLetter record for a message that cannot be processed."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import DeadLetter, DeliveryStatus

MAX_ERROR = 2000
# `antenna dlq replay` puts the letter's id on the record it re-publishes, so that the
# connectors try a parked signal again and `antenna dlq list` can tell it was replayed.
REPLAY_HEADER = "antenna-replay-of"


def letter_id(partition: int, offset: int) -> str:
    """A letter's id: its place on signals.dlq, stable and short to type (``2-137``)."""
    return f"{partition}-{offset}"


def dead_letter(
    stage: str,
    error: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    now: datetime | None = None,
    *,
    destination: str | None = None,
    status: DeliveryStatus | None = None,
    replay_of: str | None = None,
) -> DeadLetter:
    return DeadLetter(
        stage=stage,
        error=error[:MAX_ERROR],
        topic=topic,
        partition=partition,
        offset=offset,
        key=key.decode("utf-8", "replace") if key is not None else None,
        payload=(value or b"").decode("utf-8", "replace"),
        at=now or datetime.now(UTC),
        destination=destination,
        status=status,
        replay_of=replay_of,
    )
