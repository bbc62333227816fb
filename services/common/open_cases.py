"""How long a case outlives the dedupe window: while its outcome is still awaited. Pure.

The connectors' case -> record mapping (what the outcome pollers read) and the
notifier's case files (whom to tell) expire with the dedupe window, 14 days. A ticket
resolved on day 20 would then be polled by nobody and told to nobody. So an entry past
the window is kept while its case is open (a record exists and no final outcome is known)
and younger than a horizon (``ANTENNA_OUTCOME_WATCH_DAYS``, 180 days by default), up to a
capacity per partition (its share of ``ANTENNA_OUTCOME_WATCH_MAX_CASES``). When more
open cases are past the window than that, the oldest are let go as before: their outcome
is no longer polled or told, and the count is reported (``crowded``). Entries inside the
window, and every other table (delivery ledger, notice ledger, dedupe), expire as before.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from schemas import OutcomeStatus
from services.common.table_bounds import oldest_past, share

K = TypeVar("K", bound=Hashable)
DAY_S = 86400.0
# Nothing more is polled or told after these (a reopened ticket is polled for a while by
# the connectors' own ``poll_reopen_window_s``, inside the window or not).
FINAL = frozenset(
    {OutcomeStatus.resolved, OutcomeStatus.closed, OutcomeStatus.won, OutcomeStatus.lost}
)


@dataclass(frozen=True)
class Hold:
    """How long (``horizon_s``, from when the case's record was made) and how many
    (``keep``, per partition) open cases are kept past the dedupe window."""

    horizon_s: float
    keep: int


class OutcomeWatchSettings(BaseModel):
    """The settings of both services that hold open cases (connectors, notifier): one
    pair of variables, so that a case is polled exactly as long as it can be told."""

    # How long after its record was made an open case is still polled and told.
    outcome_watch_days: float = Field(default=180, gt=0)
    # Open cases kept past the dedupe window at most (all partitions together).
    outcome_watch_max_cases: int = Field(default=50_000, ge=100)

    def hold(self, partitions: int) -> Hold:
        return Hold(
            self.outcome_watch_days * DAY_S, share(self.outcome_watch_max_cases, partitions)
        )


@dataclass(frozen=True)
class PastWindow(Generic[K]):
    """An entry of one partition that is past the dedupe window. ``opened_at``: when its
    case's record was made, while its outcome is awaited; None when none is (no record,
    a final outcome, or not an entry that is polled or told)."""

    key: K
    opened_at: float | None


@dataclass(frozen=True)
class Watching:
    """What a sweep needs to keep open cases past the window: ``opened(key, value)``,
    when a stored entry's record was made while its outcome is awaited (else None), the
    hold, and the time now."""

    opened: Callable[[Any, Any], float | None]
    hold: Hold
    now: float

    def release(self, past: Iterable[tuple[Any, Any]]) -> Released[Any]:
        """``release`` of the (key, value) entries past the window."""
        return release((PastWindow(k, self.opened(k, v)) for k, v in past), self.now, self.hold)


@dataclass
class Released(Generic[K]):
    """The keys to delete, and how many of them were open cases let go only because the
    partition held its share of open cases already."""

    keys: list[K] = field(default_factory=list)
    crowded: int = 0


def awaited(status: OutcomeStatus | None) -> bool:
    """Whether an outcome is still to come after ``status`` (None: none known yet)."""
    return status not in FINAL


def everything_past(past: Iterable[tuple[Any, Any]]) -> Released[Any]:
    """No open case held: every entry past the window goes (the other tables)."""
    return Released([key for key, _value in past])


def release(entries: Iterable[PastWindow[K]], now: float, hold: Hold) -> Released[K]:
    """Of one partition's entries past the dedupe window, those to delete now: every one
    whose outcome is not awaited, or whose record is older than the horizon; and of the
    open ones kept, past the newest ``hold.keep``, the oldest. O(n log n) at most."""
    released: Released[K] = Released()
    held: list[tuple[K, float]] = []
    for entry in entries:
        if entry.opened_at is None or now - entry.opened_at > hold.horizon_s:
            released.keys.append(entry.key)
        else:
            held.append((entry.key, entry.opened_at))
    crowded = oldest_past(held, hold.keep)
    released.keys += crowded
    released.crowded = len(crowded)
    return released
