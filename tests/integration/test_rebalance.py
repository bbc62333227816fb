"""Scaling the connectors while the service desk and the CRM are down: a second worker
joins, and then it leaves again within seconds (or the first one leaves). After each
change, whoever owns a partition has its waiting head in hand again; when the targets
answer again, every signal is delivered exactly once, in its partition's order.

Built to meet what Faust 0.15.3 does around a rebalance (services/common/offsets.py):
it drops records it has fetched while a partition is paused or its agents' queues are
cleared, and relies on its seek to the committed offsets to read them again. Here:

- every partition's head waits at offset 0, so nothing is committed (and Faust's seek to
  "no committed offset" does nothing);
- waiting signals are announced at every attempt, so the ledger's changelog grows and a
  worker that is given partitions restores table state, with the fetcher running, while
  their records are fetched;
- records keep arriving during the changes (signals, and passing duplicates), so that
  fetches complete inside those windows;
- each change is waited for by the workers' own count of completed rebalances before
  the heads are looked for, so an attempt made before the rebalance never counts."""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from schemas import DeliveryResult, DeliveryStatus, Destination, topics
from services.dlq import read_topic
from tests.support.builders import build_duplicate, build_routed
from tests.support.desk import Desk, webhooks_to
from tests.support.services import (
    WEBHOOK_SECRET,
    Services,
    service_env,
    stack_on_own_broker,
    wait_for,
)

pytestmark = pytest.mark.integration
PARTITIONS = 3
PER_PARTITION = 4  # before the workers change; more arrive while they do
NOISE_S = 0.02  # while they change: a passing record this often (see Signals.noise)
SIGNAL_EVERY = 5  # and a signal to deliver at every fifth
OUTAGE = 503  # what the desk and the CRM answer while they are down
INPUTS = {topics.ROUTED_SERVICEDESK: "servicedesk", topics.ROUTED_CRM: "crm"}
GROUP = "antenna-connectors"


@pytest.fixture
def desk() -> Iterator[Desk]:
    server = Desk(WEBHOOK_SECRET)
    yield server
    server.stop()


@pytest.fixture
def first(desk: Desk, tmp_path: Path) -> Iterator[Services]:
    with stack_on_own_broker(
        tmp_path / "first",
        {
            **webhooks_to(desk, WEBHOOK_SECRET),
            "ANTENNA_DELIVERY_MAX_DELAY_S": "1",
            # Not under test here: a signal that has failed this often while others got
            # through is judged a bad payload. An attempt answered just before the desk
            # came back, and counted after another signal got through, would be.
            "ANTENNA_DELIVERY_MAX_ATTEMPTS": "1000",
            # Waiting signals are announced (published, and written to the ledger) at
            # every attempt: the worker that takes a partition over has table state to
            # restore, and reads the changelog while the rebalance goes on.
            "ANTENNA_DELIVERY_STATUS_INTERVAL_S": "0.1",
        },
        "connectors",
    ) as services:
        yield services


def another_worker(first: Services, tmp_path: Path) -> Services:
    """A second connectors worker in the same group: same broker and settings, its own
    metrics port and var dir."""
    var_dir = tmp_path / "second"
    same = {k: v for k, v in first.env.items() if k.startswith("ANTENNA_")}
    for own in ("ANTENNA_CONNECTORS_METRICS_PORT", "ANTENNA_VAR_DIR"):
        del same[own]
    return Services(service_env(first.env["KAFKA_BOOTSTRAP_SERVERS"], var_dir, same), var_dir)


class Signals:
    """Routed signals sent into every partition of both routed topics. Each is answered as
    an outage until ``back()``; ``placed`` holds each partition's signal_ids in offset
    order."""

    def __init__(self, bootstrap: str, desk: Desk) -> None:
        self.desk = desk
        self.placed: dict[tuple[str, int], list[str]] = defaultdict(list)
        self._waiting: dict[tuple[str, int], list[str]] = defaultdict(list)
        self._producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._trickle: threading.Thread | None = None
        self._sent = 0

    def send(self) -> None:
        """One signal into the next partition, round both topics' partitions."""
        slots = [(t, p) for t in INPUTS for p in range(PARTITIONS)]
        topic, partition = slots[self._sent % len(slots)]
        self._sent += 1
        routed = build_routed(destination=Destination(name=INPUTS[topic]))
        signal_id = routed.signal.signal_id
        self.desk.answers[signal_id] = OUTAGE
        with self._lock:
            self._producer.send(
                topic,
                key=signal_id.encode(),
                value=routed.model_dump_json().encode(),
                partition=partition,
            ).get(timeout=10)
            self.placed[(topic, partition)].append(signal_id)
            self._waiting[(topic, partition)].append(signal_id)

    def noise(self, tick: int) -> None:
        """A colleague's report of a triage case: not for these connectors, passed over
        at once, so that its partition is fetched all through a rebalance."""
        case = build_routed(destination=Destination(name="triage"))
        self._producer.send(
            topics.DUPLICATES,
            key=case.signal.signal_id.encode(),
            value=build_duplicate(case).model_dump_json().encode(),
            partition=tick % PARTITIONS,
        ).get(timeout=10)

    def start_trickle(self) -> None:
        """Until stop_trickle: noise, and now and then a signal to deliver."""

        def run() -> None:
            tick = 0
            while not self._stop.wait(NOISE_S):
                tick += 1
                self.noise(tick)
                if tick % SIGNAL_EVERY == 0:
                    self.send()

        self._stop.clear()
        self._trickle = threading.Thread(target=run, daemon=True)
        self._trickle.start()

    def stop_trickle(self) -> None:
        self._stop.set()
        if self._trickle is not None:
            self._trickle.join()

    def close(self) -> None:
        self.stop_trickle()
        self._producer.close()

    @property
    def ids(self) -> set[str]:
        with self._lock:
            return {signal_id for ids in self.placed.values() for signal_id in ids}

    def heads(self) -> list[str]:
        """The first waiting signal of each partition."""
        with self._lock:
            return [ids[0] for ids in self._waiting.values() if ids]

    def back(self) -> None:
        """The desk and the CRM answer again, for all at once."""
        with self._lock:
            released = {signal_id for ids in self._waiting.values() for signal_id in ids}
            self.desk.answers = {k: v for k, v in self.desk.answers.items() if k not in released}
            self._waiting.clear()


