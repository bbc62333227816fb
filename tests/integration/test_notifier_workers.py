"""The notifier while its workers change, with the relay down: a second worker joins
(a rebalance), or the worker is killed (kill -9) and started again. Once the relay is
back, every notice (a ticket's, and its resolution's) reaches its employee exactly once.
And the notifier's batches: in a batch that mixes partitions, each table write lands in
the partition of its own event.

The notices wait for the relay, so nothing is committed on the input partitions: the
case Faust 0.15.3 handles worst around a rebalance (records it fetched are dropped, and
its seek to "no committed offset" does nothing; services/common/offsets.py). Passing
events keep arriving while the workers change, so that fetches complete meanwhile."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer

from schemas import (
    Destination,
    OutcomeStatus,
    RoutedSignal,
    topics,
)
from tests.integration.conftest import NOTIFY_FROM, PUBLIC_URL
from tests.support.broker import own_broker
from tests.support.builders import (
    build_delivered,
    build_duplicate,
    build_outcome,
    build_routed,
    build_signal,
)
from tests.support.kafka import records_until_now, wait_until_processed
from tests.support.mail_sink import MailSink
from tests.support.services import Services, service_env, wait_for

pytestmark = pytest.mark.integration
PARTITIONS = 3
PER_PARTITION = 3
NOISE_S = 0.02
CASES_CHANGELOG = "antenna-notifier-notify-cases-changelog"
LEDGER_CHANGELOG = "antenna-notifier-notify-ledger-changelog"


@pytest.fixture
def bootstrap(tmp_path: Path) -> Iterator[str]:
    with own_broker(tmp_path / "broker", partitions=PARTITIONS) as address:
        yield address


@pytest.fixture
def relay() -> Iterator[MailSink]:
    """Down until the test starts it."""
    sink = MailSink()
    yield sink
    sink.stop()


def worker(
    bootstrap: str, relay: MailSink, var_dir: Path, extra: dict[str, str] | None = None
) -> Services:
    env = service_env(
        bootstrap,
        var_dir,
        {
            "ANTENNA_NOTIFY_SMTP_HOST": "127.0.0.1",
            "ANTENNA_NOTIFY_SMTP_PORT": str(relay.port),
            "ANTENNA_NOTIFY_FROM": NOTIFY_FROM,
            "ANTENNA_PUBLIC_URL": PUBLIC_URL,
            "ANTENNA_NOTIFY_RETRY_BASE_DELAY_S": "0.2",
            "ANTENNA_NOTIFY_RETRY_MAX_DELAY_S": "1",
            "ANTENNA_NOTIFY_SMTP_TIMEOUT_S": "5",
            **(extra or {}),
        },
    )
    return Services(env, var_dir)


def metrics(services: Services) -> str:
    port = services.env["ANTENNA_NOTIFIER_METRICS_PORT"]
    return httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text


def rebalances(services: Services) -> int:
    found = re.search(
        r"^antenna_worker_rebalances_total\{[^}]*\} (\S+)$", metrics(services), re.MULTILINE
    )
    return int(float(found.group(1))) if found else 0


def paused(services: Services) -> bool:
    return 'antenna_notifier_channel_paused{channel="email"} 1.0' in metrics(services)


class Traffic:
    """Cases into every partition, as the processor and the connectors publish them: the
    routed report, its delivery and its resolution, each to the case's partition."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
        self.emails: list[str] = []
        self.partitions: dict[str, int] = {}  # case id -> the partition of its events
        self._stop = threading.Event()
        self._noise: threading.Thread | None = None

    def send(self, topic: str, key: str, value: bytes, partition: int) -> None:
        self.producer.send(topic, key=key.encode(), value=value, partition=partition).get(10)

    def case(self, partition: int, reachable: bool = True) -> None:
        """``reachable``: the employee has an e-mail address (else no notice is sent)."""
        email = f"employee-{uuid.uuid4().hex[:12]}@bank.example.com" if reachable else None
        if email is not None:
            self.emails.append(email)
        routed = build_routed(
            build_signal(reporter={"employee_id": f"E-{uuid.uuid4().hex[:8]}", "email": email}),
            destination=Destination(name="servicedesk"),
            routed_at=datetime.now(UTC),
        )
        case_id, record = routed.signal.signal_id, str(len(self.partitions) + 1)
        self.partitions[case_id] = partition
        delivered = build_delivered(case_id, record)
        resolved = build_outcome(case_id, OutcomeStatus.resolved, datetime.now(UTC), record)
        for topic, value in (
            (topics.ROUTED_SERVICEDESK, routed),
            (topics.DELIVERED, delivered),
            (topics.OUTCOMES, resolved),
        ):
            self.send(topic, case_id, value.model_dump_json().encode(), partition)

    def start_noise(self) -> None:
        """A colleague's report of a triage case now and then: owes nothing, passed over."""

        def run() -> None:
            tick = 0
            while not self._stop.wait(NOISE_S):
                tick += 1
                case: RoutedSignal = build_routed(destination=Destination(name="triage"))
                value = build_duplicate(case).model_dump_json().encode()
                self.send(topics.DUPLICATES, case.signal.signal_id, value, tick % PARTITIONS)

        self._noise = threading.Thread(target=run, daemon=True)
        self._noise.start()

    def stop_noise(self) -> None:
        self._stop.set()
        if self._noise is not None:
            self._noise.join()

    def close(self) -> None:
        self.stop_noise()
        self.producer.close()


