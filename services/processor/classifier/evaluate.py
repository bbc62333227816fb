"""How well the classifier does on labelled rows it was never trained on.

python -m services.processor.classifier.evaluate

Three held-out sets for the production model (trained on the TRAIN split of both labelled
sources): (a) the held-out rows of the classification files, (b) the held-out cases of the
dedupe set, written by another author, and (c) both together. And the cross-author check:
a model trained on the classification files alone, scored on the dedupe set. That is the
honest figure for text written by someone new; "whole dedupe set" includes the cases whose
errors were looked at while writing the rules, "dedupe held-out cases" does not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from sklearn.metrics import accuracy_score, f1_score

from schemas import Classification, Kind
from services.processor.classifier import (
    CLASSIFIER_VERSION,
    DEFAULT_MIN_CONFIDENCE,
    classify,
    classify_with,
)
from services.processor.classifier.model import (
    TrainedModels,
    classification_only_models,
    predict,
    report_text,
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
# The sets of the report, in the order of the table.
HELD_OUT_SETS = ("classification", "dedupe", "combined")
CROSS_AUTHOR_SETS = ("cross_author", "cross_author_held_out")
LABELS = {
    "classification": "(a) classification",
    "dedupe": "(b) dedupe cases",
    "combined": "(c) both",
    "cross_author": "whole dedupe set",
    "cross_author_held_out": "dedupe held-out",
}


def _scores(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    if not truth:
        return {"n": 0, "accuracy": 0.0, "macro_f1": 0.0}
    return {
        "n": len(truth),
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(
            f1_score(truth, predicted, labels=KINDS, average="macro", zero_division=0)
        ),
    }


def _fraction(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def score_set(
    rows: Sequence[LabelledSignal], results: Sequence[Classification], models: TrainedModels
) -> dict[str, Any]:
    """Kind accuracy and macro-F1 (overall, per language, and of the model alone), category,
    urgency and language accuracy, the triage fraction and the accuracy of the rest, the
    confusion of kinds and the ids of the kind errors."""
    pairs = list(zip(rows, results, strict=True))
    model_only = [
        predict(models, models.speller.correct(report_text(row.text))).top_kind.value
        for row in rows
    ]
    routed = [result.confidence >= TRIAGE_THRESHOLD for result in results]
    correct = [result.kind.value == row.kind for row, result in pairs]
    rated = [(row, result) for row, result in pairs if row.urgency is not None]
    kind: dict[str, Any] = {"overall": _scores([r.kind for r in rows], [x.kind for x in results])}
    for language in LANGUAGES:
        kind[language] = _scores(
            [row.kind for row, _ in pairs if row.language == language],
            [result.kind.value for row, result in pairs if row.language == language],
        )
    kind["model_only"] = _scores([row.kind for row in rows], model_only)
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


def _classify_all(
    rows: Sequence[LabelledSignal], classify_one: Callable[[LabelledSignal], Classification]
) -> tuple[list[Classification], float]:
    started = time.perf_counter()
    results = [classify_one(row) for row in rows]
    return results, time.perf_counter() - started


def evaluate() -> dict[str, Any]:
    """The scores of every set (see the module docstring). The top-level kind, category,
    triage and confusion keys are those of (c), the combined held-out rows."""
    started = time.perf_counter()
    models = trained_models()
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    cross_models = classification_only_models()
    cross_train_seconds = time.perf_counter() - started

    held = held_out_rows()
    held_results, _ = _classify_all(held, lambda row: classify(row.text, None, row.channel))
    # Throughput as the running processor sees it: a second, warm pass over the same texts.
    _, seconds = _classify_all(held, lambda row: classify(row.text, None, row.channel))
    by_source = {
        source: [
            (row, result)
            for row, result in zip(held, held_results, strict=True)
            if row.source == source
        ]
        for source in (CLASSIFICATION, DEDUPE)
    }
    sets = {
        "classification": score_set(
            [row for row, _ in by_source[CLASSIFICATION]],
            [result for _, result in by_source[CLASSIFICATION]],
            models,
        ),
        "dedupe": score_set(
            [row for row, _ in by_source[DEDUPE]],
            [result for _, result in by_source[DEDUPE]],
            models,
        ),
        "combined": score_set(held, held_results, models),
    }

    dedupe_rows = load_labelled((DEDUPE,))
    dedupe_results, _ = _classify_all(
        dedupe_rows, lambda row: classify_with(cross_models, row.text, None, row.channel)
    )
    held_ids = {row.id for row in held if row.source == DEDUPE}
    sets["cross_author"] = score_set(dedupe_rows, dedupe_results, cross_models)
    sets["cross_author_held_out"] = score_set(
        [row for row in dedupe_rows if row.id in held_ids],
        [r for row, r in zip(dedupe_rows, dedupe_results, strict=True) if row.id in held_ids],
        cross_models,
    )

    train = train_rows()
    combined = sets["combined"]
    return {
        "classifier_version": CLASSIFIER_VERSION,
        "train_rows": len(train),
        "train_rows_by_source": {
            source: sum(row.source == source for row in train)
            for source in (CLASSIFICATION, DEDUPE)
        },
        "cross_author_train_rows": cross_models.n_rows,
        "held_out_rows": len(held),
        "train_seconds": round(train_seconds, 3),
        "cross_author_train_seconds": round(cross_train_seconds, 3),
        "texts_per_second": round(len(held) / seconds, 1) if seconds else 0.0,
        "triage_threshold": TRIAGE_THRESHOLD,
        "sets": sets,
        **{key: combined[key] for key in combined if key != "n"},
    }


def format_report(report: dict[str, Any]) -> str:
    sets = report["sets"]
    by_source = report["train_rows_by_source"]
    lines = [
        f"Classifier {report['classifier_version']}: trained on {report['train_rows']} rows "
        f"({by_source[CLASSIFICATION]} classification + {by_source[DEDUPE]} dedupe) in "
        f"{report['train_seconds']:.2f} s; classifies {report['texts_per_second']:.0f} texts/s"
        " (warm)",
        "",
        f"{'kind':<22}{'n':>5}{'acc':>7}{'F1':>7}{'nl n':>7}{'nl acc':>8}{'nl F1':>7}"
        f"{'en n':>7}{'en acc':>8}{'en F1':>7}{'model F1':>10}",
    ]

    def kind_line(name: str) -> str:
        kind = sets[name]["kind"]
        overall, nl, en = kind["overall"], kind["nl"], kind["en"]
        return (
            f"{LABELS[name]:<22}{overall['n']:>5}{overall['accuracy']:>7.3f}"
            f"{overall['macro_f1']:>7.3f}{nl['n']:>7}{nl['accuracy']:>8.3f}{nl['macro_f1']:>7.3f}"
            f"{en['n']:>7}{en['accuracy']:>8.3f}{en['macro_f1']:>7.3f}"
            f"{kind['model_only']['macro_f1']:>10.3f}"
        )

    lines += ["held out (production model)"] + [kind_line(name) for name in HELD_OUT_SETS]
    lines += [
        f"cross-author (model trained on the {report['cross_author_train_rows']} "
        "classification train rows only)"
    ] + [kind_line(name) for name in CROSS_AUTHOR_SETS]
    threshold = report["triage_threshold"]
    lines += [
        "(F1: macro-F1 over complaint / opportunity / other; model F1: the trained model alone)",
        "",
        f"{'':<22}{'category':>9}{'urgency':>9}{'language':>9}"
        f"{f'triage<{threshold}':>13}{'acc rest':>10}{'acc triaged':>12}",
    ]
    for name in (*HELD_OUT_SETS, *CROSS_AUTHOR_SETS):
        s = sets[name]
        urgency = "-" if s["urgency_accuracy"] is None else f"{s['urgency_accuracy']:.3f}"
        lines.append(
            f"{LABELS[name]:<22}{s['category_accuracy']:>9.3f}{urgency:>9}"
            f"{s['language_accuracy']:>9.3f}{s['triage_fraction']:>13.3f}"
            f"{s['routed_accuracy']:>10.3f}{s['triaged_accuracy']:>12.3f}"
        )
    for name, title in (("combined", "(c) both held-out sets"), ("cross_author", "cross-author")):
        lines += [
            "",
            f"confusion, {title} (rows: truth, columns: predicted)",
            f"{'':<13}" + "".join(f"{k:>13}" for k in KINDS),
        ]
        for truth in KINDS:
            row = sets[name]["confusion"][truth]
            lines.append(f"{truth:<13}" + "".join(f"{row[k]:>13}" for k in KINDS))
    if report["errors"]:
        lines += ["", "kind errors, (c) both held-out sets: id (truth -> predicted, confidence)"]
        lines += [
            f"  {e['id']} ({e['kind']} -> {e['predicted']}, {e['confidence']:.2f})"
            for e in report["errors"]
        ]
    return "\n".join(lines)


def main() -> None:
    print(format_report(evaluate()))


if __name__ == "__main__":
    main()
