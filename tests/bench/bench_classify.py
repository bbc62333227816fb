"""Speed of classification (issue #9, part 5): `make bench-classify`, and part of `make bench`.

- offline: `antenna classify` over 10,000 JSON lines, as a fresh process, wall time and CPU
  time including start-up (imports, loading or training the model), on all cores; and the
  start-up alone (one line);
- processor path: CPU time per signal of ``assess_many`` (what the processor's classify
  stage runs), in batches as the stage hands them over, and one signal at a time.

The lines are the labelled training texts, each made distinct (a customer's name and
number, a typing slip, a few words shuffled at the end), so that no cache sees the same
text twice. Timings on a shared 2-core machine are noisy: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]
NAMES = ("Jansen", "de Vries", "Yilmaz", "O'Brien", "El Amrani", "Kowalski", "Smith", "Bakker")
TARGET_OFFLINE_S = 3.0
TARGET_CPU_MS = 0.3


def lines(n: int, seed: int = 11) -> list[dict[str, Any]]:
    """``n`` distinct JSON rows built from the labelled training texts."""
    from services.processor.classifier.split import train_rows

    rows = train_rows()
    rng = random.Random(seed)
    out = []
    for i in range(n):
        row = rows[rng.randrange(len(rows))]
        words = row.text.split(" ")
        if len(words) > 3:
            j = rng.randrange(len(words))
            word = words[j]
            if len(word) > 4:  # a typing slip: two neighbouring letters swapped
                k = rng.randrange(len(word) - 1)
                words[j] = word[:k] + word[k + 1] + word[k] + word[k + 2 :]
        tail = f" {rng.choice(NAMES)} {rng.randrange(10, 99)} 06-{rng.randrange(10**7, 10**8)}"
        out.append(
            {
                "id": f"bench-{i}",
                "text": " ".join(words) + tail,
                "channel": row.channel,
                "language": row.language if rng.random() < 0.5 else None,
            }
        )
    return out


def offline(n: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    """`antenna classify` on ``n`` lines, a fresh process: wall and CPU seconds."""
    with tempfile.TemporaryDirectory(prefix="antenna-bench-classify-") as tmp:
        path = Path(tmp) / "lines.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in lines(n)), encoding="utf-8")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            [str(Path(sys.executable).parent / "antenna"), "classify", str(path)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **(env or {})},
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = done.stdout.splitlines()
    assert len(out) == n and all('"kind"' in line for line in out), done.stderr[-2000:]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"lines": n, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}


def processor_path(n: int, batch: int) -> dict[str, Any]:
    """CPU time per signal of the classify stage's call, after a warm-up."""
    from schemas import Signal, new_signal_id
    from services.processor import handlers

    now = datetime.now(UTC)
    signals = [
        Signal(
            signal_id=new_signal_id(),
            idempotency_key=row["id"],
            channel=row["channel"],
            source="bench",
            received_at=now,
            reporter={"employee_id": "e-1"},
            text=row["text"],
            language=row["language"],
        )
        for row in lines(n + 200, seed=23)
    ]
    assess_many = getattr(handlers, "assess_many", None)

    def run(items: list[Signal]) -> None:
        if assess_many is not None:
            assess_many(items)
        else:
            for signal in items:
                handlers.assess(signal)

    run(signals[:200])  # warm-up: the model is loaded or trained outside the measurement
    work = signals[200:]
    started = time.process_time()
    for i in range(0, len(work), batch):
        run(work[i : i + batch])
    cpu = time.process_time() - started
    return {"signals": n, "batch": batch, "cpu_ms_per_signal": round(1000 * cpu / n, 3)}


def run(n_offline: int = 10_000, n_processor: int = 3_000) -> dict[str, Any]:
    return {
        "load_before": os.getloadavg()[0],
        "start_up": offline(1),  # what of the offline figure is start-up
        "offline": offline(n_offline),
        "processor_batched": processor_path(n_processor, 64),
        "processor_single": processor_path(n_processor // 3, 1),
        "load_after": os.getloadavg()[0],
    }


def markdown(result: dict[str, Any]) -> str:
    o, b, s = result["offline"], result["processor_batched"], result["processor_single"]
    start = result["start_up"]
    return "\n".join(
        [
            "| classification | figure | target | holds |",
            "|---|---|---|---|",
            f"| `antenna classify`, {o['lines']:,} lines, fresh process | {o['wall_s']:.2f} s "
            f"wall ({o['cpu_s']:.2f} s CPU) | <= {TARGET_OFFLINE_S:g} s "
            f"| {'yes' if o['wall_s'] <= TARGET_OFFLINE_S else 'no'} |",
            f"| of which start-up (`antenna classify`, 1 line) | {start['wall_s']:.2f} s wall "
            f"({start['cpu_s']:.2f} s CPU) | | |",
            f"| processor path, batches of {b['batch']} | {b['cpu_ms_per_signal']:.3f} ms CPU a "
            f"signal | <= {TARGET_CPU_MS:g} ms "
            f"| {'yes' if b['cpu_ms_per_signal'] <= TARGET_CPU_MS else 'no'} |",
            f"| processor path, one signal at a time | {s['cpu_ms_per_signal']:.3f} ms CPU a "
            f"signal | <= {TARGET_CPU_MS:g} ms "
            f"| {'yes' if s['cpu_ms_per_signal'] <= TARGET_CPU_MS else 'no'} |",
            f"(load average {result['load_before']:.1f} before, {result['load_after']:.1f} after)",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--signals", type=int, default=3_000)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    result = run(args.lines, args.signals)
    print(json.dumps(result, indent=2) if args.json else markdown(result))


if __name__ == "__main__":
    main()
