"""Ingest against a bare FastAPI endpoint, in the same run, on the same machine.

- baseline: tests/bench/bare_api.py, one POST route that does nothing, served by
  services.ingest.main.serve (the same uvicorn settings as ingest);
- ingest: `antenna ingest` as `antenna up` runs it (API, SMTP listener, status follower)
  on the embedded broker, answering 202 only after the broker acknowledged (acks=all).

wrk posts a report with a fresh Idempotency-Key per request over 32 connections. The
two alternate for a few rounds, each round's ratio is taken, and the median is the
figure: the machine is shared, so absolute rates move while the ratio holds."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from services.common.broker import EmbeddedBroker, free_port
from services.common.kafka import ensure_topics
from services.common.processes import healthy, spawn, terminate, wait_for_http
from tests.bench.wrk import WrkResult, run_wrk
from tests.support.kafka import broker_settings
from tests.support.services import API_KEY, Services, service_env

REPORT = {
    "text": "My neighbour's bank card has been declined three times this week and she is "
    "fed up. Nobody called her back.",
    "channel": "api",
    "reporter": {"employee_id": "e-1001", "name": "Sam Example", "department": "Retail"},
    "customer": {"name": "Jan de Vries", "phone": "+31 6 12345678", "consent_to_contact": True},
}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _figures(result: WrkResult) -> dict[str, Any]:
    return {
        "per_s": round(result.per_s, 1),
        "requests": result.requests,
        "errors": result.errors,
        "p50_ms": round(result.p50_ms, 2),
        "p99_ms": round(result.p99_ms, 2),
    }


def measure(
    tmp: Path, rounds: int = 3, seconds: float = 10.0, connections: int = 32
) -> dict[str, Any]:
    with EmbeddedBroker(tmp / "broker.log") as broker:
        ensure_topics(broker_settings(broker.bootstrap, topic_partitions=3))
        env = service_env(broker.bootstrap, tmp)
        services = Services(env, tmp)
        bare_env = {**env, "ANTENNA_API_PORT": str(free_port())}
        bare_url = f"http://127.0.0.1:{bare_env['ANTENNA_API_PORT']}"
        bare = spawn([sys.executable, "-m", "tests.bench.bare_api"], tmp / "bare.log", bare_env)
        try:
            wait_for_http("bare", bare, f"{bare_url}/healthz", healthy, tmp / "bare.log", 30)
            services.start("ingest")
            targets = {"bare": f"{bare_url}/v1/signals", "ingest": f"{services.api}/v1/signals"}

            broker_pid = broker.pid or 0
            pids = {"bare": bare.pid, "ingest": services.procs["ingest"].pid}
            cpu: dict[str, list[float]] = {"bare": [], "ingest": [], "broker": []}

            def load(name: str, duration: float, run: str) -> WrkResult:
                used = cpu_seconds(pids[name]), cpu_seconds(broker_pid)
                result = run_wrk(targets[name], REPORT, API_KEY, duration, connections, run)
                cpu[name].append((cpu_seconds(pids[name]) - used[0]) / result.requests)
                if name == "ingest":
                    cpu["broker"].append((cpu_seconds(broker_pid) - used[1]) / result.requests)
                return result

            for name in targets:  # warm-up: connections, the producer, the code paths
                load(name, 2, f"warm-{name}")
            runs: dict[str, list[WrkResult]] = {"bare": [], "ingest": []}
            for i in range(rounds):
                for name in targets:
                    runs[name].append(load(name, seconds, f"r{i}-{name}-{time.time_ns()}"))
        finally:
            services.stop()
            terminate(bare)
    ratios = [i.per_s / b.per_s for b, i in zip(runs["bare"], runs["ingest"], strict=True)]
    return {
        "rounds": rounds,
        "seconds": seconds,
        "connections": connections,
        "bare_per_s": round(statistics.median(r.per_s for r in runs["bare"]), 1),
        "ingest_per_s": round(statistics.median(r.per_s for r in runs["ingest"]), 1),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "ingest_p50_ms": round(statistics.median(r.p50_ms for r in runs["ingest"]), 2),
        "ingest_p99_ms": round(statistics.median(r.p99_ms for r in runs["ingest"]), 2),
        "bare_p99_ms": round(statistics.median(r.p99_ms for r in runs["bare"]), 2),
        "ingest_errors": sum(r.errors for r in runs["ingest"]),
        # CPU time per request: the server process, and the broker for ingest's records.
        "bare_cpu_us_per_request": round(statistics.median(cpu["bare"][1:]) * 1e6),
        "ingest_cpu_us_per_request": round(statistics.median(cpu["ingest"][1:]) * 1e6),
        "broker_cpu_us_per_request": round(statistics.median(cpu["broker"][1:]) * 1e6),
        "runs": {name: [_figures(r) for r in results] for name, results in runs.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="antenna-bench-ingest-"))
    result = measure(tmp, args.rounds, args.seconds, args.connections)
    result.pop("runs")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
