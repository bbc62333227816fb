"""Memory that stays bounded: the resident memory (RSS) of each service after ``first``
signals (default 10,000) and again after ``last`` (default 100,000).

In the whole pipeline the processor passes 10-60 signals/s on 2 shared cores, so 100,000
signals through `antenna up` take hours. Instead the services run as `antenna up` runs
them, on two embedded brokers, each fed its own input directly, 5,000 signals at a time:

- processor (stand "processor", a broker of its own): signals pre-produced on signals.raw
  by a kafka-python producer in large batches; a chunk counts once the processor's group
  has committed every one of them and every hand-over on its classified topic (validate,
  classify, dedupe, route, incidents);
- ingest, connectors, notifier, insight (stand "downstream"): the reports posted to ingest
  (64 connections, as fast as it takes them); for each signal ingest wrote on signals.raw,
  the routed event the processor would write (each report a case of its own, classified
  by the real classifier, routed by the default rules) on signals.routed.* and
  signals.triage. The connectors deliver each one to a local webhook (both destinations,
  real HTTP and signatures) and write its DeliveryResult on signals.delivered, which the
  notifier, insight and ingest's views read with the routed events. A chunk counts once
  every group has committed every input record.

Every report has its own Idempotency-Key, its own customer (own phone and name) and its
own text: the worst case for anything kept per signal (caches, status, tables, ledgers).
RSS is that of the service's process and its children (the processor's classify worker),
taken after ``first`` and after the last chunk, once every input is processed and the
services have been idle a few seconds. No chunk starts after the time box (``minutes``):
a stand that has not reached ``last`` by then reports the count it reached."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from schemas import (
    Classification,
    Dedupe,
    DeliveryResult,
    DeliveryStatus,
    Destination,
    RoutedSignal,
    Signal,
    new_signal_id,
    topics,
)
from services.common.broker import EmbeddedBroker
from services.common.kafka import ensure_topics
from services.connectors.app import APP_ID as CONNECTORS
from services.insight.app import APP_ID as INSIGHT
from services.insight.app import FACTS_TOPIC
from services.insight.facts import INPUTS as INSIGHT_INPUTS
from services.notifier.app import APP_ID as NOTIFIER
from services.notifier.app import INPUTS as NOTIFIER_INPUTS
from services.processor.app import APP_ID as PROCESSOR
from services.processor.app import CLASSIFIED_TOPIC
from services.processor.domain.route import DEFAULT_RULES, route
from services.processor.handlers import assess
from tests.bench.bench_processor import signals as labelled_signals
from tests.bench.pipeline import Receiver, post, surname, webhook_env
from tests.support.kafka import broker_settings, wait_until_processed
from tests.support.services import Services, service_env

CHUNK = 5_000  # signals fed at a time (the generator's memory stays small); see Stand.run
QUIET_S = 5.0  # idle before a sample, so that a garbage collection has every chance to run
DRAIN_TIMEOUT_S = 3600.0
PROCESSOR_STAGES = [(PROCESSOR, topics.RAW), (PROCESSOR, CLASSIFIED_TOPIC)]
DOWNSTREAM_STAGES = [
    *((CONNECTORS, topic) for topic in (topics.ROUTED_SERVICEDESK, topics.ROUTED_CRM)),
    *((NOTIFIER, topic) for topic in NOTIFIER_INPUTS),
    *((INSIGHT, topic) for topic in INSIGHT_INPUTS),
    (INSIGHT, FACTS_TOPIC),
]


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` and of its descendants (0 for a process that is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0
    own = next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
    )
    return own + sum(rss_kib(child) for child in children(pid))


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(FileNotFoundError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


@cache
def _labelled_texts() -> tuple[str, ...]:
    return tuple(signal.text for signal in labelled_signals(500))


def distinct_signals(start: int, n: int, run: str) -> list[Signal]:
    """Signals ``start`` .. ``start + n``: the labelled texts, each with its own reference,
    Idempotency-Key, customer (phone and name) and signal_id."""
    texts, now = _labelled_texts(), datetime.now(UTC)
    return [
        Signal(
            signal_id=new_signal_id(),
            idempotency_key=f"{run}-{i}",
            channel="api",
            source="bench",
            received_at=now,
            reporter={"employee_id": f"e-{i % 500}"},
            customer={"phone": f"06{i:08d}", "name": f"Jan {surname(run, i)}"},
            text=f"{texts[i % len(texts)]} (ref {run}-{i})",
        )
        for i in range(start, start + n)
    ]


@cache
def _classified(text: str) -> Classification:
    """The real classifier's verdict on a labelled text (its reference does not change
    it), once per text."""
    signal = distinct_signals(0, 1, "c")[0].model_copy(update={"text": text})
    return assess(signal).classification


def routed(signal: Signal) -> tuple[str, bytes, bytes]:
    """The processor's routed event for a report that opens a case of its own."""
    classification = _classified(signal.text.rsplit(" (ref ", 1)[0])
    chosen = route(DEFAULT_RULES, classification, signal)
    event = RoutedSignal(
        signal=signal,
        classification=classification,
        dedupe=Dedupe(cluster_id=signal.signal_id),
        destination=Destination(name=chosen.destination, target=chosen.target),
        rule_id=chosen.rule_id,
        routed_at=signal.received_at,
    )
    return chosen.topic, signal.signal_id.encode(), event.model_dump_json().encode()


