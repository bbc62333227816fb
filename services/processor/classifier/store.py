"""Versioned model files: write, read, activate, and the model the processor uses.

`antenna train` writes two files into the model directory (``$ANTENNA_CLASSIFIER_MODEL_DIR``,
default ``$ANTENNA_VAR_DIR/models``, i.e. ``var/models``):

- ``classifier-<version>.npz``: the arrays (vocabularies, idf weights, the heads' weights,
  the speller's words and their Dutch and English stems, so that a fresh process need not
  stem them again), read with ``allow_pickle=False``: loading a file runs no code, so a
  file from elsewhere can at worst classify badly, never take over the process;
- ``classifier-<version>.json``: the manifest: version, when, the hyperparameters, the
  sha256 of the training data and of the .npz (checked on load), and the evaluation.

``active.json`` names the version in use. ``current_model()`` loads it once per process
(the processor at start-up, before it forks its classify workers); ``reload_model()``
loads it again, and a process that follows the active file (``follow_active_model``: the
processor and each of its classify workers) switches to a newly activated file by itself,
looking at most every ``ANTENNA_MODEL_RELOAD_INTERVAL_S``. Without an active file in the
model directory the shipped model is loaded (``data/model/``: what `antenna train` makes
from the TRAIN split of the shipped labelled data; ``tests/unit/test_model_file.py``
fails when it is stale), and only without that the model is trained at start-up (seconds,
not milliseconds).

A model file is tied to the code that turns text into features (``CODE_FILES``): its
manifest holds their sha256, and a file made by other feature code is refused, since its
columns would no longer mean what they meant when it was trained.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from services.processor.classifier.features import STEM, Block, CharBlock, Features
from services.processor.classifier.model import Head, Settings, Speller, TrainedModels

FORMAT = 2  # 2: with the stems of the speller's words
STEMMED = ("nl", "en")  # the languages whose stems a model file holds
ACTIVE = "active.json"
SHIPPED_DIR = Path(__file__).parent / "data" / "model"
_HERE = Path(__file__).parent
# The code a model's columns depend on: the cues, the feature blocks, the speller.
CODE_FILES = (_HERE / "cues.py", _HERE / "features.py", _HERE / "model.py")


@cache
def code_hash() -> str:
    """sha256 over the sources of ``CODE_FILES``."""
    digest = hashlib.sha256()
    for path in CODE_FILES:
        digest.update(path.read_bytes())
    return digest.hexdigest()


class ModelFileError(ValueError):
    """A model file that cannot be used: missing, altered, or of another format."""


def model_dir() -> Path:
    explicit = os.environ.get("ANTENNA_CLASSIFIER_MODEL_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("ANTENNA_VAR_DIR") or "var") / "models"


@dataclass(frozen=True)
class ModelFile:
    version: str
    npz: Path
    manifest: dict[str, Any]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _arrays(models: TrainedModels) -> dict[str, Any]:
    f = models.features
    words = sorted(f.words.vocabulary, key=f.words.vocabulary.__getitem__)
    chars = sorted(f.chars.block.vocabulary, key=f.chars.block.vocabulary.__getitem__)
    speller = sorted(models.speller.counts)
    arrays: dict[str, Any] = {
        "words": np.array(words, dtype=str),
        "words_idf": f.words.idf,
        "chars": np.array(chars, dtype=str),
        "chars_idf": f.chars.block.idf,
        "cue_names": np.array(f.cue_names, dtype=str),
        "speller_words": np.array(speller, dtype=str),
        "speller_counts": np.array([models.speller.counts[w] for w in speller], dtype=np.int64),
    }
    for language in STEMMED:
        arrays[f"stems_{language}"] = np.array([STEM(w, language) for w in speller], dtype=str)
    for name in ("kind", "category", "urgency"):
        head: Head = getattr(models, name)
        arrays[f"{name}_classes"] = np.array(head.classes, dtype=str)
        arrays[f"{name}_weights"] = head.weights
        arrays[f"{name}_intercept"] = head.intercept
        arrays[f"{name}_beta"] = np.array([head.beta])
    return arrays


def save_model(
    models: TrainedModels, directory: Path, version: str, manifest: dict[str, Any]
) -> ModelFile:
    """Write ``classifier-<version>.npz`` and its manifest; return what was written."""
    directory.mkdir(parents=True, exist_ok=True)
    npz = directory / f"classifier-{version}.npz"
    tmp = npz.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **_arrays(models))
    tmp.replace(npz)
    full = {
        "format": FORMAT,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": models.settings.as_dict(),
        "n_rows": models.n_rows,
        "code_sha256": code_hash(),
        **manifest,
        "npz": npz.name,
        "npz_sha256": _sha256(npz),
    }
    path = directory / f"classifier-{version}.json"
    path.write_text(json.dumps(full, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return ModelFile(version, npz, full)


def load_model(path: Path) -> TrainedModels:
    """The model of a manifest (``classifier-<version>.json``) or of its .npz."""
    manifest_path = path.with_suffix(".json") if path.suffix == ".npz" else path
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"cannot read {manifest_path}: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise ModelFileError(f"{manifest_path}: format {manifest.get('format')}, not {FORMAT}")
    if manifest.get("code_sha256") != code_hash():
        raise ModelFileError(f"{manifest_path} was made by other feature code: retrain")
    npz = manifest_path.parent / manifest["npz"]
    if not npz.is_file() or _sha256(npz) != manifest["npz_sha256"]:
        raise ModelFileError(f"{npz} is missing or does not match its manifest's sha256")
    with np.load(npz, allow_pickle=False) as data:
        a = {key: data[key] for key in data.files}
    settings = Settings(**manifest["settings"])
    words = Block(_columns(a["words"]), a["words_idf"])
    chars = Block(_columns(a["chars"]), a["chars_idf"])
    features = Features(
        words,
        CharBlock(chars),
        tuple(str(name) for name in a["cue_names"]),
        settings.cue_scale,
        settings.negation,
    )
    heads = {
        name: Head(
            tuple(str(c) for c in a[f"{name}_classes"]),
            np.ascontiguousarray(a[f"{name}_weights"]),
            a[f"{name}_intercept"],
            float(a[f"{name}_beta"][0]),
        )
        for name in ("kind", "category", "urgency")
    }
    speller_words = a["speller_words"].tolist()
    speller = Speller(dict(zip(speller_words, a["speller_counts"].tolist(), strict=True)))
    for language in STEMMED:
        STEM.preload(language, speller_words, a[f"stems_{language}"].tolist())
    return TrainedModels(
        features=features,
        speller=speller,
        kind=heads["kind"],
        category=heads["category"],
        urgency=heads["urgency"],
        n_rows=int(manifest["n_rows"]),
        settings=settings,
        feature_names=tuple(features.names()),
        version=str(manifest["version"]),
    )


def _columns(terms: Any) -> dict[str, int]:
    """A vocabulary from its terms in column order."""
    listed = terms.tolist()
    return dict(zip(listed, range(len(listed)), strict=True))


def model_files(directory: Path | None = None) -> list[ModelFile]:
    """The model files in ``directory``, oldest first."""
    directory = directory or model_dir()
    files = []
    for path in sorted(directory.glob("classifier-*.json")):
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            files.append(ModelFile(manifest["version"], path.with_suffix(".npz"), manifest))
        except (OSError, ValueError, KeyError):
            continue
    return sorted(files, key=lambda f: (f.manifest.get("created_at", ""), f.version))


def active_version(directory: Path | None = None) -> str | None:
    path = (directory or model_dir()) / ACTIVE
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return None


def activate(version: str, directory: Path | None = None, note: str = "") -> None:
    """Make ``version`` the one ``current_model()`` loads (written atomically)."""
    directory = directory or model_dir()
    load_model(directory / f"classifier-{version}.json")  # refuse what cannot be loaded
    pointer = {
        "version": version,
        "activated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "previous": active_version(directory),
        "note": note,
    }
    tmp = directory / (ACTIVE + ".tmp")
    tmp.write_text(json.dumps(pointer, indent=2) + "\n", encoding="utf-8")
    tmp.replace(directory / ACTIVE)


_lock = threading.Lock()
_current: list[TrainedModels] = []


@dataclass(frozen=True)
class Fingerprint:
    """What the active pointer names, and when that file was written: a file rewritten
    under the same name is another file."""

    version: str
    written_ns: tuple[int, ...]


def active_fingerprint(directory: Path | None = None) -> Fingerprint | None:
    """The active model file's fingerprint; None without an active file."""
    directory = directory or model_dir()
    version = active_version(directory)
    if version is None:
        return None
    stamps = []
    for path in (directory / f"classifier-{version}.json", directory / f"classifier-{version}.npz"):
        try:
            stamps.append(path.stat().st_mtime_ns)
        except OSError:
            stamps.append(-1)
    return Fingerprint(version, tuple(stamps))


