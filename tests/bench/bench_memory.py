"""Memory that stays bounded: the resident memory (RSS) of each service after ``first``
signals (default 10,000) and again after ``last`` (default 100,000), the whole stack
running as `antenna up` runs it, posts as fast as ingest takes them (64 connections).
Each figure is taken once the pipeline is quiet (every signal delivered or in triage),
after a garbage collection has had every chance to run (a few seconds idle).

Every report has its own Idempotency-Key and its own customer: the worst case for
anything kept per signal (caches, status, tables, ledgers)."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.bench.pipeline import Receiver, pipeline, post, reports, wait_for_arrivals

CHUNK = 5_000  # posted at a time, so that the load generator's own memory stays small


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError(f"no VmRSS for {pid}")


def measure(
    tmp: Path,
    first: int = 10_000,
    last: int = 100_000,
    log_level: str = "WARNING",
    env: Mapping[str, str] = {},
) -> dict[str, Any]:
    """``env``: settings for the services, e.g. small capacities to see them fill."""
    receiver = Receiver()
    samples: dict[int, dict[str, int]] = {}
    started = time.monotonic()
    with pipeline(tmp, receiver, log_level, env) as (services, _broker_pid):
        posted = 0
        for target in (first, last):
            while posted < target:
                n = min(CHUNK, target - posted)
                post(services.api, reports(n, f"m{posted}"), f"m{posted}", rate=None)
                posted += n
            wait_for_arrivals(receiver, 1, quiet_s=5, timeout_s=3600)
            samples[target] = {name: rss_kib(proc.pid) for name, proc in services.procs.items()}
        delivered = receiver.count()
    growth = {name: round(samples[last][name] / samples[first][name], 3) for name in samples[first]}
    return {
        "first": first,
        "last": last,
        "delivered": delivered,
        "minutes": round((time.monotonic() - started) / 60, 1),
        "rss_mib": {
            str(n): {name: round(kib / 1024, 1) for name, kib in s.items()}
            for n, s in samples.items()
        },
        "growth": growth,  # RSS after `last` / RSS after `first`; the target is <= 1.2
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first", type=int, default=10_000)
    parser.add_argument("--last", type=int, default=100_000)
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE for the services")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="antenna-bench-memory-"))
    env = dict(item.split("=", 1) for item in args.set)
    print(json.dumps(measure(tmp, args.first, args.last, args.log_level, env), indent=2))


if __name__ == "__main__":
    main()
