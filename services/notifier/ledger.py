"""The notification ledger: what became of each notice, keyed by (report, kind), in a
changelog-backed table. Pure: the agent reads and writes the tables, this module decides.

Any entry settles its notice for good: sent, refused for good by the channel, or not
sent on purpose (opted out, too old, no way to reach the employee). A redelivered event,
a restart or a rebalance finds the entry and sends nothing again. The one gap is a crash
between the channel's "accepted" and the broker's acknowledgement of the entry: that
notice is sent again (at least once; e-mails carry the same Message-ID both times)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from services.common.open_cases import Released, Watching, everything_past
from services.common.table_bounds import oldest_past
from services.notifier.cases import Notice, NoticeKind


class Settled(StrEnum):
    sent = "sent"
    failed = "failed"  # the channel refused it for good (unknown address or channel)
    opted_out = "opted_out"
    stale = "stale"  # what it tells is older than the age limit
    no_channel = "no_channel"  # no address the configured channels can reach


def entry(settled: Settled, channel: str, partition: int, now: float) -> dict[str, Any]:
    """A ledger value. ``partition`` and ``touched_at`` as in a case file, for expiry."""
    return {"settled": settled.value, "channel": channel, "partition": partition, "touched_at": now}


def settled(value: Any) -> bool:
    return value is not None


def before_sending(
    notice: Notice, now: datetime, max_age: timedelta, allowed: bool, reachable: bool
) -> Settled | None:
    """Why a due notice is not sent at all, or None to send it."""
    if now - notice.at > max_age:
        return Settled.stale
    if not allowed:
        return Settled.opted_out
    if not reachable:
        return Settled.no_channel
    return None


def expired_keys(
    items: Iterable[tuple[Any, Any]],
    partition: int,
    cutoff: float,
    keep: int | None = None,
    watching: Watching | None = None,
) -> Released[Any]:
    """Keys of ``partition`` untouched since ``cutoff`` (case files and ledger entries),
    and past the newest ``keep`` of the partition the oldest (table_bounds). With
    ``watching``, a case file whose outcome is still to be told is kept past the cutoff
    (services/common/open_cases.py). Faust writes a deletion to the partition of the
    event being processed, so an entry can only be deleted while an event of its own
    partition is."""
    past, kept = [], []
    for key, value in items:
        if (
            isinstance(value, dict)
            and value.get("partition") == partition
            and isinstance(value.get("touched_at"), int | float)
        ):
            if value["touched_at"] < cutoff:
                past.append((key, value))
            else:
                kept.append((key, float(value["touched_at"])))
    released = watching.release(past) if watching is not None else everything_past(past)
    if keep is not None:
        released.keys += oldest_past(kept, keep)
    return released


def notice_keys(case_file: Any) -> list[str]:
    """The ledger's keys for every notice a stored case file's reports may have had: a
    case file forgotten takes its ledger entries along (with the file kept, they would
    be due again)."""
    if not isinstance(case_file, dict):
        return []
    return [
        f"{report['signal_id']}|{kind.value}"
        for report in case_file.get("reports", ())
        if isinstance(report, dict) and "signal_id" in report
        for kind in NoticeKind
    ]
