"""Measure the processor's judgement on the labelled data shipped in the repo.

`antenna evaluate` prints classification accuracy and macro-F1 on the classifier's
held-out split, and dedupe precision and recall on the held-out cases of the labelled
dedupe set: the same cases the classifier never trains on (split by a hash of the case).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.processor.classifier.split import DEDUPE, held_out
from services.processor.handlers import assess
from services.processor.offline import deduplicator, signal_from_row

DEDUPE_DATA = Path(__file__).parent / "dedupe_data" / "labelled_dedupe.jsonl"


@dataclass(frozen=True)
class DedupeScore:
    reports: int
    true_duplicates: int
    predicted_duplicates: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted_duplicates if self.predicted_duplicates else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.true_duplicates if self.true_duplicates else 1.0


def load_dedupe_rows(path: Path = DEDUPE_DATA) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def split_dedupe(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(tuning, held-out) by the classifier's own split (by case); arrival order is kept.
    The tuning cases are those the classifier trains on."""
    held = [r for r in rows if held_out(DEDUPE, r["id"], r["case"])]
    tuning = [r for r in rows if not held_out(DEDUPE, r["id"], r["case"])]
    return tuning, held


def score_dedupe(rows: Iterable[dict[str, Any]]) -> DedupeScore:
    """A predicted duplicate is correct when it points at an earlier report of its case."""
    process = deduplicator()
    now = datetime.now(UTC)
    case_of: dict[str, str] = {}
    seen_cases: set[str] = set()
    reports = true_dups = predicted = correct = 0
    for row in rows:
        reports += 1
        case_of[row["id"]] = row["case"]
        is_dup = row["case"] in seen_cases
        seen_cases.add(row["case"])
        true_dups += is_dup
        out = process(row, assess(signal_from_row(row, now)))
        if out["duplicate_of"] is not None:
            predicted += 1
            correct += case_of.get(out["duplicate_of"]) == row["case"]
    return DedupeScore(reports, true_dups, predicted, correct)


def main() -> None:
    from services.processor.classifier.evaluate import main as classifier_report

    classifier_report()
    tuning, held = split_dedupe(load_dedupe_rows())
    print("\nDedupe (labelled_dedupe.jsonl)")
    print(
        f"{'split':<10}{'reports':>8}{'dups':>6}{'found':>7}{'right':>7}{'precision':>11}{'recall':>8}"
    )
    for name, rows in (("tuning", tuning), ("held-out", held)):
        s = score_dedupe(rows)
        print(
            f"{name:<10}{s.reports:>8}{s.true_duplicates:>6}{s.predicted_duplicates:>7}"
            f"{s.correct:>7}{s.precision:>11.3f}{s.recall:>8.3f}"
        )
