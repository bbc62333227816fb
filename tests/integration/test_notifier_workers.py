"""The notifier while its workers change, with the relay down: a second worker joins
(a rebalance), or the worker is killed (kill -9) and started again. Once the relay is
back, every notice (a ticket's, and its resolution's) reaches its employee exactly once.

The notices wait for the relay, so nothing is committed on the input partitions: the
case Faust 0.15.3 handles worst around a rebalance (records it fetched are dropped, and
its seek to "no committed offset" does nothing; services/common/offsets.py). Passing
events keep arriving while the workers change, so that fetches complete meanwhile."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

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
from tests.support.mail_sink import MailSink
from tests.support.services import Services, service_env, wait_for

pytestmark = pytest.mark.integration
PARTITIONS = 3
PER_PARTITION = 3
NOISE_S = 0.02


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


def worker(bootstrap: str, relay: MailSink, var_dir: Path) -> Services:
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
        self._stop = threading.Event()
        self._noise: threading.Thread | None = None

    def send(self, topic: str, key: str, value: bytes, partition: int) -> None:
        self.producer.send(topic, key=key.encode(), value=value, partition=partition).get(10)

    def case(self, partition: int) -> None:
        email = f"employee-{uuid.uuid4().hex[:12]}@bank.example.com"
        self.emails.append(email)
        routed = build_routed(
            build_signal(reporter={"employee_id": f"E-{uuid.uuid4().hex[:8]}", "email": email}),
            destination=Destination(name="servicedesk"),
            routed_at=datetime.now(UTC),
        )
        case_id, record = routed.signal.signal_id, str(len(self.emails))
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
