"""What a summary of the insight app costs as its tables fill: `make bench-insight`.

For each size, N reports over 26 weeks (half of them cases with a ticket that was
resolved) are held as the insight app's tables hold them (one compact string each,
services/insight/tally.py), and the summary is derived as the publishing timer does it
(services/insight/app.py): first after a restart, then again with nothing changed (the
same work: nothing is cached between summaries). The baseline, in the same run, is the
least any summary must do: one pass over the table values reading each report's time.
Times are this process's CPU time (the machine's other work shows less); compare the
ratios. Memory is what the table values take (tracemalloc).
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from schemas import Outcome, OutcomeStatus, new_signal_id
from schemas.insight import reporter_ref
from services.insight.app import _summary
from services.insight.facts import Record, Report
from services.insight.tally import (
    kept_case,
    kept_report,
    pack_case,
    pack_report,
    with_change,
    with_record,
)


def tables(size: int, now: datetime) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    shuffle = random.Random(size)
    reports, cases = [], []
    for i in range(size):
        at = now - timedelta(days=shuffle.uniform(0, 180))
        signal_id = new_signal_id()
        report = Report(
            signal_id=signal_id,
            case_id=signal_id,
            received_at=at,
            channel=shuffle.choice(["form", "email", "chat", "api"]),
            kind=shuffle.choice(["complaint", "opportunity", "other"]),
            category="payments_cards",
            department=f"Department {i % 40}",
            refs=(reporter_ref(f"e-{i % 3000}"), reporter_ref(f"e-{i % 3000}@bank.example")),
            destination="servicedesk",
        )
        reports.append((signal_id, pack_report(signal_id, kept_report(report))))
        if i % 2 == 0:
            progress = with_record(None, Record(signal_id=signal_id, at=at + timedelta(hours=1)))
            resolved = Outcome(
                case_id=signal_id,
                status=OutcomeStatus.resolved,
                changed_at=at + timedelta(days=2),
                record_id=str(i),
                destination="servicedesk",
                connector="request_tracker",
                event_id=f"rt:{i}:resolved",
                observed_at=at + timedelta(days=2),
            )
            cases.append((signal_id, pack_case(kept_case(with_change(progress, resolved)))))
    return reports, cases


def days_of(reports: list[tuple[str, Any]]) -> None:
    """The baseline: one pass over the values, reading each report's time (to the day)."""
    Counter(value[:8] for _, value in reports)


def cpu(work: Any) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    sizes = [int(size) for size in parser.parse_args().sizes.split(",")]
    now = datetime.now(UTC)
    print("reports | table values | baseline pass | summary after a restart | summary again")
    for size in sizes:
        tracemalloc.start()
        reports, cases = tables(size, now)
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        summary = partial(_summary, dict(reports), dict(cases), 26)
        base = cpu(partial(days_of, reports))
        first, again = cpu(summary), cpu(summary)
        print(
            f"{size:>7} | {held / 1e6:>6.0f} MB | {base:>7.3f} s | "
            f"{first:>7.3f} s ({first / base:>5.0f}x) | {again:>6.3f} s ({again / base:>4.0f}x)"
        )


if __name__ == "__main__":
    main()
