"""A signal whose classification runs past ANTENNA_CLASSIFY_BUDGET_S is parked on
signals.dlq with that reason, and the partition goes on (issue #11, part 1).

Seen: the classify agent ran the text cleaning inline, so a hostile text held every
partition of its worker for as long as it took (about 20 s for the 50,000 characters the
API accepts), and nothing raised, so nothing reached the DLQ. The processor here runs on a
broker of its own (its consumer group must not share partitions with another test's
processor) with a budget no classification meets: every signal is parked, in order (one
key, so one partition; one classify worker, the default, keeps a partition's order).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from schemas import DeadLetter, Signal, new_signal_id, topics
from tests.support.kafka import produce, wait_for_records
from tests.support.services import Services, stack_on_own_broker

pytestmark = pytest.mark.integration

# Far below the time one call to a worker takes (pickling, a context switch, the work).
BUDGET_S = "0.0001"
SEEN = "Thanks\n" * 7_000 + "The customer's card was declined twice today at the shop."
KEY = b"one-partition"


def _signal(text: str) -> Signal:
    return Signal(
        signal_id=new_signal_id(),
        idempotency_key=new_signal_id(),
        channel="api",
        source="test",
        received_at=datetime.now(UTC),
        reporter={"employee_id": "e-1"},
        text=text,
    )


@pytest.fixture(scope="module")
def processor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var_dir: Path = tmp_path_factory.mktemp("budget")
    with stack_on_own_broker(
        var_dir, {"ANTENNA_CLASSIFY_BUDGET_S": BUDGET_S}, "processor"
    ) as stack:
        yield stack


def test_a_signal_over_the_classify_budget_is_parked_and_the_partition_goes_on(
    processor: Services,
) -> None:
    kafka = processor.env["KAFKA_BOOTSTRAP_SERVERS"]
    hostile, ordinary = _signal(SEEN), _signal("Her bank card was declined three times.")
    for signal in (hostile, ordinary):
        produce(kafka, topics.RAW, signal.model_dump_json().encode(), key=KEY)

    records = wait_for_records(kafka, topics.DLQ, lambda r: r.key == KEY, count=2)
    letters = [DeadLetter.model_validate_json(r.value) for r in records]
    parked = [Signal.model_validate_json(letter.payload) for letter in letters]
    assert parked == [hostile, ordinary]  # in order, and replayable as they were
    for letter in letters:
        assert letter.stage == "processor"
        assert letter.topic == topics.RAW
        assert "longer than its budget" in letter.error
        assert "ANTENNA_CLASSIFY_BUDGET_S" in letter.error
    assert letters[0].offset < letters[1].offset

    port = processor.env["ANTENNA_PROCESSOR_METRICS_PORT"]
    exported = httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text
    assert "antenna_classify_over_budget_total 2.0" in exported
    assert 'antenna_worker_ready{app="antenna-processor"} 1.0' in exported
