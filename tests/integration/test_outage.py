"""The service desk is down for 60 s while 50 complaints arrive. None is parked; the
destination shows as paused; once the desk is back all 50 are delivered once, in order.
(Workers joining and leaving during an outage: test_rebalance.py.)"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator

import httpx
import pytest

from schemas import DeliveryResult, DeliveryStatus, RoutedSignal, topics
from services.dlq import letter_from, read_topic
from tests.integration.test_pipeline import COMPLAINT, REPORTER, unique
from tests.support.desk import Desk, webhooks_to
from tests.support.services import API_KEY, WEBHOOK_SECRET, Services, stack_on_own_broker

pytestmark = pytest.mark.integration
OUTAGE_S = 60.0
SIGNALS = 50


@pytest.fixture(scope="module")
def stack(desk: Desk, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The whole pipeline on a broker of its own (its consumer groups must not meet the
    session pipeline's), delivering to the desk over signed webhooks."""
    var_dir = tmp_path_factory.mktemp("outage")
    with stack_on_own_broker(
        var_dir,
        {
            **webhooks_to(desk, WEBHOOK_SECRET),
            # Back within 2 s of the desk; the 72 h horizon and the rest as shipped.
            "ANTENNA_DELIVERY_MAX_DELAY_S": "2",
        },
        "ingest",
        "processor",
        "connectors",
    ) as services:
        yield services


def post(stack: Services, n: int) -> str:
    response = stack.post(
        {
            "text": unique(COMPLAINT),
            "reporter": REPORTER,
            "customer": {"name": f"Klant {chr(65 + n % 26)}{n}", "email": f"k{n}@example.com"},
        }
    )
    assert response.status_code == 202, response.text
    signal_id: str = response.json()["signal_id"]
    return signal_id


def metric(stack: Services, port_var: str, line: str) -> bool:
    url = f"http://127.0.0.1:{stack.env[port_var]}/"
    return line in httpx.get(url, timeout=5).text.splitlines()


def wait_for(what: str, check: object, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} not within {timeout_s}s"
        time.sleep(0.2)


def delivery_records(stack: Services, ids: set[str]) -> list[DeliveryResult]:
    bootstrap = [stack.env["KAFKA_BOOTSTRAP_SERVERS"]]
    return [
        result
        for r in read_topic(bootstrap, topics.DELIVERED)
        if (result := DeliveryResult.model_validate_json(r.value)).signal_id in ids
    ]


def status_of(stack: Services, signal_id: str) -> dict[str, object]:
    response = httpx.get(
        f"{stack.api}/v1/signals/{signal_id}",
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=5,
    )
    return response.json() if response.status_code == 200 else {}


def test_a_60_s_desk_outage_parks_nothing_and_delivers_all_50_once_in_order(
    stack: Services, desk: Desk
) -> None:
    warm_up = post(stack, 0)
    desk.wait_until("the warm-up ticket", lambda: warm_up in desk.tickets)

    desk.stop()
    down_at = time.monotonic()
    ids = [post(stack, n) for n in range(1, SIGNALS + 1)]
    wanted = set(ids)

    # The heads of the partitions wait, announced once as retrying; the desk is paused.
    wait_for(
        "a retrying result",
        lambda: any(r.status is DeliveryStatus.retrying for r in delivery_records(stack, wanted)),
    )
    waiting = next(
        r for r in delivery_records(stack, wanted) if r.status is DeliveryStatus.retrying
    )
    assert waiting.paused_since is not None and waiting.next_attempt_at is not None
    paused = 'antenna_destination_paused{destination="servicedesk"} 1.0'
    assert metric(stack, "ANTENNA_CONNECTORS_METRICS_PORT", paused)
    wait_for(
        "the status view saying retrying",
        lambda: (
            (status_of(stack, waiting.signal_id).get("delivery") or {}).get("status")  # type: ignore[union-attr]
            == "retrying"
        ),
    )

    # The desk stays down for the whole 60 s: that is the scenario, not a guess.
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
    during = delivery_records(stack, wanted)
    assert not [r for r in during if r.status in (DeliveryStatus.failed, DeliveryStatus.dead)]
    assert desk.tickets.keys() & wanted == set()

    desk.start()
    try:
        desk.wait_until("50 tickets", lambda: wanted <= desk.tickets.keys(), timeout_s=60)
    except AssertionError:
        raise AssertionError(_missing(stack, wanted - desk.tickets.keys())) from None

    # Once each: no second ticket, and nothing posted again after its ticket existed.
    assert len([k for k in desk.tickets if k in wanted]) == SIGNALS
    assert not [k for k in desk.redelivered if k in wanted]

    # The desk answers before the connectors publish: wait for the 50 results.
    def all_delivered() -> bool:
        results = delivery_records(stack, wanted)
        return {r.signal_id for r in results if r.status is DeliveryStatus.delivered} == wanted

    wait_for("50 delivered results", all_delivered, timeout_s=30)
    results = delivery_records(stack, wanted)
    assert not [r for r in results if r.status in (DeliveryStatus.failed, DeliveryStatus.dead)]
    bootstrap = [stack.env["KAFKA_BOOTSTRAP_SERVERS"]]
    letters = [
        letter_from(r.partition, r.offset, r.value) for r in read_topic(bootstrap, topics.DLQ)
    ]
    assert not [x for x in letters if x is not None and x.signal_id in wanted]
    # Announced when a partition's head starts waiting, never per attempt.
    retrying = [r for r in results if r.status is DeliveryStatus.retrying]
    assert 1 <= len(retrying) <= 3

    # In order: within each partition, tickets were opened in the partition's order.
    place: dict[str, tuple[str, int, int]] = {}
    for topic in (topics.ROUTED_SERVICEDESK, topics.DUPLICATES):
        for r in read_topic(bootstrap, topic):
            signal_id = RoutedSignal.model_validate_json(r.value).signal.signal_id
            if signal_id in wanted:
                place[signal_id] = (topic, r.partition, r.offset)
    assert place.keys() == wanted
    opened = [k for k in desk.tickets if k in wanted]
    by_partition: dict[tuple[str, int], list[int]] = defaultdict(list)
    for signal_id in opened:
        topic, partition, offset = place[signal_id]
        by_partition[(topic, partition)].append(offset)
    for offsets in by_partition.values():
        assert offsets == sorted(offsets)

    resumed = 'antenna_destination_paused{destination="servicedesk"} 0.0'
    wait_for(
        "the desk shown resumed", lambda: metric(stack, "ANTENNA_CONNECTORS_METRICS_PORT", resumed)
    )


def _missing(stack: Services, missing: set[str]) -> str:
    """Where the signals the desk never got are, for the failure report."""
    from kafka import KafkaConsumer, TopicPartition

    bootstrap = [stack.env["KAFKA_BOOTSTRAP_SERVERS"]]
    where = []
    for topic in (topics.ROUTED_SERVICEDESK, topics.DUPLICATES, topics.TRIAGE, topics.ROUTED_CRM):
        for r in read_topic(bootstrap, topic):
            routed = RoutedSignal.model_validate_json(r.value)
            if routed.signal.signal_id in missing:
                where.append(f"{routed.signal.signal_id} {topic}:{r.partition}@{r.offset}")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id="antenna-connectors")
    try:
        committed = {
            f"{t}:{p}": consumer.committed(TopicPartition(t, p))
            for t in (topics.ROUTED_SERVICEDESK, topics.DUPLICATES)
            for p in range(3)
        }
    finally:
        consumer.close()
    return f"{len(missing)} never reached the desk: {where}; committed: {committed}"
