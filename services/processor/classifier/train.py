"""`antenna train`: retrain the classifier offline, write a versioned model file, compare it
with the model in use, and switch only when it is not worse.

    antenna train [--labels FILE ...] [--activate [--force]] [--tune] [--dir DIR]

(The arguments are registered in services/cli.py, which imports this module only to run it.)

Training data: the TRAIN split of the shipped labelled files (``split.py``), plus operator
labels (``--labels``, JSON lines, see ``read_labels``). Operator labels are split by the
same function as the shipped rows (a hash of the signal id): a quarter is held out and only
scored, so the comparison also measures the new labels' kind of text.

The report compares the new model with the current one (the active model file, else the
built-in model) on the same held-out rows: macro-F1, accuracy, the share sent to triage and
the accuracy of the rest. ``--activate`` makes the new file the active one if its macro-F1
is not lower by more than ``TOLERANCE`` and its accuracy outside triage not lower by more
than ``TOLERANCE`` (``--force`` switches anyway); a running processor picks it up on
its next look at the active file (``ANTENNA_MODEL_RELOAD_INTERVAL_S``), no restart needed.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from schemas import Category, Kind, Urgency
from services.processor.classifier import store
from services.processor.classifier.model import SETTINGS, Settings, TrainedModels, train
from services.processor.classifier.split import (
    DATA_DIR,
    DATA_FILES,
    DEDUPE_FILE,
    LabelledSignal,
    held_out_rows,
    is_held_out,
    train_rows,
)

OPERATOR = "operator"
TOLERANCE = 0.005
KINDS = {kind.value for kind in Kind}
CATEGORIES = {category.value for category in Category}
URGENCIES = {urgency.value for urgency in Urgency}


class LabelError(ValueError):
    pass


def label_row(raw: dict[str, Any]) -> LabelledSignal:
    """One operator label. Two shapes are read:

    - flat, as `antenna labels export` writes it: ``{"id", "signal_id"?, "text", "kind",
      "category", "urgency"?, "language"?, "channel"?, ...}``;
    - an export of the labels topic: ``{"signal": {"signal_id", "text", "subject"?,
      "language"?, "channel"?}, "label": {"kind", "category", "urgency"?}, ...}`` (other
      fields, such as who labelled it and when, are kept out of training).

    ``kind`` and ``category`` are required; the text is the subject and the text, as the
    processor reads them."""
    nested_signal, nested_label = raw.get("signal"), raw.get("label")
    signal: dict[str, Any] = nested_signal if isinstance(nested_signal, dict) else raw
    label: dict[str, Any] = nested_label if isinstance(nested_label, dict) else raw
    text = str(signal.get("text") or "")
    if signal.get("subject"):
        text = f"{signal['subject']}\n{text}"
    # The export's id ("operator:<signal_id>") is what the split hashes (labels-api.md).
    signal_id = signal.get("signal_id") or signal.get("id")
    row_id = str(raw.get("id") or (f"{OPERATOR}:{signal_id}" if signal_id else ""))
    kind, category, urgency = label.get("kind"), label.get("category"), label.get("urgency")
    if not text.strip() or not row_id:
        raise LabelError("a label needs an id (signal_id) and a text")
    if kind not in KINDS or category not in CATEGORIES:
        raise LabelError(f"kind {kind!r} / category {category!r} is not a known label")
    if urgency is not None and urgency not in URGENCIES:
        raise LabelError(f"urgency {urgency!r} is not a known label")
    channel = signal.get("channel") or "api"
    return LabelledSignal(
        id=row_id,
        language=str(signal.get("language") or ""),
        channel=str(channel),
        text=text,
        kind=str(kind),
        category=str(category),
        urgency=urgency,
        source=OPERATOR,
    )


def read_labels(paths: Iterable[Path], err: IO[str] = sys.stderr) -> list[LabelledSignal]:
    """Operator labels from JSON-lines files; a later label of a signal replaces an
    earlier one (an operator who changed their mind). Bad lines are reported and skipped."""
    by_id: dict[str, LabelledSignal] = {}
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                if not isinstance(raw, dict):
                    raise LabelError("expected a JSON object")
                row = label_row(raw)
            except (ValueError, LabelError) as exc:
                err.write(f"{path}:{number}: skipped: {exc}\n")
                continue
            by_id[row.id] = row
    return list(by_id.values())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def data_hashes(label_files: Sequence[Path]) -> dict[str, str]:
    files = [DATA_DIR / name for name in DATA_FILES] + [DEDUPE_FILE, *label_files]
    return {path.name: _sha256(path) for path in files}


def scores(models: TrainedModels, rows: Sequence[LabelledSignal]) -> dict[str, float]:
    """Kind macro-F1 and accuracy, triage share and the accuracy outside triage."""
    from services.processor.classifier import DEFAULT_MIN_CONFIDENCE, classify_many
    from services.processor.classifier.evaluate import macro_f1

    if not rows:
        return {"n": 0, "macro_f1": 0.0, "accuracy": 0.0, "triage": 0.0, "accuracy_rest": 0.0}
    results = classify_many([(r.text, r.language or None, r.channel) for r in rows], models)
    truth = [row.kind for row in rows]
    predicted = [c.kind.value for c, _ in results]
    routed = [c.confidence >= DEFAULT_MIN_CONFIDENCE for c, _ in results]
    right = [t == p for t, p in zip(truth, predicted, strict=True)]
    rest = [ok for ok, go in zip(right, routed, strict=True) if go]
    return {
        "n": len(rows),
        "macro_f1": round(macro_f1(truth, predicted), 4),
        "accuracy": round(sum(right) / len(rows), 4),
        "triage": round(1 - sum(routed) / len(rows), 4),
        "accuracy_rest": round(sum(rest) / len(rest), 4) if rest else 0.0,
    }


def not_worse(new: dict[str, float], current: dict[str, float]) -> bool:
    return (
        new["macro_f1"] >= current["macro_f1"] - TOLERANCE
        and new["accuracy_rest"] >= current["accuracy_rest"] - TOLERANCE
    )


def tune(rows: Sequence[LabelledSignal], folds: int = 3) -> Settings:
    """Choose the hyperparameters by grouped cross-validation inside ``rows``."""
    grid = {"c_kind": (1.0, 4.0, 16.0), "cue_scale": (0.05, 0.1, 0.25, 0.5)}
    best: tuple[float, Settings] | None = None
    for values in itertools.product(*grid.values()):
        chosen: dict[str, Any] = dict(zip(grid, values, strict=True))
        settings = replace(SETTINGS, **chosen)
        total = 0.0
        for k in range(folds):
            fold = [is_held_out_fold(row, k, folds) for row in rows]
            fitted = train([r for r, f in zip(rows, fold, strict=True) if not f], settings)
            total += scores(fitted, [r for r, f in zip(rows, fold, strict=True) if f])["macro_f1"]
        if best is None or total > best[0]:
            best = (total, settings)
    assert best is not None
    return best[1]


def is_held_out_fold(row: LabelledSignal, fold: int, folds: int) -> bool:
    digest = hashlib.sha256(f"fold:{row.split_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % folds == fold


def run(args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
    directory = args.dir or store.model_dir()
    labels = read_labels(args.labels)
    label_train = [row for row in labels if not is_held_out(row.split_key)]
    label_held = [row for row in labels if is_held_out(row.split_key)]
    rows = [*train_rows(), *label_train]
    settings = tune(rows) if args.tune else SETTINGS
    out.write(f"Training on {len(rows)} rows ({len(label_train)} operator labels)...\n")
    new = train(rows, settings)
    current = store.current_model()
    current_name = current.version or "built-in"
    sets = {"held-out rows": list(held_out_rows())}
    if label_held:
        sets["held-out operator labels"] = label_held
    figures: dict[str, dict[str, dict[str, float]]] = {}
    out.write(
        f"\n{'set':<26}{'model':<24}{'n':>5}{'F1':>7}{'acc':>7}{'triage':>8}{'acc rest':>10}\n"
    )
    for name, held in sets.items():
        figures[name] = {"new": scores(new, held), "current": scores(current, held)}
        for which, label in (("current", current_name), ("new", "new")):
            s = figures[name][which]
            out.write(
                f"{name:<26}{label:<24}{s['n']:>5}{s['macro_f1']:>7.3f}{s['accuracy']:>7.3f}"
                f"{s['triage']:>8.3f}{s['accuracy_rest']:>10.3f}\n"
            )
    hashes = data_hashes(args.labels)
    digest = hashlib.sha256(
        json.dumps([settings.as_dict(), hashes], sort_keys=True).encode()
    ).hexdigest()[:8]
    version = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{digest}"
    written = store.save_model(
        new,
        directory,
        version,
        {
            "training_data": hashes,
            "operator_labels": {"train": len(label_train), "held_out": len(label_held)},
            "compared_with": current_name,
            "figures": figures,
        },
    )
    out.write(f"\nWrote {written.npz} (version {version}).\n")
    verdict = all(not_worse(f["new"], f["current"]) for f in figures.values())
    if not args.activate:
        out.write("Not activated (use --activate).\n")
        return 0
    if not verdict and not args.force:
        out.write("Not activated: worse than the current model on held-out rows (--force).\n")
        return 1
    store.activate(version, directory, note="forced" if not verdict else "not worse")
    out.write(f"Activated {version}; a running processor switches to it within seconds.\n")
    return 0
