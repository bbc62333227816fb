"""The connectors alone on a broker of their own, fed RoutedSignals directly: the dead
path (a 4xx ends on signals.delivered plus signals.dlq, and `antenna dlq replay` brings
it back once), the horizon, a bad payload that cannot hold up its destination, poison on
every input topic, a connector killed mid-delivery, and the ledger's expiry and capacity."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer

from schemas import DeadLetter, DeliveryResult, DeliveryStatus, Destination, RoutedSignal, topics
from tests.support.builders import build_routed
from tests.support.desk import Desk, webhooks_to
from tests.support.kafka import wait_for_records
from tests.support.services import WEBHOOK_SECRET, Services, stack_on_own_broker

pytestmark = pytest.mark.integration
HORIZON_S = 10.8  # ANTENNA_DELIVERY_HORIZON_HOURS below
WINDOW_S = 26.0  # ANTENNA_DEDUPE_WINDOW_DAYS below
LEDGER_CAPACITY = 100  # ANTENNA_DELIVERY_LEDGER_MAX_ENTRIES below: 33 per partition
LEDGER_CHANGELOG = "antenna-connectors-delivery-ledger-changelog"


@pytest.fixture(scope="module")
def stack(desk: Desk, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var_dir = tmp_path_factory.mktemp("delivery-paths")
    with stack_on_own_broker(
        var_dir,
        {
            **webhooks_to(desk, WEBHOOK_SECRET),
            "ANTENNA_DELIVERY_MAX_DELAY_S": "0.5",
            "ANTENNA_DELIVERY_MAX_ATTEMPTS": "3",
            "ANTENNA_DELIVERY_HORIZON_HOURS": str(HORIZON_S / 3600),
            "ANTENNA_DEDUPE_WINDOW_DAYS": str(WINDOW_S / 86400),
            "ANTENNA_DELIVERY_LEDGER_MAX_ENTRIES": str(LEDGER_CAPACITY),
        },
        "connectors",
    ) as services:
        yield services


def bootstrap_of(stack: Services) -> str:
    return stack.env["KAFKA_BOOTSTRAP_SERVERS"]


def send(
    stack: Services,
    routed: RoutedSignal,
    topic: str = topics.ROUTED_SERVICEDESK,
    partition: int | None = None,
    value: bytes | None = None,
    key: bytes | None = None,
) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap_of(stack), acks="all")
    try:
        producer.send(
            topic,
            key=key if key is not None else routed.signal.signal_id.encode(),
            value=value if value is not None else routed.model_dump_json().encode(),
            partition=partition,
        ).get(timeout=10)
    finally:
        producer.close()


def results_for(stack: Services, signal_id: str, count: int = 1, **kw: Any) -> list[DeliveryResult]:
    records = wait_for_records(
        bootstrap_of(stack), topics.DELIVERED, lambda r: r.key == signal_id.encode(), count, **kw
    )
    return [DeliveryResult.model_validate_json(r.value) for r in records]


def letters_for(stack: Services, signal_id: str, count: int = 1) -> list[tuple[str, DeadLetter]]:
    records = wait_for_records(
        bootstrap_of(stack),
        topics.DLQ,
        lambda r: r.key == signal_id.encode(),
        count,
    )
    return [(f"{r.partition}-{r.offset}", DeadLetter.model_validate_json(r.value)) for r in records]


def metric(stack: Services, name: str, **labels: str) -> float:
    port = stack.env["ANTENNA_CONNECTORS_METRICS_PORT"]
    text = httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    match = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def wait_for(what: str, check: Any, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout_s}s")
        time.sleep(0.1)


def antenna_dlq(stack: Services, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "dlq", *args],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_4xx_ends_on_delivered_and_dlq_and_a_replay_delivers_it_once(
    stack: Services, desk: Desk
) -> None:
    routed = build_routed()
    signal_id = routed.signal.signal_id
    desk.answers[signal_id] = 422
    send(stack, routed)

    [result] = results_for(stack, signal_id)
    assert (result.status, result.attempts) == (DeliveryStatus.dead, 1)
    assert result.error is not None and "HTTP 422" in result.error
    [(letter_id, letter)] = letters_for(stack, signal_id)
    assert (letter.destination, letter.status, letter.stage) == (
        "servicedesk",
        DeliveryStatus.dead,
        "connectors/servicedesk",
    )
    assert letter.topic == topics.ROUTED_SERVICEDESK
    assert RoutedSignal.model_validate_json(letter.payload) == routed
    assert letter_id in antenna_dlq(stack, "list", "--destination", "servicedesk")

    # The desk is fixed; the operator replays the letter: one ticket.
    del desk.answers[signal_id]
    out = antenna_dlq(stack, "replay", "--id", letter_id)
    assert f"replayed {letter_id} -> {topics.ROUTED_SERVICEDESK}" in out
    delivered = results_for(stack, signal_id, count=2)[-1]
    assert delivered.status is DeliveryStatus.delivered
    assert delivered.external_id == desk.tickets[signal_id]
    assert letter_id not in antenna_dlq(stack, "list")  # superseded by the delivery

    # Replaying again is refused; forced, it reaches the connectors and creates nothing.
    assert "delivered since" in antenna_dlq(stack, "replay", "--id", letter_id)
    skipped = metric(stack, "antenna_deliveries_skipped_total", destination="servicedesk")
    antenna_dlq(stack, "replay", "--id", letter_id, "--again")
    wait_for(
        "the second replay consumed",
        lambda: (
            metric(stack, "antenna_deliveries_skipped_total", destination="servicedesk") > skipped
        ),
    )
    assert [a.status for a in desk.attempts_for(signal_id)] == [422, 201]
    assert list(desk.tickets).count(signal_id) == 1


def test_past_the_horizon_an_unreachable_signal_is_failed_on_delivered_and_dlq(
    stack: Services, desk: Desk
) -> None:
    routed = build_routed(destination=Destination(name="crm"))
    signal_id = routed.signal.signal_id
    desk.answers[signal_id] = 503
    send(stack, routed, topic=topics.ROUTED_CRM)

    retrying = results_for(stack, signal_id)[0]  # announced once, not per attempt
    assert retrying.status is DeliveryStatus.retrying and retrying.paused_since is not None
    wait_for(
        "crm shown paused",
        lambda: metric(stack, "antenna_destination_paused", destination="crm") == 1,
    )
    since = metric(stack, "antenna_destination_paused_since_seconds", destination="crm")
    assert abs(since - retrying.paused_since.timestamp()) < 1

    failed = results_for(stack, signal_id, count=2, timeout_s=HORIZON_S + 30)[-1]
    assert failed.status is DeliveryStatus.failed
    assert failed.attempts > 3  # an outage is not judged a bad payload
    assert failed.error is not None and "horizon" in failed.error
    [(_, letter)] = letters_for(stack, signal_id)
    assert (letter.status, letter.destination) == (DeliveryStatus.failed, "crm")
    assert metric(stack, "antenna_destination_paused", destination="crm") == 0
    del desk.answers[signal_id]


def test_a_bad_payload_is_set_aside_and_its_partition_goes_on(stack: Services, desk: Desk) -> None:
    bad, good, behind = build_routed(), build_routed(), build_routed()
    desk.answers[bad.signal.signal_id] = 500
    send(stack, bad, partition=0)
    send(stack, behind, partition=0)
    # Without evidence it is an outage: it keeps trying, and what is behind it waits.
    desk.wait_until("three attempts", lambda: len(desk.attempts_for(bad.signal.signal_id)) >= 3)
    assert desk.attempts_for(behind.signal.signal_id) == []
    send(stack, good, partition=1)  # another partition of the same destination gets through
    [delivered] = results_for(stack, good.signal.signal_id)
    assert delivered.status is DeliveryStatus.delivered

    parked = [
        r for r in results_for(stack, bad.signal.signal_id, count=2) if r.status != "retrying"
    ]
    assert parked[0].status is DeliveryStatus.dead
    assert parked[0].error is not None and "other signals" in parked[0].error
    [(_, letter)] = letters_for(stack, bad.signal.signal_id)
    assert letter.status is DeliveryStatus.dead
    [after] = results_for(stack, behind.signal.signal_id)
    assert after.status is DeliveryStatus.delivered
    del desk.answers[bad.signal.signal_id]


@pytest.mark.parametrize("topic", [topics.ROUTED_SERVICEDESK, topics.ROUTED_CRM, topics.DUPLICATES])
def test_poison_on_an_input_topic_is_parked_and_the_partition_goes_on(
    stack: Services, desk: Desk, topic: str
) -> None:
    routed = build_routed()
    poison_key = f"poison-{routed.signal.signal_id}".encode()
    for value in (b"\xff\xfe not json", json.dumps({"signal": {"signal_id": "x"}}).encode()):
        send(stack, routed, topic=topic, partition=2, key=poison_key, value=value)
    if topic == topics.ROUTED_CRM:
        routed = build_routed(routed.signal, destination=Destination(name="crm"))
    send(stack, routed, topic=topic, partition=2)
    letters = wait_for_records(
        bootstrap_of(stack), topics.DLQ, lambda r: r.key == poison_key, count=2
    )
    for record in letters:
        letter = DeadLetter.model_validate_json(record.value)
        assert (letter.stage, letter.topic) == ("connectors", topic)
        assert "not a valid RoutedSignal" in letter.error
    [result] = results_for(stack, routed.signal.signal_id)
    assert result.status is DeliveryStatus.delivered


def test_a_connector_killed_mid_delivery_delivers_once_after_restart(
    stack: Services, desk: Desk
) -> None:
    routed = build_routed()
    signal_id = routed.signal.signal_id
    release = threading.Event()
    desk.held[signal_id] = release
    try:
        send(stack, routed)
        # The request has reached the desk, which has not answered yet: kill the worker.
        desk.wait_until("the request at the desk", lambda: signal_id in desk.arrived)
        stack.kill("connectors")
    finally:
        release.set()
    desk.wait_until("the ticket opened", lambda: signal_id in desk.tickets)
    stack.start("connectors")
    [result] = results_for(stack, signal_id)
    assert result.status is DeliveryStatus.delivered
    assert result.external_id == desk.tickets[signal_id]
    # Delivered again after the restart (the offset was not committed), and the desk's
    # Idempotency-Key check kept it one ticket.
    assert [a.status for a in desk.attempts_for(signal_id)] == [201, 200]
    assert desk.redelivered.count(signal_id) == 1
    del desk.held[signal_id]


def test_ledger_entries_expire_with_the_dedupe_window(stack: Services) -> None:
    first = build_routed()
    send(stack, first, partition=1)
    [result] = results_for(stack, first.signal.signal_id)
    assert result.status is DeliveryStatus.delivered
    key = json.dumps(first.signal.signal_id).encode()  # Faust's JSON table key
    deadline = time.monotonic() + WINDOW_S + 60
    while True:
        # Expiry runs on the partition's own events: keep them coming.
        send(stack, build_routed(), partition=1)
        try:
            written = wait_for_records(
                bootstrap_of(stack), LEDGER_CHANGELOG, lambda r: r.key == key, 2, timeout_s=3
            )
        except AssertionError:  # not yet: only the entry itself
            assert time.monotonic() < deadline, "no tombstone for the expired ledger entry"
            continue
        assert written[-1].value is None
        return


def test_a_partition_past_its_share_of_the_ledger_forgets_its_oldest_delivery_early(
    stack: Services,
) -> None:
    """Memory stays bounded within the window: once partition 2 holds more than its share
    (LEDGER_CAPACITY / 3), its oldest delivery is deleted before its window ends."""
    first = build_routed()
    send(stack, first, partition=2)
    [result] = results_for(stack, first.signal.signal_id)
    assert result.status is DeliveryStatus.delivered
    key = json.dumps(first.signal.signal_id).encode()  # Faust's JSON table key
    producer = KafkaProducer(bootstrap_servers=bootstrap_of(stack), acks="all")
    try:
        for _ in range(LEDGER_CAPACITY // 3 + 5):
            routed = build_routed()
            value, signal_key = routed.model_dump_json().encode(), routed.signal.signal_id.encode()
            producer.send(topics.ROUTED_SERVICEDESK, value, signal_key, partition=2)
        producer.flush(timeout=10)
    finally:
        producer.close()
    written, deleted = wait_for_records(
        bootstrap_of(stack), LEDGER_CHANGELOG, lambda r: r.key == key, 2, timeout_s=60
    )[:2]
    assert written.value is not None and deleted.value is None
    # Deleted for the capacity: the window (WINDOW_S) had not passed yet.
    assert deleted.timestamp - written.timestamp < WINDOW_S * 1000