def rebalances(worker: Services) -> int:
    """How many rebalances ``worker`` went through to the end, by its metrics."""
    port = worker.env["ANTENNA_CONNECTORS_METRICS_PORT"]
    text = httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
    found = re.search(r"^antenna_worker_rebalances_total\{[^}]*\} (\S+)$", text, re.MULTILINE)
    return int(float(found.group(1))) if found else 0


def all_heads_tried(desk: Desk, heads: list[str], since: int) -> bool:
    """Whether every partition's head was tried after the desk's attempt number ``since``:
    whoever owns each partition now has it in hand again."""
    tried = {a.signal_id for a in desk.attempts[since:]}
    return all(head in tried for head in heads)


def delivered(bootstrap: str, ids: set[str]) -> list[DeliveryResult]:
    results = [
        DeliveryResult.model_validate_json(r.value)
        for r in read_topic([bootstrap], topics.DELIVERED)
    ]
    return [r for r in results if r.signal_id in ids and r.status is DeliveryStatus.delivered]


def where_they_stopped(bootstrap: str, signals: Signals, desk: Desk) -> str:
    """For a failure: per partition, how many signals reached the desk, and the group's
    committed offset."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=GROUP)
    try:
        lines = []
        for (topic, partition), ids in sorted(signals.placed.items()):
            got = sum(1 for signal_id in ids if signal_id in desk.tickets)
            committed = consumer.committed(TopicPartition(topic, partition))
            lines.append(f"{topic}:{partition} {got}/{len(ids)} delivered, committed={committed}")
        return "; ".join(lines)
    finally:
        consumer.close()


@pytest.mark.parametrize("leaving", ["newcomer", "old-timer"])
def test_scaling_the_connectors_during_an_outage_delivers_every_signal_once_in_order(
    first: Services, desk: Desk, tmp_path: Path, leaving: str
) -> None:
    bootstrap = first.env["KAFKA_BOOTSTRAP_SERVERS"]
    signals = Signals(bootstrap, desk)
    second = another_worker(first, tmp_path)
    stays, leaves = (first, second) if leaving == "newcomer" else (second, first)
    # Within one outage; each change is a rebalance of the whole group.
    changes = [
        ("a worker joined", second, None, [first, second]),
        (f"the {leaving} left", None, leaves, [stays]),
    ]
    try:
        for _ in range(PER_PARTITION * len(INPUTS) * PARTITIONS):
            signals.send()
        heads = signals.heads()
        desk.wait_until("every head waiting", lambda: all_heads_tried(desk, heads, 0))

        signals.start_trickle()
        for what, joins, leaves, remain in changes:
            before = {id(w): rebalances(w) for w in remain if w.procs}
            if joins is not None:
                joins.start("connectors")
            if leaves is not None:
                leaves.stop("connectors")
            wait_for(
                lambda: all(rebalances(w) > before.get(id(w), 0) for w in remain),  # noqa: B023
                f"the rebalance after {what} done",
            )
            # Whoever owns a partition now has its first unfinished signal in hand again.
            mark = len(desk.attempts)
            desk.wait_until(
                f"every head in hand again after {what}",
                lambda: all_heads_tried(desk, heads, mark),  # noqa: B023 (waited for here)
            )
        signals.stop_trickle()

        wanted = signals.ids
        signals.back()
        try:
            desk.wait_until(
                f"{len(wanted)} tickets", lambda: wanted <= desk.tickets.keys(), timeout_s=60
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {where_they_stopped(bootstrap, signals, desk)}") from None
        wait_for(
            lambda: {r.signal_id for r in delivered(bootstrap, wanted)} == wanted,
            "a delivered result for each",
            timeout_s=30,
        )
    finally:
        signals.close()
        second.stop()

    # Exactly once: one ticket and one delivered result each, nothing posted again.
    assert len(delivered(bootstrap, wanted)) == len(wanted)
    assert not [k for k in desk.redelivered if k in wanted]
    # In order: within each partition, tickets were opened in offset order.
    opened = [k for k in desk.tickets if k in wanted]
    for ids in signals.placed.values():
        assert [k for k in opened if k in set(ids)] == ids
