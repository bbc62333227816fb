"""How often the incident detector cries wolf on quiet days, and how often it finds an
outage: `python -m tests.bench.incident_days --days 1000`.

Quiet days: ``--reports`` labelled signals a day (each text at most once a day) at random
times, about random customers (dedupe-set reports keep their own), by 400 employees;
any incident on such a day is a false positive. Bursts: each generated outage
(tests/support/incident_traffic.py) ``--bursts`` times, 8 reports about 8 customers by
6 employees in 40 minutes; found when exactly one incident lists at least 7 of them.
The detector runs with the default settings (or ANTENNA_INCIDENT_*), on the labels:
nothing is classified, so this measures the detector, not the classifier.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from services.processor.settings import ProcessorSettings
from tests.support.incident_traffic import OUTAGES, burst, incidents_in, quiet_days

START = datetime(2026, 3, 2, tzinfo=UTC)


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__)
    cli.add_argument("--days", type=int, default=1000)
    cli.add_argument("--reports", type=int, nargs="+", default=[300, 600])
    cli.add_argument("--bursts", type=int, default=100)
    cli.add_argument("--seed", type=int, default=2026)
    args = cli.parse_args()
    policy = ProcessorSettings().incident_policy()
    print(
        f"policy: {policy.min_reports} reports, {policy.min_customers} customers, "
        f"{policy.min_employees} employees within {policy.window}; alike: "
        f"{policy.min_shared_words} shared words and {policy.min_word_overlap:.0%}"
    )
    for volume in args.reports:
        started = time.perf_counter()
        rng = random.Random(args.seed)
        noisy = 0
        incidents = 0
        for day in quiet_days(rng, START, args.days, volume):
            found = incidents_in(day, policy)
            noisy += bool(found)
            incidents += len(found)
        seconds = time.perf_counter() - started
        print(
            f"quiet days, {volume} reports a day: {noisy} of {args.days} days with an incident "
            f"({noisy / args.days:.2%}; {incidents} incidents) [{seconds:.0f} s]"
        )
    rng = random.Random(args.seed)
    for name, outage in sorted(OUTAGES.items()):
        found_once = 0
        for _ in range(args.bursts):
            rows = burst(rng, outage, START + timedelta(hours=10))
            found = incidents_in(rows, policy)
            found_once += len(found) == 1 and found[0].reports_count >= 7
        print(f"burst {name}: found {found_once} of {args.bursts}")


if __name__ == "__main__":
    main()