def produce(bootstrap: str, records: Sequence[tuple[str, bytes, bytes]]) -> None:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=512 * 1024
    )
    for topic, key, value in records:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


@contextmanager
def stack(tmp: Path, names: Sequence[str], env: Mapping[str, str]) -> Iterator[Services]:
    """``names`` as `antenna up` runs them, on a broker of their own."""
    tmp.mkdir(parents=True, exist_ok=True)
    with EmbeddedBroker(tmp / "broker.log") as broker:
        ensure_topics(broker_settings(broker.bootstrap, topic_partitions=3))
        services = Services(service_env(broker.bootstrap, tmp, env), tmp)
        try:
            services.start(*names)
            yield services
        finally:
            services.stop()


Feed = Callable[[Services, int, int], None]


def feed_processor(services: Services, start: int, n: int) -> None:
    batch = distinct_signals(start, n, "m")
    produce(
        services.env["KAFKA_BOOTSTRAP_SERVERS"],
        [(topics.RAW, s.signal_id.encode(), s.model_dump_json().encode()) for s in batch],
    )


def feed_insight(services: Services, start: int, n: int) -> None:
    """Insight alone: for each signal the routed event the processor would write (a case
    of its own) and the connectors' delivery of it, as the downstream stand makes them."""
    records = []
    for signal in distinct_signals(start, n, "i"):
        topic, key, value = routed(signal)
        delivered = DeliveryResult(
            signal_id=signal.signal_id,
            destination="crm" if topic == topics.ROUTED_CRM else "servicedesk",
            connector="bench",
            status=DeliveryStatus.delivered,
            attempts=1,
            at=datetime.now(UTC),
        )
        records += [
            (topic, key, value),
            (topics.DELIVERED, key, delivered.model_dump_json().encode()),
        ]
    produce(services.env["KAFKA_BOOTSTRAP_SERVERS"], records)


class Downstream:
    """Feeds the second stand as the pipeline would, the processor aside: ``n`` reports
    posted to ingest, and for each signal ingest wrote on signals.raw the routed event the
    processor would write (``routed``), which the connectors deliver and the notifier,
    insight and ingest's own views follow. So ingest keeps the statuses of its own
    signals, as in the pipeline."""

    def __init__(self) -> None:
        self._raw: KafkaConsumer | None = None

    def __call__(self, services: Services, start: int, n: int) -> None:
        bodies = [post_body(signal) for signal in distinct_signals(start, n, "d")]
        posted = post(services.api, bodies, f"d{start}", rate=None)
        if posted.accepted != n:
            raise RuntimeError(f"ingest accepted {posted.accepted} of {n} posts")
        bootstrap = services.env["KAFKA_BOOTSTRAP_SERVERS"]
        produce(bootstrap, [routed(signal) for signal in self.accepted(bootstrap, n)])

    def accepted(self, bootstrap: str, n: int) -> list[Signal]:
        """The next ``n`` signals on signals.raw (ingest publishes each one once)."""
        if self._raw is None:
            self._raw = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
            partitions = self._raw.partitions_for_topic(topics.RAW) or set()
            self._raw.assign([TopicPartition(topics.RAW, p) for p in partitions])
        found: list[Signal] = []
        deadline = time.monotonic() + 120
        while len(found) < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(found)} of {n} signals on {topics.RAW}")
            for records in self._raw.poll(timeout_ms=500).values():
                found += [Signal.model_validate_json(r.value) for r in records]
        return found

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()


def post_body(signal: Signal) -> dict[str, Any]:
    """``signal`` as a form tool posts it to /v1/signals."""
    return signal.model_dump(mode="json", include={"text", "channel", "reporter", "customer"})