def needs_reload(loaded: str, active: Fingerprint | None, refused: Fingerprint | None) -> bool:
    """Load the active file again when it names another version than the one in use,
    unless that very file was refused already (it is tried again once it changes). No
    active file (deactivated, or the directory gone): the model in use stays."""
    return active is not None and active.version != loaded and active != refused


class Reload(StrEnum):
    unchanged = "unchanged"
    reloaded = "reloaded"
    refused = "refused"


@dataclass
class _Follow:
    interval_s: float = 0.0  # 0: load once and keep it (offline commands, evaluation)
    next_check: float = 0.0
    refused: Fingerprint | None = None  # the last file that could not be loaded


_follow = _Follow()


def follow_active_model(interval_s: float) -> None:
    """From now on ``current_model()`` looks at the active pointer at most every
    ``interval_s`` seconds and switches to a newly activated file (the processor, after
    `antenna train --activate`). Called before the classify workers fork, so that each
    of them follows the file too: they load the new model on their next signal."""
    _follow.interval_s = interval_s
    _follow.next_check = time.monotonic() + interval_s


def reload_if_changed() -> tuple[Reload, str]:
    """Switch to the active model file if it changed (``needs_reload``); a file that cannot
    be loaded leaves the model in use and is reported once: (refused, why)."""
    active = active_fingerprint()
    if not needs_reload(_in_use().version, active, _follow.refused):
        return Reload.unchanged, ""
    try:
        reload_model()
    except ModelFileError as exc:
        _follow.refused = active
        return Reload.refused, str(exc)
    return Reload.reloaded, ""


