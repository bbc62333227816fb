"""How well the classifier does on labelled rows it was never trained on.

`make evaluate` (`antenna evaluate`) prints, most honest first:

1. the third set (``eval_data/third_set.jsonl``, 344 signals written by someone who never
   saw the code, in styles neither training set has), scored once, at the end of the work
   on the classifier: the figure for text nobody tuned on;
2. cross-author: a model trained on the classification files alone (one author), scored on
   the dedupe set (another author): its held-out cases, and the whole set;
3. in-set: the production model on the held-out rows of both sources.

For each: kind accuracy and macro-F1 (overall and per language), the share of signals that
goes to triage (confidence below the router's default), the accuracy of the rest, category
and urgency accuracy; the confusion of kinds; and the speed of classification.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sklearn.metrics import f1_score

from schemas import Classification, Kind
from services.processor.classifier import (
    CLASSIFIER_VERSION,
    DEFAULT_MIN_CONFIDENCE,
    classify_many,
)
from services.processor.classifier.model import (
    TrainedModels,
    classification_only_models,
    trained_models,
)
from services.processor.classifier.split import (
    CLASSIFICATION,
    DEDUPE,
    LabelledSignal,
    held_out_rows,
    load_labelled,
    train_rows,
)

TRIAGE_THRESHOLD = DEFAULT_MIN_CONFIDENCE
KINDS = [kind.value for kind in Kind]
LANGUAGES = ("nl", "en")
THIRD_SET = Path(__file__).parents[1] / "eval_data" / "third_set.jsonl"
THIRD = "third"
# The sets of the report, in the order of the table.
LABELS = {
    "third": "third set, scored once",
    "cross_author_held_out": "cross-author: dedupe held-out",
    "cross_author": "cross-author: whole dedupe set",
    "classification": "in-set (a) classification",
    "dedupe": "in-set (b) dedupe cases",
    "combined": "in-set (c) both",
}


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    return float(f1_score(truth, predicted, labels=KINDS, average="macro", zero_division=0))


def _scores(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    if not truth:
        return {"n": 0, "accuracy": 0.0, "macro_f1": 0.0}
    right = sum(t == p for t, p in zip(truth, predicted, strict=True))
    return {"n": len(truth), "accuracy": right / len(truth), "macro_f1": macro_f1(truth, predicted)}


def _fraction(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def score_set(rows: Sequence[LabelledSignal], results: Sequence[Classification]) -> dict[str, Any]:
    """Kind accuracy and macro-F1 (overall and per language), category, urgency and
    language accuracy, the triage share and the accuracy of the rest, the confusion of
    kinds and the ids of the kind errors."""
    pairs = list(zip(rows, results, strict=True))
    routed = [result.confidence >= TRIAGE_THRESHOLD for result in results]
    correct = [result.kind.value == row.kind for row, result in pairs]
    rated = [(row, result) for row, result in pairs if row.urgency is not None]
    kind: dict[str, Any] = {"overall": _scores([r.kind for r in rows], [x.kind for x in results])}
    for language in LANGUAGES:
        mine = [i for i, row in enumerate(rows) if row.language == language]
        kind[language] = {
            **_scores([rows[i].kind for i in mine], [results[i].kind.value for i in mine]),
            "triage_fraction": 1 - _fraction([routed[i] for i in mine]),
            "routed_accuracy": _fraction([correct[i] for i in mine if routed[i]]),
        }
    return {
        "n": len(rows),
        "kind": kind,
        "category_accuracy": _fraction([r.category.value == row.category for row, r in pairs]),
        "urgency_accuracy": (
            _fraction([r.urgency.value == row.urgency for row, r in rated]) if rated else None
        ),
        "language_accuracy": _fraction([r.language == row.language for row, r in pairs]),
        "triage_fraction": 1 - _fraction(routed),
        "routed_accuracy": _fraction([ok for ok, go in zip(correct, routed, strict=True) if go]),
        "triaged_accuracy": _fraction(
            [ok for ok, go in zip(correct, routed, strict=True) if not go]
        ),
        "confusion": {
            truth: {
                predicted: sum(
                    row.kind == truth and result.kind.value == predicted for row, result in pairs
                )
                for predicted in KINDS
            }
            for truth in KINDS
        },
        "errors": [
            {
                "id": row.id,
                "kind": row.kind,
                "predicted": result.kind.value,
                "confidence": result.confidence,
            }
            for (row, result), ok in zip(pairs, correct, strict=True)
            if not ok
        ],
    }


def classify_rows(
    rows: Sequence[LabelledSignal], models: TrainedModels | None = None
) -> list[Classification]:
    """Each row as the offline commands classify it: no language hint, its channel."""
    return [c for c, _ in classify_many([(row.text, None, row.channel) for row in rows], models)]


def load_third_set(path: Path = THIRD_SET) -> list[LabelledSignal]:
    fields = set(LabelledSignal.__dataclass_fields__) - {"source", "case"}
    with path.open(encoding="utf-8") as lines:
        return [
            LabelledSignal(
                **{k: v for k, v in json.loads(line).items() if k in fields}, source=THIRD
            )
            for line in lines
            if line.strip()
        ]


def speed(rows: Sequence[LabelledSignal], models: TrainedModels) -> dict[str, float]:
    """Signals per second and CPU per signal, the held-out rows in one batch, warm."""
    items = [(row.text, None, row.channel) for row in rows]
    classify_many(items[:20], models)
    wall, cpu = time.perf_counter(), time.process_time()
    classify_many(items, models)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"per_second": len(rows) / wall, "cpu_ms": 1000 * cpu / len(rows)}


def evaluate(third_set: bool = False) -> dict[str, Any]:
    """The scores of every set (see the module docstring). The top-level kind, triage and
    confusion keys are those of (c), the combined held-out rows. ``third_set``: score the
    third set too (only `make evaluate` does, once the work on the classifier is done)."""
    started = time.perf_counter()
    models = trained_models()
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    cross_models = classification_only_models()
    cross_train_seconds = time.perf_counter() - started

    held = held_out_rows()
    held_results = classify_rows(held, models)
    sets: dict[str, Any] = {}
    for name, source in (("classification", CLASSIFICATION), ("dedupe", DEDUPE)):
        pairs = [(r, c) for r, c in zip(held, held_results, strict=True) if r.source == source]
        sets[name] = score_set([r for r, _ in pairs], [c for _, c in pairs])
    sets["combined"] = score_set(held, held_results)

    dedupe_rows = load_labelled((DEDUPE,))
    dedupe_results = classify_rows(dedupe_rows, cross_models)
    held_ids = {row.id for row in held if row.source == DEDUPE}
    sets["cross_author"] = score_set(dedupe_rows, dedupe_results)
    sets["cross_author_held_out"] = score_set(
        [row for row in dedupe_rows if row.id in held_ids],
        [r for row, r in zip(dedupe_rows, dedupe_results, strict=True) if row.id in held_ids],
    )
    if third_set and THIRD_SET.exists():
        third = load_third_set()
        sets[THIRD] = score_set(third, classify_rows(third, models))

    train = train_rows()
    combined = sets["combined"]
    return {
        "classifier_version": CLASSIFIER_VERSION,
        "model_version": models.version or "built-in",
        "train_rows": len(train),
        "train_rows_by_source": {
            source: sum(row.source == source for row in train)
            for source in (CLASSIFICATION, DEDUPE)
        },
        "cross_author_train_rows": cross_models.n_rows,
        "held_out_rows": len(held),
        "train_seconds": round(train_seconds, 3),
        "cross_author_train_seconds": round(cross_train_seconds, 3),
        "speed": speed(held, models),
        "triage_threshold": TRIAGE_THRESHOLD,
        "sets": sets,
        **{key: combined[key] for key in combined if key != "n"},
    }


def format_report(report: dict[str, Any]) -> str:
    sets = report["sets"]
    by_source = report["train_rows_by_source"]
    s = report["speed"]
    lines = [
        f"Classifier {report['classifier_version']}, model {report['model_version']}: "
        f"{report['train_rows']} training rows ({by_source[CLASSIFICATION]} classification + "
        f"{by_source[DEDUPE]} dedupe), loaded or trained in {report['train_seconds']:.2f} s; "
        f"classifies {s['per_second']:.0f} signals/s in a batch, {s['cpu_ms']:.3f} ms CPU each",
        f"Cross-author model: trained on the {report['cross_author_train_rows']} classification"
        " train rows only, scored on the dedupe set (another author).",
        "",
        f"{'kind':<32}{'n':>5}{'acc':>7}{'F1':>7}{'nl n':>6}{'nl F1':>7}{'en n':>6}{'en F1':>7}"
        f"{'triage':>8}{'acc rest':>9}{'category':>9}{'urgency':>8}",
    ]
    for name, label in LABELS.items():
        if name not in sets:
            continue
        x = sets[name]
        kind, nl, en = x["kind"]["overall"], x["kind"]["nl"], x["kind"]["en"]
        urgency = "-" if x["urgency_accuracy"] is None else f"{x['urgency_accuracy']:.3f}"
        lines.append(
            f"{label:<32}{kind['n']:>5}{kind['accuracy']:>7.3f}{kind['macro_f1']:>7.3f}"
            f"{nl['n']:>6}{nl['macro_f1']:>7.3f}{en['n']:>6}{en['macro_f1']:>7.3f}"
            f"{x['triage_fraction']:>8.3f}{x['routed_accuracy']:>9.3f}"
            f"{x['category_accuracy']:>9.3f}{urgency:>8}"
        )
    lines.append(
        f"(F1: macro-F1 over complaint / opportunity / other; triage: confidence below "
        f"{report['triage_threshold']}; acc rest: kind accuracy of the signals not sent to triage)"
    )
    lines += ["", f"{'per language':<32}{'lang':>5}{'n':>5}{'F1':>7}{'triage':>8}{'acc rest':>9}"]
    for name, label in LABELS.items():
        for language in LANGUAGES if name in sets else ():
            x = sets[name]["kind"][language]
            lines.append(
                f"{label:<32}{language:>5}{x['n']:>5}{x['macro_f1']:>7.3f}"
                f"{x['triage_fraction']:>8.3f}{x['routed_accuracy']:>9.3f}"
            )
    if THIRD not in sets:
        lines.append("(third set not scored in this run)")
    for name in (THIRD, "cross_author", "combined"):
        if name not in sets:
            continue
        lines += [
            "",
            f"confusion, {LABELS[name]} (rows: truth, columns: predicted)",
            f"{'':<13}" + "".join(f"{k:>13}" for k in KINDS),
        ]
        for truth in KINDS:
            row = sets[name]["confusion"][truth]
            lines.append(f"{truth:<13}" + "".join(f"{row[k]:>13}" for k in KINDS))
    if report["errors"]:
        lines += ["", "kind errors, in-set (c): id (truth -> predicted, confidence)"]
        lines += [
            f"  {e['id']} ({e['kind']} -> {e['predicted']}, {e['confidence']:.2f})"
            for e in report["errors"]
        ]
    return "\n".join(lines)


def main(third_set: bool = False) -> None:
    print(format_report(evaluate(third_set=third_set)))


if __name__ == "__main__":
    main()
