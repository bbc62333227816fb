"""How well the classifier does on the held-out split, which it is never trained on.

python -m services.processor.classifier.evaluate
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sklearn.metrics import accuracy_score, f1_score

from schemas import Classification, Kind
from services.common.message_text import clean_text
from services.processor.classifier import CLASSIFIER_VERSION, DEFAULT_MIN_CONFIDENCE, classify
from services.processor.classifier.model import predict, trained_models
from services.processor.classifier.split import LabelledSignal, held_out_rows, train_rows

TRIAGE_THRESHOLD = DEFAULT_MIN_CONFIDENCE
KINDS = [kind.value for kind in Kind]


def _kind_scores(
    rows: Sequence[LabelledSignal], results: Sequence[Classification]
) -> dict[str, Any]:
    return _scores([row.kind for row in rows], [result.kind.value for result in results])


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


def evaluate() -> dict[str, Any]:
    """Scores on the held-out split: kind accuracy and macro-F1 (overall and per language),
    category and urgency accuracy, the fraction that goes to triage and the accuracy of
    the rest, and the confusion of kinds."""
    started = time.perf_counter()
    trained_models()
    train_seconds = time.perf_counter() - started
    rows = held_out_rows()
    results = [classify(row.text, None, row.channel) for row in rows]
    models = trained_models()
    model_only = [predict(models, clean_text(row.text)).top_kind.value for row in rows]
    routed = [result.confidence >= TRIAGE_THRESHOLD for result in results]
    correct = [result.kind.value == row.kind for row, result in zip(rows, results, strict=True)]
    confusion = {
        truth: {
            predicted: sum(
                row.kind == truth and result.kind.value == predicted
                for row, result in zip(rows, results, strict=True)
            )
            for predicted in KINDS
        }
        for truth in KINDS
    }
    return {
        "classifier_version": CLASSIFIER_VERSION,
        "train_rows": len(train_rows()),
        "held_out_rows": len(rows),
        "train_seconds": round(train_seconds, 3),
        "kind": {
            "overall": _kind_scores(rows, results),
            **{
                language: _kind_scores(
                    [row for row in rows if row.language == language],
                    [r for row, r in zip(rows, results, strict=True) if row.language == language],
                )
                for language in ("nl", "en")
            },
            "model_only": _scores([row.kind for row in rows], model_only),
        },
        "category_accuracy": _fraction(
            [r.category.value == row.category for row, r in zip(rows, results, strict=True)]
        ),
        "urgency_accuracy": _fraction(
            [r.urgency.value == row.urgency for row, r in zip(rows, results, strict=True)]
        ),
        "language_accuracy": _fraction(
            [r.language == row.language for row, r in zip(rows, results, strict=True)]
        ),
        "triage_threshold": TRIAGE_THRESHOLD,
        "triage_fraction": 1 - _fraction(routed),
        "routed_accuracy": _fraction([ok for ok, go in zip(correct, routed, strict=True) if go]),
        "triaged_accuracy": _fraction(
            [ok for ok, go in zip(correct, routed, strict=True) if not go]
        ),
        "confusion": confusion,
        "errors": [
            {
                "id": row.id,
                "kind": row.kind,
                "predicted": result.kind.value,
                "confidence": result.confidence,
            }
            for row, result, ok in zip(rows, results, correct, strict=True)
            if not ok
        ],
    }


def format_report(report: dict[str, Any]) -> str:
    kind = report["kind"]
    lines = [
        f"Classifier {report['classifier_version']}: trained on {report['train_rows']} rows "
        f"in {report['train_seconds']:.2f} s, evaluated on {report['held_out_rows']} held-out rows",
        "",
        f"{'kind':<12}{'n':>6}{'accuracy':>10}{'macro-F1':>10}",
    ]
    for name in ("overall", "nl", "en", "model_only"):
        scores = kind[name]
        lines.append(
            f"{name:<12}{scores['n']:>6}{scores['accuracy']:>10.3f}{scores['macro_f1']:>10.3f}"
        )
    threshold = report["triage_threshold"]
    lines += [
        "(model_only: the trained model alone, without the rules, for comparison)",
        "",
        f"{'category accuracy':<34}{report['category_accuracy']:>8.3f}",
        f"{'urgency accuracy':<34}{report['urgency_accuracy']:>8.3f}",
        f"{'language accuracy':<34}{report['language_accuracy']:>8.3f}",
        f"{f'to triage (confidence < {threshold})':<34}{report['triage_fraction']:>8.3f}",
        f"{'kind accuracy of the rest':<34}{report['routed_accuracy']:>8.3f}",
        f"{'kind accuracy of the triaged':<34}{report['triaged_accuracy']:>8.3f}",
        "",
        "confusion (rows: truth, columns: predicted)",
        f"{'':<13}" + "".join(f"{k:>13}" for k in KINDS),
    ]
    for truth in KINDS:
        row = report["confusion"][truth]
        lines.append(f"{truth:<13}" + "".join(f"{row[k]:>13}" for k in KINDS))
    if report["errors"]:
        lines += ["", "kind errors: id (truth -> predicted, confidence)"]
        lines += [
            f"  {e['id']} ({e['kind']} -> {e['predicted']}, {e['confidence']:.2f})"
            for e in report["errors"]
        ]
    return "\n".join(lines)


def main() -> None:
    print(format_report(evaluate()))


if __name__ == "__main__":
    main()
