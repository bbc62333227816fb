"""When the connectors' table entries expire: the delivery ledger's and the case -> record
mapping's, swept together (services/connectors/app.py). Pure."""

from __future__ import annotations


def expires(
    at: float | None, written_in: int | None, partition: int, now: float, window_s: float
) -> bool:
    """Whether a table entry last written at ``at`` (unix seconds) in ``written_in`` is
    deleted by the sweep of ``partition`` (the ledger's, and the case -> record
    mapping's): older than the window, and of that partition. Faust writes a deletion
    to the partition of the event being processed, so an entry can only be deleted while
    an event of its own partition is. Entries without a time or a partition (written by
    an older version) are kept."""
    return written_in == partition and at is not None and at < now - window_s
