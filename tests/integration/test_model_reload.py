"""A running processor switches to a newly activated classifier model file without a
restart (issue #9, part 3): `antenna train --activate` used to need a restart, because the
classify workers are forked at start-up with the model of that moment.

The processor runs on a broker of its own with a model directory of its own. Two model
files are made from the shipped one, one pushed hard towards complaint, one towards
opportunity, so that which of them classified a signal shows in its kind and route.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest

from schemas import Kind, RoutedSignal, Signal, new_signal_id, topics
from services.processor.classifier import store
from services.processor.classifier.model import TrainedModels
from tests.support.builders import build_signal
from tests.support.kafka import produce, wait_for_records
from tests.support.services import Services, stack_on_own_broker, wait_for

pytestmark = pytest.mark.integration
RELOAD_INTERVAL_S = 0.2


def _leaning(models: TrainedModels, kind: Kind) -> TrainedModels:
    head = models.kind
    shift = np.where(np.array(head.classes) == kind.value, 50.0, 0.0)
    return replace(models, kind=replace(head, intercept=head.intercept + shift))


def _signal(text: str, reporter: str) -> Signal:
    """Another reporter each, and now: dedupe sees no reason to join the two."""
    return build_signal(
        idempotency_key=new_signal_id(),
        received_at=datetime.now(UTC),
        reporter={"employee_id": reporter},
        text=text,
    )


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("models")
    shipped = store.load_model(
        store.SHIPPED_DIR / f"classifier-{store.active_version(store.SHIPPED_DIR)}.json"
    )
    store.save_model(_leaning(shipped, Kind.complaint), directory, "complaints", {})
    store.save_model(_leaning(shipped, Kind.opportunity), directory, "leads", {})
    store.activate("complaints", directory)
    return directory


@pytest.fixture(scope="module")
def processor(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Services]:
    var_dir = tmp_path_factory.mktemp("reload")
    env = {
        "ANTENNA_CLASSIFIER_MODEL_DIR": str(models_dir),
        "ANTENNA_MODEL_RELOAD_INTERVAL_S": str(RELOAD_INTERVAL_S),
    }
    with stack_on_own_broker(var_dir, env, "processor") as stack:
        yield stack


def _routed(kafka: str, topic: str, signal: Signal) -> RoutedSignal:
    [record] = wait_for_records(kafka, topic, lambda r: signal.signal_id.encode() == r.key)
    return RoutedSignal.model_validate_json(record.value)


def test_an_activated_model_classifies_the_next_signals_without_a_restart(
    processor: Services, models_dir: Path
) -> None:
    kafka = processor.env["KAFKA_BOOTSTRAP_SERVERS"]
    before = _signal("The customer's new boiler was installed last week.", "e-1")
    produce(kafka, topics.RAW, before.model_dump_json().encode(), key=before.signal_id.encode())
    routed = _routed(kafka, topics.ROUTED_SERVICEDESK, before)
    # The classify worker looked at the active file at most this long ago (it looks at
    # most every interval): after the interval its next signal looks again. The pipeline
    # (batches) can bring the next signal sooner than that.
    looked_by = time.monotonic() + RELOAD_INTERVAL_S
    assert routed.classification.kind is Kind.complaint
    assert routed.classification.classifier_version.endswith("+complaints")
    process = processor.procs["processor"]

    store.activate("leads", models_dir)  # what `antenna train --activate` does last
    wait_for(lambda: time.monotonic() >= looked_by, "the model reload interval passed")
    after = _signal("My neighbour talked about her energy contract at the weekend.", "e-2")
    produce(kafka, topics.RAW, after.model_dump_json().encode(), key=after.signal_id.encode())
    routed = _routed(kafka, topics.ROUTED_CRM, after)
    assert routed.classification.kind is Kind.opportunity
    assert routed.classification.classifier_version.endswith("+leads")
    assert processor.procs["processor"] is process and process.poll() is None  # no restart

    port = processor.env["ANTENNA_PROCESSOR_METRICS_PORT"]

    def reloaded() -> bool:
        exported = httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text
        return 'antenna_classifier_model_reloads_total{outcome="reloaded"} 1.0' in exported

    wait_for(reloaded, "the service process's reload counted")
