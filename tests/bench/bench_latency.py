"""End-to-end latency: from a signal's ``received_at`` (ingest, on accepting it) to its
delivery at a webhook (a real HTTP receiver on loopback), with the whole stack running as
`antenna up` runs it, at a fixed rate (default 200 signals/s for 60 s).

Only signals that reach a webhook count (complaints to the desk, leads to the CRM, a
colleague's report as a note); triage is delivered nowhere. The load is an open loop: a
post is sent on schedule whether or not earlier ones were answered."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from schemas import topics
from tests.bench.bench_processor import family_cpu_s
from tests.bench.pipeline import Receiver, pipeline, post, reports, wait_for_arrivals
from tests.support.kafka import json_field, json_value, records_until_now

IDLE_S = 10.0  # how long the idle cost is measured, after the warm-up


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(
    tmp: Path, rate: float = 200.0, seconds: float = 60.0, env: Mapping[str, str] = {}
) -> dict[str, Any]:
    receiver = Receiver()
    with pipeline(tmp, receiver, env=env) as (services, broker_pid):
        post(services.api, reports(50, "warm"), "warm", rate=50)
        wait_for_arrivals(receiver, 1, quiet_s=3, timeout_s=120)
        receiver.reset()
        pids = {name: proc.pid for name, proc in services.procs.items()} | {"broker": broker_pid}
        idle = idle_cores(pids, IDLE_S)
        cpu_before = {name: family_cpu_s(pid) for name, pid in pids.items()}
        started = time.monotonic()
        bodies = reports(int(rate * seconds), "run")
        posted = post(services.api, bodies, "run", rate=rate)
        arrived = wait_for_arrivals(receiver, 1, quiet_s=5, timeout_s=600)
        elapsed = time.monotonic() - started
        cpu = {name: family_cpu_s(pid) - cpu_before[name] for name, pid in pids.items()}
        hops = hop_latencies(services.env["KAFKA_BOOTSTRAP_SERVERS"], receiver)
    latencies = receiver.latencies()
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "posted": len(bodies),
        "accepted": posted.accepted,
        "refused": posted.refused,
        "retried": posted.retried,
        "generator_late_s": round(posted.late_s, 3),
        "delivered": arrived,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p90_ms": round(percentile(latencies, 0.90) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
        "elapsed_s": round(elapsed, 1),
        # Where the time went: p50 and p99 of each hop, over the signals that arrived.
        "hops_ms": hops,
        # CPU seconds per second of the run, per process (1.0 = one core).
        "cpu_cores": {name: round(used / elapsed, 2) for name, used in cpu.items()},
        # What each accepted signal cost each process (with its children), and all
        # together: at R signals/s on C cores the pipeline keeps up only while the sum
        # stays under C / R seconds.
        "cpu_ms_per_signal": cpu_ms_per_signal(cpu, posted.accepted),
        # The same processes with nothing to do (polling the broker, timers), measured
        # before the run; over a long drain this idle cost is part of the figure above.
        "idle_cpu_cores": {name: round(cores, 3) for name, cores in idle.items()},
        # What the signals themselves cost: the figure above less that idle cost.
        "busy_cpu_ms_per_signal": cpu_ms_per_signal(
            {name: used - idle[name] * elapsed for name, used in cpu.items()}, posted.accepted
        ),
    }


HOPS = ("ingest", "processor", "connectors")


def hop_latencies(bootstrap: str, receiver: Receiver) -> dict[str, dict[str, float]]:
    """p50 and p99 of each hop, in ms, for the signals that reached the receiver: ingest
    (``received_at`` to its record on signals.raw), the processor (to its record on a
    routed topic) and the connectors (to its arrival). A record's time is its producer's
    clock when it was sent (CreateTime); every clock here is this machine's."""
    raw = _sent_at(bootstrap, [topics.RAW], ("signal_id",))
    routed = _sent_at(
        bootstrap, list(topics.ROUTED_BY_DESTINATION.values()), ("signal", "signal_id")
    )
    arrived = receiver.arrived_at()
    each: dict[str, list[float]] = {hop: [] for hop in HOPS}
    for signal_id, at in arrived.items():
        if signal_id not in raw or signal_id not in routed:
            continue
        received, raw_at = raw[signal_id]
        each["ingest"].append(raw_at - received)
        each["processor"].append(routed[signal_id][1] - raw_at)
        each["connectors"].append(at - routed[signal_id][1])
    return {
        hop: {
            "p50": round(percentile(sorted(times), 0.50) * 1000, 1),
            "p99": round(percentile(sorted(times), 0.99) * 1000, 1),
        }
        for hop, times in each.items()
        if times
    }


def _sent_at(
    bootstrap: str, names: list[str], id_path: tuple[str, ...]
) -> dict[str, tuple[float, float]]:
    """signal_id -> (received_at, when its first record on ``names`` was sent), seconds."""
    found: dict[str, tuple[float, float]] = {}
    for name in names:
        for record in records_until_now(bootstrap, name, lambda _: True):
            signal_id = json_field(record, *id_path)
            value = json_value(record) or {}
            signal = value.get("signal", value)
            if isinstance(signal_id, str) and signal_id not in found:
                received = datetime.fromisoformat(signal["received_at"]).timestamp()
                found[signal_id] = (received, record.timestamp / 1000)
    return found


def idle_cores(pids: Mapping[str, int], seconds: float) -> dict[str, float]:
    """CPU seconds per second each process uses while no signal arrives."""
    before = {name: family_cpu_s(pid) for name, pid in pids.items()}
    time.sleep(seconds)
    return {name: (family_cpu_s(pid) - before[name]) / seconds for name, pid in pids.items()}


def cpu_ms_per_signal(cpu_s: Mapping[str, float], signals: int) -> dict[str, float]:
    each = {name: round(used * 1000 / max(signals, 1), 2) for name, used in cpu_s.items()}
    return each | {"all": round(sum(cpu_s.values()) * 1000 / max(signals, 1), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--fetch-wait-ms",
        help="ANTENNA_KAFKA_FETCH_MAX_WAIT_MS for the services ('' : the clients' defaults)",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="antenna-bench-latency-"))
    env = (
        {}
        if args.fetch_wait_ms is None
        else {"ANTENNA_KAFKA_FETCH_MAX_WAIT_MS": args.fetch_wait_ms}
    )
    print(json.dumps(measure(tmp, args.rate, args.seconds, env), indent=2))


if __name__ == "__main__":
    main()
