"""`antenna train`, the versioned model file and the model the processor loads (issue #9,
part 3): a file written and read back classifies alike, an altered or outdated file is
refused, the shipped file is what the shipped data and code make, and a new model is
compared with the current one before it is switched to."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
import pytest

from services.processor.classifier import classify_many, features, store
from services.processor.classifier import train as train_command
from services.processor.classifier.model import SETTINGS, TrainedModels, train
from services.processor.classifier.split import held_out_rows, is_held_out, train_rows

TEXTS = [
    ("Her card was declined twice at the till today.", None, "chat"),
    ("Mijn buurman wil een offerte voor zonnepanelen.", "nl", "form"),
    ("My laptop will not start, who do I call?", None, "email"),
]


@pytest.fixture(scope="module")
def small() -> TrainedModels:
    """A model of a few training rows: quick to train, enough to tell files apart."""
    return train(train_rows()[:160])


def _save(models: TrainedModels, directory: Path, version: str = "v1") -> Path:
    store.save_model(models, directory, version, {"note": "test"})
    return directory / f"classifier-{version}.json"


def test_a_model_file_read_back_classifies_exactly_alike(small, tmp_path: Path) -> None:
    loaded = store.load_model(_save(small, tmp_path))
    assert loaded.version == "v1"
    assert classify_many(TEXTS, loaded) == [
        (c.model_copy(update={"classifier_version": c.classifier_version + "+v1"}), topic)
        for c, topic in classify_many(TEXTS, small)
    ]
    x = small.matrix([t for t, _, _ in TEXTS], ["en", "nl", "en"])
    for head in ("kind", "category", "urgency"):
        ours, theirs = getattr(loaded, head), getattr(small, head)
        assert np.array_equal(ours.probabilities(x), theirs.probabilities(x))


def test_an_altered_or_foreign_file_is_refused(small, tmp_path: Path) -> None:
    manifest = _save(small, tmp_path)
    npz = manifest.with_suffix(".npz")
    altered = bytearray(npz.read_bytes())
    altered[len(altered) // 2] ^= 0xFF
    npz.write_bytes(bytes(altered))
    with pytest.raises(store.ModelFileError, match="sha256"):
        store.load_model(manifest)
    other = _save(small, tmp_path, "v2")
    data = json.loads(other.read_text())
    other.write_text(json.dumps({**data, "code_sha256": "0" * 64}))
    with pytest.raises(store.ModelFileError, match="other feature code"):
        store.load_model(other)
    other.write_text(json.dumps({**data, "format": 99}))
    with pytest.raises(store.ModelFileError, match="format"):
        store.load_model(other)


def test_the_processor_loads_the_active_file_and_reloads_it(
    small: TrainedModels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTENNA_CLASSIFIER_MODEL_DIR", str(tmp_path))
    monkeypatch.setattr(store, "_current", [])
    _save(small, tmp_path, "v1")
    store.activate("v1", tmp_path)
    assert store.current_model().version == "v1"
    _save(small, tmp_path, "v2")
    store.activate("v2", tmp_path, note="test")
    assert store.current_model().version == "v1"  # loaded once, until a reload
    assert store.reload_model().version == "v2"
    assert store.current_model().version == "v2"
    assert json.loads((tmp_path / store.ACTIVE).read_text())["previous"] == "v1"
    (tmp_path / "classifier-v2.npz").write_bytes(b"broken")
    with pytest.raises(store.ModelFileError):
        store.reload_model()
    assert store.current_model().version == "v2"  # a bad file leaves the model in use


def test_the_shipped_model_is_what_the_shipped_data_and_code_make() -> None:
    """`antenna train --dir services/processor/classifier/data/model --activate` after a
    change to the labelled data, the cues, the features or the settings."""
    version = store.active_version(store.SHIPPED_DIR)
    assert version is not None
    manifest = json.loads((store.SHIPPED_DIR / f"classifier-{version}.json").read_text())
    assert manifest["code_sha256"] == store.code_hash()
    assert manifest["training_data"] == train_command.data_hashes([])
    assert manifest["settings"] == SETTINGS.as_dict()
    assert manifest["n_rows"] == len(train_rows())
    assert manifest["operator_labels"] == {"train": 0, "held_out": 0}
    assert len(list(store.SHIPPED_DIR.glob("classifier-*.npz"))) == 1  # no stale files
    assert store.load_model(store.SHIPPED_DIR / f"classifier-{version}.json").version == version


def _args(directory: Path, *labels: Path, activate: bool = False) -> argparse.Namespace:
    return argparse.Namespace(
        dir=directory, labels=list(labels), activate=activate, force=False, tune=False
    )


@pytest.fixture
def quick_training(small, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """`antenna train` on a small slice of the rows, with ``small`` as the current model."""
    monkeypatch.setattr(train_command, "train_rows", lambda: train_rows()[:160])
    monkeypatch.setattr(train_command, "held_out_rows", lambda: held_out_rows()[:60])
    monkeypatch.setattr(store, "current_model", lambda: small)
    return tmp_path


def test_train_writes_a_versioned_file_and_compares_before_switching(quick_training) -> None:
    out = io.StringIO()
    assert train_command.run(_args(quick_training), out) == 0
    report = out.getvalue()
    assert "built-in" in report and "new" in report and "Not activated" in report
    (manifest,) = quick_training.glob("classifier-*.json")
    figures = json.loads(manifest.read_text())["figures"]["held-out rows"]
    assert set(figures) == {"new", "current"}
    assert figures["new"] == figures["current"]  # same rows, same model: not worse
    assert store.active_version(quick_training) is None
    assert train_command.run(_args(quick_training, activate=True), io.StringIO()) == 0
    assert store.active_version(quick_training) is not None


def test_a_worse_model_is_not_switched_to(quick_training, monkeypatch) -> None:
    monkeypatch.setattr(train_command, "not_worse", lambda new, current: False)
    out = io.StringIO()
    assert train_command.run(_args(quick_training, activate=True), out) == 1
    assert "Not activated: worse" in out.getvalue()
    assert store.active_version(quick_training) is None


def test_the_verdict_allows_noise_but_not_a_drop() -> None:
    current = {"macro_f1": 0.80, "accuracy_rest": 0.90}
    assert train_command.not_worse({"macro_f1": 0.797, "accuracy_rest": 0.90}, current)
    assert not train_command.not_worse({"macro_f1": 0.79, "accuracy_rest": 0.95}, current)
    assert not train_command.not_worse({"macro_f1": 0.85, "accuracy_rest": 0.89}, current)


def test_operator_labels_are_read_from_the_export_and_split_like_every_row(
    tmp_path: Path,
) -> None:
    lines = [
        {
            "id": f"operator:01JD6W2Q7X5N6G2M3K4P5R6S{i:02d}",
            "signal_id": f"01JD6W2Q7X5N6G2M3K4P5R6S{i:02d}",
            "language": "nl",
            "channel": "chat",
            "text": f"Onderwerp\nmelding nummer {i}",
            "kind": "complaint",
            "category": "payments_cards",
            "urgency": "high",
            "source": "operator",
            "labelled_at": "2026-11-03T09:12:44+00:00",
            "operator": "3f1c2a9be0d4471c88aa",
        }
        for i in range(40)
    ]
    path = tmp_path / "labels.jsonl"
    bad = '{"id": "operator:x", "text": "t", "kind": "praise", "category": "other"}'
    path.write_text("\n".join([*map(json.dumps, lines), bad, "not json"]) + "\n")
    err = io.StringIO()
    rows = train_command.read_labels([path], err)
    assert [row.id for row in rows] == [line["id"] for line in lines]
    assert rows[0].text == "Onderwerp\nmelding nummer 0" and rows[0].urgency == "high"
    assert err.getvalue().count("skipped") == 2
    held = [row for row in rows if row.held_out]
    assert 0 < len(held) < len(rows)  # the one split, on the export's id
    assert all(is_held_out(row.id) for row in held)


def test_a_model_file_brings_the_stems_of_its_words(
    small: TrainedModels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh process does not stem the training texts' words again: the file holds their
    stems, exactly what the stemmer makes, and loading it fills the stem cache."""
    manifest = _save(small, tmp_path)
    with np.load(manifest.with_suffix(".npz"), allow_pickle=False) as data:
        words = data["speller_words"].tolist()
        stems = {language: data[f"stems_{language}"].tolist() for language in store.STEMMED}
    fresh = features.Stemmer()
    for language, stemmed in stems.items():
        assert stemmed == [fresh(word, language) for word in words]
    empty = features.Stemmer()
    monkeypatch.setattr(features, "STEM", empty)
    monkeypatch.setattr(store, "STEM", empty)
    store.load_model(manifest)
    assert len(empty.cache) == len(store.STEMMED) * len(words)
    assert empty.cache[("nl", words[0])] == stems["nl"][0]
