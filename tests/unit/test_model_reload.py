"""The processor follows the active model file (issue #9, part 3): after `antenna train
--activate` a running processor, and each of its forked classify workers, switches to the
new model without a restart; a file that cannot be loaded keeps the model in use and is
counted once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from schemas import Kind
from services.common.budget import ChildPool
from services.processor import metrics, model_file
from services.processor.classifier import classify, store
from services.processor.classifier.model import TrainedModels
from services.processor.classifier.store import Fingerprint, Reload, needs_reload

TEXT = "Her card was declined twice at the till today and she is furious."
LONG = 60.0


@pytest.fixture(scope="module")
def shipped() -> TrainedModels:
    """The shipped model (loading it takes a fraction of a second; training, seconds)."""
    version = store.active_version(store.SHIPPED_DIR)
    return store.load_model(store.SHIPPED_DIR / f"classifier-{version}.json")


def _leaning_to_opportunity(models: TrainedModels) -> TrainedModels:
    """The same model with the kind head pushed hard towards opportunity."""
    head = models.kind
    shift = np.where(np.array(head.classes) == Kind.opportunity.value, 50.0, 0.0)
    return replace(models, kind=replace(head, intercept=head.intercept + shift))


@pytest.fixture
def models_dir(
    shipped: TrainedModels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A model directory with v1 active, the process following it (checked on every call)."""
    monkeypatch.setenv("ANTENNA_CLASSIFIER_MODEL_DIR", str(tmp_path))
    monkeypatch.setattr(store, "_current", [])
    monkeypatch.setattr(store, "_follow", store._Follow())
    store.save_model(shipped, tmp_path, "v1", {})
    store.activate("v1", tmp_path)
    store.follow_active_model(1e-9)
    yield tmp_path


def _activate_leaning(shipped: TrainedModels, directory: Path, version: str = "v2") -> None:
    store.save_model(_leaning_to_opportunity(shipped), directory, version, {})
    store.activate(version, directory)


def _point_at(directory: Path, version: str) -> None:
    """Make ``version`` active without the check `activate` does (a file altered later)."""
    (directory / store.ACTIVE).write_text(json.dumps({"version": version}))


def test_the_decision() -> None:
    v2 = Fingerprint("v2", (1, 2))
    assert needs_reload("v1", v2, None)
    assert not needs_reload("v2", v2, None)  # already in use
    assert not needs_reload("v1", None, None)  # nothing active: keep what is in use
    assert not needs_reload("v1", v2, v2)  # refused already: not tried (nor counted) again
    assert needs_reload("v1", Fingerprint("v2", (1, 3)), v2)  # rewritten: tried again


def test_an_activated_model_changes_the_classification_without_a_restart(
    shipped: TrainedModels, models_dir: Path
) -> None:
    assert store.current_model().version == "v1"
    assert classify(TEXT).kind is not Kind.opportunity
    _activate_leaning(shipped, models_dir)
    after = classify(TEXT)
    assert after.kind is Kind.opportunity
    assert after.classifier_version.endswith("+v2")


def test_without_following_the_model_stays_until_a_reload(
    shipped: TrainedModels, models_dir: Path
) -> None:
    store.follow_active_model(0)  # as `antenna classify` and the evaluation run
    assert store.current_model().version == "v1"
    _activate_leaning(shipped, models_dir)
    assert classify(TEXT).kind is not Kind.opportunity
    assert store.reload_if_changed()[0] is Reload.reloaded
    assert classify(TEXT).kind is Kind.opportunity


def _refused() -> float:
    return metrics.MODEL_RELOADS.labels("refused")._value.get()  # type: ignore[no-any-return]


def test_a_bad_file_keeps_the_model_in_use_and_is_counted_once(
    shipped: TrainedModels, models_dir: Path
) -> None:
    store.follow_active_model(3600)  # only the service's timer checks, as in the processor
    assert store.current_model().version == "v1"
    store.save_model(shipped, models_dir, "v2", {})
    npz = models_dir / "classifier-v2.npz"
    good = npz.read_bytes()
    npz.write_bytes(b"truncated")
    _point_at(models_dir, "v2")
    refused = _refused()
    assert model_file.reload_if_changed() is Reload.refused
    assert model_file.reload_if_changed() is Reload.unchanged  # the same bad file: once
    assert _refused() == refused + 1
    assert store.current_model().version == "v1"
    npz.write_bytes(good)  # put right: a file written anew is tried again
    assert model_file.reload_if_changed() is Reload.reloaded
    assert store.current_model().version == "v2"


def model_version_in_worker() -> str:
    kind = classify(TEXT).kind
    return f"{store.current_model().version} {'lead' if kind is Kind.opportunity else 'no lead'}"


def test_a_forked_classify_worker_follows_the_active_file(
    shipped: TrainedModels, models_dir: Path
) -> None:
    model_file.follow(1e-9)
    workers = ChildPool(1, "classify")
    workers.start()  # forked with v1, as the processor forks them at start-up
    try:
        assert asyncio.run(workers.run(LONG, model_version_in_worker)) == "v1 no lead"
        _activate_leaning(shipped, models_dir)
        assert asyncio.run(workers.run(LONG, model_version_in_worker)) == "v2 lead"
    finally:
        workers.close()