@dataclass
class Stand:
    """Services on a broker of their own, fed ``CHUNK`` signals at a time until ``last``
    or the time box; RSS taken after ``first`` and after the last chunk."""

    services: Services
    feed: Feed
    stages: list[tuple[str, str]]
    samples: dict[int, dict[str, int]] = field(default_factory=dict)
    load: dict[int, float] = field(default_factory=dict)
    minutes: dict[int, float] = field(default_factory=dict)
    # After every chunk, as soon as it is processed (no idle first): the trend.
    trajectory: dict[int, dict[str, int]] = field(default_factory=dict)
    error: str | None = None

    def rss(self) -> dict[str, int]:
        return {name: rss_kib(proc.pid) for name, proc in self.services.procs.items()}

    def run(self, first: int, last: int, deadline: float, started: float) -> None:
        try:
            fed = 0
            for target in (first, last):
                while fed < target and (target == first or time.monotonic() < deadline):
                    n = min(CHUNK, target - fed)
                    self.feed(self.services, fed, n)
                    fed += n
                    bootstrap = self.services.env["KAFKA_BOOTSTRAP_SERVERS"]
                    wait_until_processed(bootstrap, self.stages, DRAIN_TIMEOUT_S)
                    self.trajectory[fed] = self.rss()
                time.sleep(QUIET_S)
                self.samples[fed] = self.rss()
                self.load[fed] = round(os.getloadavg()[0], 2)
                self.minutes[fed] = round((time.monotonic() - started) / 60, 1)
        except Exception as exc:  # the other stand's figures still count
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            close = getattr(self.feed, "close", None)
            if close is not None:
                close()


# name: (its services, a new feed, the (group, topic) stages that count as processed)
STANDS: dict[str, tuple[tuple[str, ...], Callable[[], Feed], tuple[tuple[str, str], ...]]] = {
    "processor": (("processor",), lambda: feed_processor, tuple(PROCESSOR_STAGES)),
    "downstream": (
        ("connectors", "notifier", "insight", "ingest"),
        Downstream,
        tuple(DOWNSTREAM_STAGES),
    ),
    # Not run unless named (--stands insight): the insight worker fed directly.
    "insight": (
        ("insight",),
        lambda: feed_insight,
        tuple((INSIGHT, topic) for topic in (*INSIGHT_INPUTS, FACTS_TOPIC)),
    ),
}


def measure(
    tmp: Path,
    first: int = 10_000,
    last: int = 100_000,
    log_level: str = "WARNING",
    env: Mapping[str, str] = {},
    minutes: float = 10.0,
    only: Sequence[str] = ("processor", "downstream"),
) -> dict[str, Any]:
    """``env``: settings for the services, e.g. small capacities to see them fill.
    ``minutes``: no chunk is fed past this time box (counted from the start); a stand
    that did not reach ``last`` by then reports the count it reached."""
    receiver = Receiver()
    started = time.monotonic()
    with ExitStack() as stacks:
        url = stacks.enter_context(receiver.serving())
        extra = {**webhook_env(url, log_level), **env}
        stands = {
            name: Stand(
                stacks.enter_context(stack(tmp / name, services, extra)), feed(), list(stages)
            )
            for name, (services, feed, stages) in STANDS.items()
            if name in only
        }
        deadline = time.monotonic() + minutes * 60
        threads = [
            # Daemons: an interrupted run exits, its services stopped by the ExitStack.
            threading.Thread(target=stand.run, args=(first, last, deadline, started), daemon=True)
            for stand in stands.values()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        delivered = receiver.count()
    return summary(stands, first, last, delivered, minutes, time.monotonic() - started)


def summary(
    stands: Mapping[str, Stand],
    first: int,
    last: int,
    delivered: int,
    box_minutes: float,
    seconds: float,
) -> dict[str, Any]:
    services: dict[str, Any] = {}
    for stand in stands.values():
        counts = sorted(stand.samples)
        for name in stand.samples.get(first, {}):
            rss = {n: round(stand.samples[n][name] / 1024, 1) for n in counts}
            reached = counts[-1]
            services[name] = {
                "rss_mib": rss,
                "reached": reached,
                "growth": round(stand.samples[reached][name] / stand.samples[first][name], 3),
                "minutes": stand.minutes,
                "load": stand.load,
                "trajectory_mib": {
                    n: round(sample[name] / 1024, 1) for n, sample in stand.trajectory.items()
                },
            }
    return {
        "first": first,
        "last": last,
        "time_box_minutes": box_minutes,
        "minutes": round(seconds / 60, 1),
        "delivered": delivered,
        "errors": {k: s.error for k, s in stands.items() if s.error},
        "services": services,
        # RSS after the count reached (``last`` unless the time box stopped the feed) /
        # RSS after ``first``; the target is <= 1.2 at ``last``.
        "growth": {name: s["growth"] for name, s in services.items()},
        "reached": {name: s["reached"] for name, s in services.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first", type=int, default=10_000)
    parser.add_argument("--last", type=int, default=100_000)
    parser.add_argument("--minutes", type=float, default=10.0, help="time box for feeding")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--stands", default="processor,downstream", help="which stands to run")
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE for the services")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="antenna-bench-memory-"))
    env = dict(item.split("=", 1) for item in args.set)
    print(
        json.dumps(
            measure(
                tmp,
                args.first,
                args.last,
                args.log_level,
                env,
                args.minutes,
                args.stands.split(","),
            ),
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
