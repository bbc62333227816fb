"""`make bench`: every benchmark of issue #10 in one go, each against its baseline in the
same run, written to bench/results/latest.json and bench/results/latest.md.

- ingest: POST /v1/signals against a bare FastAPI endpoint served the same way (wrk);
- processor: the processor against a bare Faust forward, and against the same decisions
  made offline (no broker);
- latency: received_at -> delivery at a webhook, the whole stack at a fixed rate, and
  again at a low rate, with the time each hop took;
- memory: each service's RSS after ``first`` and after ``last`` signals, each stream
  worker fed directly on its input topics (bench_memory), within a time box.

The machine is shared and small: absolute rates move with its load, so each figure comes
with its baseline from the same run, and the load average is recorded.

- classify (issue #9, part 5; `make bench-classify` alone): `antenna classify` on 10,000
  lines and the processor's classify CPU a signal, against absolute targets."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench import bench_classify, bench_ingest, bench_latency, bench_memory, bench_processor

ROOT = Path(__file__).parents[2]
RESULTS = ROOT / "bench" / "results"
SECTIONS = ("ingest", "processor", "latency", "memory", "classify")
TARGETS = {
    "ingest": "ingest >= 0.60 x the bare endpoint's requests/s",
    "processor": "processor >= 0.70 x the offline judgement rate",
    "latency": "p99 < 500 ms",
    "memory": "RSS after the last count <= 1.20 x RSS after the first, for each service",
    "classify": "antenna classify on 10,000 lines <= 3 s; processor classify <= 0.3 ms CPU",
}


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def holds(section: str, result: dict[str, Any]) -> bool:
    if section == "classify":
        return bool(
            result["offline"]["wall_s"] <= bench_classify.TARGET_OFFLINE_S
            and result["processor_batched"]["cpu_ms_per_signal"] <= bench_classify.TARGET_CPU_MS
        )
    if section == "ingest":
        return bool(result["ratio"] >= 0.60)
    if section == "processor":
        return bool(result["processor_vs_offline"] >= 0.70)
    if section == "latency":
        return bool(result["p99_ms"] < 500 and result["delivered"] > 0)
    return bool(result["services"]) and all(
        s["reached"] >= result["last"] and s["growth"] <= 1.20 for s in result["services"].values()
    )


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Antenna benchmarks",
        "",
        f"`{report['command']}` — {report['started']}, {report['minutes']} min, "
        f"commit {m['commit']}{' (with local changes)' if m['dirty'] else ''}.",
        f"Machine: {m['cores']} cores, Python {m['python']}, {m['platform']}; load average "
        f"{report['load_before']} before, {report['load_after']} after (the machine is shared: "
        "absolute rates move, compare each figure with its baseline from the same run).",
        "",
        "| benchmark | figure | baseline (same run) | ratio | target | holds |",
        "|---|---|---|---|---|---|",
    ]
    results = {k: v for k, v in report["results"].items() if "error" not in v}
    for name, failed in report["results"].items():
        if "error" in failed:
            lines.insert(len(lines) - 2, f"{name}: failed ({failed['error']}); see the log.")
    if "classify" in results:
        lines += _classify_rows(results["classify"])
    if "ingest" in results:
        r = results["ingest"]
        lines.append(
            f"| ingest: POST /v1/signals, wrk {r['connections']} connections, "
            f"{r['rounds']} x {r['seconds']:g} s | {r['ingest_per_s']:,.0f} req/s, "
            f"p99 {r['ingest_p99_ms']:.0f} ms | bare FastAPI endpoint {r['bare_per_s']:,.0f} req/s"
            f" | {r['ratio']:.2f} (rounds {r['ratio_min']:.2f}-{r['ratio_max']:.2f}) "
            f"| >= 0.60 | {_yes(report['holds']['ingest'])} |"
        )
    if "processor" in results:
        r = results["processor"]
        lines.append(
            f"| processor, {r['signals']:,} signals | {r['processor_per_s']:,.0f} signals/s "
            f"({r['processor_cpu_ms_per_signal']:.2f} ms CPU each; offline "
            f"{r['offline_cpu_ms_per_signal']:.2f} ms) "
            f"| bare Faust forward {r['baseline_faust_forward_per_s']:,.0f}/s; offline "
            f"{r['offline_judgements_per_s']:,.0f}/s | {r['processor_vs_baseline']:.2f} of the "
            f"forward; {r['processor_vs_offline']:.2f} of offline | >= 0.70 of offline "
            f"| {_yes(report['holds']['processor'])} |"
        )
    if "latency" in results:
        r = results["latency"]
        lines.append(_latency_row(r, _yes(report["holds"]["latency"])))
        if "at_low_rate" in r:
            low = r["at_low_rate"]
            lines.append(_latency_row(low, _yes(low["p99_ms"] < 500 and low["delivered"] > 0)))
        if "cpu_ms_per_signal" in r:
            cost = r["cpu_ms_per_signal"]
            budget = 1000 * (report["machine"]["cores"] or 1) / r["rate_per_s"]
            parts = ", ".join(f"{name} {ms:.1f}" for name, ms in cost.items() if name != "all")
            busy = r.get("busy_cpu_ms_per_signal", {}).get("all")
            without_idle = "" if busy is None else f"; {busy:.1f} ms less the idle polling"
            lines.append(
                f"| end to end: CPU a signal, every process | {cost['all']:.1f} ms ({parts}"
                f"{without_idle}) "
                f"| all cores / rate: {budget:.1f} ms | {cost['all'] / budget:.2f} | <= 1.00 "
                f"to keep up | {_yes(cost['all'] <= budget)} |"
            )
    if "memory" in results:
        r = results["memory"]
        first = r["first"]
        for name, figures in r["services"].items():
            reached = figures["reached"]
            ok = reached >= r["last"] and figures["growth"] <= 1.20
            short = (
                ""
                if reached >= r["last"]
                else (f" (time box of {r['time_box_minutes']:g} min: {r['last']:,} not reached)")
            )
            lines.append(
                f"| memory: {name} RSS after {reached:,} signals{short}, fed on its own input "
                f"| {figures['rss_mib'][reached]:.0f} MiB | after {first:,}: "
                f"{figures['rss_mib'][first]:.0f} MiB | {figures['growth']:.2f} | <= 1.20 "
                f"after {r['last']:,} | {_yes(ok)} |"
            )
    if report.get("not_run"):
        lines += ["", f"Not run (stopped before): {', '.join(report['not_run'])}."]
    lines += ["", "Details: `bench/results/latest.json`.", ""]
    return "\n".join(lines)


def _latency_row(r: dict[str, Any], held: str) -> str:
    hops = "; ".join(
        f"{hop} {t['p50']:,.0f}/{t['p99']:,.0f}" for hop, t in r.get("hops_ms", {}).items()
    )
    return (
        f"| end to end, {r['rate_per_s']:g} signals/s for {r['seconds']:g} s "
        f"({r['delivered']:,} delivered) | p50 {r['p50_ms']:,.0f} ms, p99 {r['p99_ms']:,.0f} "
        f"ms{f' (p50/p99 per hop, ms: {hops})' if hops else ''} | — | — | p99 < 500 ms "
        f"| {held} |"
    )


def _classify_rows(r: dict[str, Any]) -> list[str]:
    o, b = r["offline"], r["processor_batched"]
    offline_target, cpu_target = bench_classify.TARGET_OFFLINE_S, bench_classify.TARGET_CPU_MS
    return [
        f"| classify: `antenna classify`, {o['lines']:,} lines, fresh process | "
        f"{o['wall_s']:.2f} s wall ({o['cpu_s']:.2f} s CPU; start-up "
        f"{r['start_up']['wall_s']:.2f} s) | — | — | <= {offline_target:g} s "
        f"| {_yes(o['wall_s'] <= offline_target)} |",
        f"| classify: the processor's path, batches of {b['batch']} | "
        f"{b['cpu_ms_per_signal']:.3f} ms CPU a signal (one at a time "
        f"{r['processor_single']['cpu_ms_per_signal']:.3f}) | — | — | <= {cpu_target:g} ms "
        f"| {_yes(b['cpu_ms_per_signal'] <= cpu_target)} |",
    ]


def _yes(value: bool) -> str:
    return "yes" if value else "**no**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections, comma-separated")
    parser.add_argument("--processor-signals", type=int, default=2000)
    parser.add_argument("--ingest-rounds", type=int, default=3)
    parser.add_argument("--ingest-seconds", type=float, default=10.0)
    parser.add_argument("--latency-rate", type=float, default=200.0)
    parser.add_argument("--latency-seconds", type=float, default=60.0)
    parser.add_argument(
        "--latency-low-rate",
        type=float,
        default=25.0,
        help="a second end-to-end run at this rate, well within capacity (0: none)",
    )
    parser.add_argument("--memory-first", type=int, default=10_000)
    parser.add_argument("--memory-last", type=int, default=100_000)
    parser.add_argument("--memory-minutes", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    chosen = [s for s in args.only.split(",") if s]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    tmp = Path(tempfile.mkdtemp(prefix="antenna-bench-"))
    runs: dict[str, Callable[[], dict[str, Any]]] = {
        "classify": lambda: bench_classify.run(),
        "ingest": lambda: bench_ingest.measure(
            tmp / "ingest", args.ingest_rounds, args.ingest_seconds
        ),
        "processor": lambda: bench_processor.measure(args.processor_signals),
        "latency": lambda: latency(tmp, args),
        "memory": lambda: bench_memory.measure(
            tmp / "memory", args.memory_first, args.memory_last, minutes=args.memory_minutes
        ),
    }
    started, clock = datetime.now(UTC), time.monotonic()
    load_before = os.getloadavg()
    # Before the first part: later, the results this run wrote make the tree look changed.
    host = machine()
    results: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    report: dict[str, Any] = {}
    for section in chosen:
        print(f"bench: {section}...", flush=True)
        began = time.monotonic()
        try:
            results[section] = runs[section]()
        except Exception as exc:  # one part failing must not lose the others' figures
            traceback.print_exc()
            results[section] = {"error": f"{type(exc).__name__}: {exc}"}
        seconds[section] = round(time.monotonic() - began, 1)
        print(json.dumps(results[section]), flush=True)
        # After every part: a run stopped midway still leaves what it measured.
        report = write(args, chosen, results, seconds, started, clock, load_before, host)
    if report:
        print(markdown(report))


def latency(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """End to end at the target rate and, on a fresh stack, at a low one: the first
    shows capacity, the second the time each hop takes when nothing queues."""
    result = bench_latency.measure(tmp / "latency", args.latency_rate, args.latency_seconds)
    if args.latency_low_rate > 0:
        result["at_low_rate"] = bench_latency.measure(
            tmp / "latency-low", args.latency_low_rate, args.latency_seconds
        )
    return result


def write(
    args: argparse.Namespace,
    chosen: list[str],
    results: dict[str, Any],
    seconds: dict[str, float],
    started: datetime,
    clock: float,
    load_before: tuple[float, float, float],
    host: dict[str, Any],
) -> dict[str, Any]:
    done = [s for s in chosen if s in results]
    report = {
        "command": "make bench " + " ".join(_make_variables(args)),
        "started": started.isoformat(timespec="seconds"),
        "minutes": round((time.monotonic() - clock) / 60, 1),
        "seconds_per_section": seconds,
        "machine": host,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "targets": {s: TARGETS[s] for s in done},
        "holds": {s: "error" not in results[s] and holds(s, results[s]) for s in done},
        "not_run": [s for s in chosen if s not in results],
        "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "latest.md").write_text(markdown(report))
    return report


def _make_variables(args: argparse.Namespace) -> list[str]:
    """The run's settings as `make bench` variables, so the command can be repeated."""
    return [
        f"ONLY={args.only}",
        f"N={args.processor_signals}",
        f"INGEST_ROUNDS={args.ingest_rounds}",
        f"INGEST_SECONDS={args.ingest_seconds:g}",
        f"RATE={args.latency_rate:g}",
        f"SECONDS={args.latency_seconds:g}",
        f"LOW_RATE={args.latency_low_rate:g}",
        f"MEMORY_FIRST={args.memory_first}",
        f"MEMORY_LAST={args.memory_last}",
        f"MEMORY_MINUTES={args.memory_minutes:g}",
    ]


if __name__ == "__main__":
    main()