def current_model() -> TrainedModels:
    """The model in use: the active model file, else the built-in model (trained once
    per process from the shipped labelled data). Following (``follow_active_model``), a
    newly activated file replaces it, looked for at most every interval."""
    if _follow.interval_s and time.monotonic() >= _follow.next_check:
        _follow.next_check = time.monotonic() + _follow.interval_s
        reload_if_changed()
    return _in_use()


def _in_use() -> TrainedModels:
    if not _current:
        with _lock:
            if not _current:
                _current.append(_load_active())
    return _current[0]


def reload_model() -> TrainedModels:
    """Load the active model file again (after `antenna train --activate`). A file that
    cannot be loaded leaves the model in use unchanged, and raises."""
    models = _load_active(strict=True)
    with _lock:
        _current[:] = [models]
    return models


def _load_active(strict: bool = False) -> TrainedModels:
    """The active model of the model directory, else the shipped one, else trained now."""
    for directory in (model_dir(), SHIPPED_DIR):
        version = active_version(directory)
        if version is None:
            continue
        try:
            return load_model(directory / f"classifier-{version}.json")
        except ModelFileError:
            if strict and directory != SHIPPED_DIR:
                raise
    return builtin_model()


@cache
def builtin_model() -> TrainedModels:
    """Trained on the TRAIN split of both shipped labelled sources, never on held-out rows."""
    from services.processor.classifier.model import train
    from services.processor.classifier.split import train_rows

    return train(train_rows())