def told(relay: MailSink, emails: list[str]) -> dict[str, list[str]]:
    """Per employee, the subjects of the mails received."""
    return {email: [str(m["Subject"]) for m in relay.to(email)] for email in emails}


@pytest.mark.parametrize("change", ["a second worker joins", "killed and restarted"])
def test_every_notice_is_sent_once_when_the_notifiers_change_while_the_relay_is_down(
    bootstrap: str, relay: MailSink, tmp_path: Path, change: str
) -> None:
    first = worker(bootstrap, relay, tmp_path / "first")
    second = worker(bootstrap, relay, tmp_path / "second")
    traffic = Traffic(bootstrap)
    try:
        first.start("notifier")
        for _ in range(PER_PARTITION):
            for partition in range(PARTITIONS):
                traffic.case(partition)
        wait_for(lambda: paused(first), "the first notice waiting for the relay")

        traffic.start_noise()
        if change == "a second worker joins":
            before = rebalances(first)
            second.start("notifier")
            wait_for(lambda: rebalances(first) > before, "the rebalance done")
        else:
            first.kill("notifier")
            first.start("notifier")
        traffic.stop_noise()
        relay.start()

        # A ticket mail and a resolution mail for each (their order is not at stake).
        expected = {email: 2 for email in traffic.emails}
        try:
            wait_for(
                lambda: {e: len(s) for e, s in told(relay, traffic.emails).items()} == expected,
                "every notice sent",
                timeout_s=60,
            )
        except AssertionError:
            missing = [e for e, s in told(relay, traffic.emails).items() if len(s) < 2]
            raise AssertionError(f"{len(missing)} of {len(expected)} not told both") from None
        # Nothing sent twice: one more case in every partition, told after all before it.
        marker = len(traffic.emails)
        for partition in range(PARTITIONS):
            traffic.case(partition)
        relay.wait_for(lambda m: m["To"] in traffic.emails[marker:], count=2 * PARTITIONS)
    finally:
        traffic.close()
        second.stop()
        first.stop()

    for subjects in told(relay, traffic.emails).values():
        assert len(subjects) == 2, subjects
        assert sum("resolved" in s.lower() or "opgelost" in s.lower() for s in subjects) == 1


def test_in_a_batch_mixing_partitions_each_table_write_lands_in_its_events_partition(
    bootstrap: str, relay: MailSink, tmp_path: Path
) -> None:
    """Every event is on the broker before the worker starts, so its batches mix the
    partitions. Each write to the case files and the ledger, deletions included (a
    partition holds more cases than its share: the oldest go), is on the partition of
    the case's events: a write elsewhere would come back wrong on the next restore."""
    per_partition = 40  # past a partition's share (33) of the 100 case files below
    relay.start()
    only = worker(bootstrap, relay, tmp_path / "only", {"ANTENNA_NOTIFY_MAX_CASES": "100"})
    traffic = Traffic(bootstrap)
    try:
        for number in range(per_partition):
            for partition in range(PARTITIONS):
                # Mostly unreachable employees: notices recorded as not sent, with the
                # batch. The newest cases (kept) mailed: notices sent, recorded at once.
                traffic.case(partition, reachable=number >= per_partition - 2)
        only.start("notifier")
        inputs = (topics.ROUTED_SERVICEDESK, topics.DELIVERED, topics.OUTCOMES)
        # Committed: every table write of every event is acknowledged.
        wait_until_processed(bootstrap, [("antenna-notifier", t) for t in inputs], timeout_s=120)
    finally:
        traffic.close()
        only.stop()

    def case_of(record: Any) -> str:
        key = json.loads(record.key)
        return str(key).split("|")[0]  # a ledger key: "<report's signal id>|<kind>"

    # Every case has its file written (committed: acknowledged by the broker).
    deadline = time.monotonic() + 30
    while True:
        files = records_until_now(bootstrap, CASES_CHANGELOG, lambda _r: True)
        missing = set(traffic.partitions) - {case_of(r) for r in files}
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not missing, Counter(traffic.partitions[case] for case in missing)
    entries = records_until_now(bootstrap, LEDGER_CHANGELOG, lambda _r: True)
    misplaced = [
        (r.topic, case_of(r), r.partition, traffic.partitions[case_of(r)])
        for r in files + entries
        if r.partition != traffic.partitions[case_of(r)]
    ]
    assert misplaced == [], f"{len(misplaced)} of {len(files + entries)} writes misplaced"
    for records in (files, entries):  # writes and deletions of both, in every partition
        counts = Counter((r.topic, r.partition, r.value is None) for r in records)
        assert {r.partition for r in records if r.value is not None} == set(range(PARTITIONS)), (
            counts
        )
        assert {r.partition for r in records if r.value is None} == set(range(PARTITIONS)), counts
    # The reachable employees were told (ticket and resolution).
    assert {e: len(s) for e, s in told(relay, traffic.emails).items()} == {
        e: 2 for e in traffic.emails
    }
