"""Throughput of the processor against a bare baseline, in the same run, on the same
embedded broker: `make bench`. Not part of `make test`: timings on a shared 2-core
machine are noisy, so the result is a ratio, not a pass/fail.

- baseline: a bare Faust agent that forwards each message from one topic to another
  (same broker, same Faust settings, no decoding, no judgement);
- processor: the real processor worker (validate, classify, dedupe, route);
- offline: the same decisions without a broker (`antenna dedupe` code path).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from schemas import Signal, new_signal_id, topics
from services.common.broker import EmbeddedBroker
from services.common.kafka import ensure_topics
from services.processor.domain.dedupe import Deduper
from services.processor.domain.route import DEFAULT_RULES
from services.processor.handlers import assess, judge
from tests.bench.bench_ingest import cpu_seconds
from tests.support.kafka import broker_settings, true_end_offsets
from tests.support.services import Services, service_env

BASELINE_APP = """
import faust, os
app = faust.App("bench-baseline", broker="kafka://" + os.environ["KAFKA_BOOTSTRAP_SERVERS"],
    store="memory://", web_enabled=False, broker_session_timeout=6, broker_heartbeat_interval=1,
    producer_acks=-1, consumer_auto_offset_reset="earliest", topic_partitions=3)
RAW = dict(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
src = app.topic("bench.in", **RAW)
dst = app.topic("bench.out", **RAW)
@app.agent(src)
async def forward(stream):
    async for event in stream.events():
        await (await dst.send(key=event.key, value=event.value))
if __name__ == "__main__":
    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()
"""


def signals(n: int) -> list[Signal]:
    data = Path(__file__).parents[2] / "services" / "processor" / "classifier" / "data"
    texts = [
        json.loads(line)["text"]
        for name in ("labelled_nl.jsonl", "labelled_en.jsonl")
        for line in (data / name).read_text(encoding="utf-8").splitlines()
        if line
    ]
    rng = random.Random(7)
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        phone = f"0612{rng.randrange(100000, 999999)}" if rng.random() < 0.7 else None
        out.append(
            Signal(
                signal_id=new_signal_id(),
                idempotency_key=f"bench-{i}",
                channel="api",
                source="bench",
                received_at=now,
                reporter={"employee_id": f"e-{i % 50}"},
                customer={"phone": phone, "name": None},
                text=rng.choice(texts),
            )
        )
    return out


def pump(bootstrap: str, topic: str, payloads: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for key, value in payloads:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def drain(bootstrap: str, out_topics: list[str], n: int, timeout_s: float) -> float:
    """Block until n records arrived on out_topics; return the time of the last one."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    tps = [TopicPartition(t, p) for t in out_topics for p in consumer.partitions_for_topic(t)]
    # The true ends, before anything is produced (Tansu's listed end can fall short).
    for tp, end in true_end_offsets(consumer, tps).items():
        consumer.seek(tp, end)
    seen, deadline = 0, time.monotonic() + timeout_s
    while seen < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {seen}/{n} records after {timeout_s}s")
        for records in consumer.poll(timeout_ms=200).values():
            seen += len(records)
    consumer.close()
    return time.monotonic()


Payloads = list[tuple[bytes, bytes]]


def family_cpu_s(pid: int) -> float:
    """CPU seconds so far of a process and its live children (the classify workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return cpu_seconds(pid) + sum(cpu_seconds(int(child)) for child in children)


def timed_run(
    bootstrap: str,
    in_topic: str,
    out_topics: list[str],
    payloads: Payloads,
    warmup: Payloads,
    pid: int,
    broker_pid: int | None = None,
    started: Path | None = None,
) -> tuple[float, float, float]:
    """Signals per second, after a warm-up batch has passed through (workers joined), the
    CPU seconds the worker ``pid`` (with its children) used meanwhile, and the broker's
    (``broker_pid``; 0 without it). ``started``: a file written with ``pid`` when the
    timed part begins (for a profiler to attach to the worker then)."""
    result: dict[str, float] = {}

    def wait_for(n: int, timeout_s: float) -> threading.Thread:
        waiter = threading.Thread(
            target=lambda: result.update(end=drain(bootstrap, out_topics, n, timeout_s))
        )
        waiter.start()
        return waiter

    waiter = wait_for(len(warmup), 180)
    pump(bootstrap, in_topic, warmup)
    waiter.join()
    waiter = wait_for(len(payloads), 600)
    time.sleep(1)
    cpu = family_cpu_s(pid)
    broker_cpu = cpu_seconds(broker_pid) if broker_pid else 0.0
    start = time.monotonic()
    if started is not None:
        started.write_text(str(pid))
    pump(bootstrap, in_topic, payloads)
    waiter.join()
    broker_used = cpu_seconds(broker_pid) - broker_cpu if broker_pid else 0.0
    return len(payloads) / (result["end"] - start), family_cpu_s(pid) - cpu, broker_used


def measure(n: int = 2000, forward: bool = True, started: Path | None = None) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="antenna-bench-"))
    batch = signals(n + 50)
    warm, work = batch[:50], batch[50:]
    encode = lambda items: [(s.signal_id.encode(), s.model_dump_json().encode()) for s in items]  # noqa: E731
    with EmbeddedBroker(tmp / "broker.log") as broker:
        settings = broker_settings(broker.bootstrap, topic_partitions=3)
        ensure_topics(settings)
        ensure_topics(settings, ["bench.in", "bench.out"])
        env = service_env(broker.bootstrap, tmp)
        services = Services(env, tmp)

        bare = (
            forward_rate(broker.bootstrap, tmp, env, encode(work), encode(warm)) if forward else 0
        )
        services.start("processor")
        try:
            outs = [topics.ROUTED_SERVICEDESK, topics.ROUTED_CRM, topics.TRIAGE, topics.DUPLICATES]
            worker = services.procs["processor"].pid
            processor, processor_cpu, broker_cpu = timed_run(
                broker.bootstrap,
                topics.RAW,
                outs,
                encode(work),
                encode(warm),
                worker,
                broker.pid,
                started,
            )
        finally:
            services.stop()
    # The same decisions in one process, no broker: classify + dedupe + route per signal.
    deduper, rules = Deduper({}), DEFAULT_RULES
    start, cpu = time.perf_counter(), time.process_time()
    for signal in work:
        judged = assess(signal)
        judge(signal, judged.classification, deduper, rules, signal.received_at, judged.topic)
    offline = len(work) / (time.perf_counter() - start)
    offline_cpu = time.process_time() - cpu
    per_signal_ms = lambda seconds: round(seconds / len(work) * 1000, 3)  # noqa: E731
    return {
        "signals": len(work),
        "baseline_faust_forward_per_s": round(bare, 1),
        "processor_per_s": round(processor, 1),
        "processor_vs_baseline": round(processor / bare, 3) if bare else 0,
        "offline_judgements_per_s": round(offline, 1),
        "processor_vs_offline": round(processor / offline, 3),
        # CPU per signal moves less with the machine's load than rates do: the processor
        # worker with its classify workers (not the broker), and the offline loop.
        "processor_cpu_ms_per_signal": per_signal_ms(processor_cpu),
        "broker_cpu_ms_per_signal_during_processor": per_signal_ms(broker_cpu),
        "offline_cpu_ms_per_signal": per_signal_ms(offline_cpu),
    }


def forward_rate(
    bootstrap: str, tmp: Path, env: dict[str, str], work: Payloads, warm: Payloads
) -> float:
    """The bare Faust forward's rate (signals per second)."""
    (tmp / "baseline.py").write_text(BASELINE_APP)
    baseline = subprocess.Popen(
        [sys.executable, str(tmp / "baseline.py")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        bare, _, _ = timed_run(bootstrap, "bench.in", ["bench.out"], work, warm, baseline.pid)
    finally:
        baseline.terminate()
        baseline.wait()
    return bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="signals per run")
    parser.add_argument(
        "--no-forward",
        action="store_true",
        help="skip the bare Faust forward (processor_vs_baseline is then 0)",
    )
    parser.add_argument(
        "--started",
        type=Path,
        help="write the processor worker's pid to this file when its timed part begins "
        "(to attach a profiler then)",
    )
    args = parser.parse_args()
    print(json.dumps(measure(args.n, not args.no_forward, args.started), indent=2))


if __name__ == "__main__":
    main()
