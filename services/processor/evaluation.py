"""Measure the processor's judgement on the labelled data shipped in the repo.

`antenna evaluate` prints classification accuracy and macro-F1 on the classifier's
held-out split, and dedupe precision and recall:

- on the labelled dedupe set, split by the classifier's own split (``held_out`` in
  classifier/split.py, by case): the tuning cases (which the classifier trains on and
  dedupe was tuned on) and the held-out cases;
- on the tuning cases again, as new text: each of ``FOLDS`` folds of them (by case)
  classified by a classifier trained without that fold. The classifier trains on the
  tuning cases, so its topics agree better there than on a report it never saw, and the
  plain tuning figure flatters matter matching; this one is what dedupe is tuned on;
- on the third set, ``eval_data/third_dedupe.jsonl``, written by someone who never saw the
  code and never tuned on: the honest figure;
- each beside the baseline the issue names, matching the customer's identity alone (the
  same customer within the window is the same case, whatever the matter), so that a
  matter matching that does worse than that baseline shows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas import Classification, Signal
from services.processor.classifier.model import TrainedModels, train
from services.processor.classifier.split import DEDUPE, LabelledSignal, held_out, train_rows
from services.processor.domain.dedupe import Decision, Deduper, Report
from services.processor.domain.matter import Matter
from services.processor.handlers import ClassifiedSignal, assess, assess_many
from services.processor.offline import deduplicator, signal_from_row

DEDUPE_DATA = Path(__file__).parent / "dedupe_data" / "labelled_dedupe.jsonl"
THIRD_DEDUPE = Path(__file__).parent / "eval_data" / "third_dedupe.jsonl"
FOLDS = 4
Judged = Mapping[str, ClassifiedSignal]  # row id -> the row as the processor judged it


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


class IdentityAlone(Deduper):
    """The baseline: a report is a duplicate of the earliest report of the window about
    the same customer (or of the same text re-sent), whatever it is about. No chasers."""

    def decide(
        self,
        signal: Signal,
        classification: Classification,
        now: datetime,
        topic: dict[str, float] | None = None,
        matter: Matter | None = None,
    ) -> Decision:
        return super().decide(signal, classification, now, topic, Matter())

    def same_matter(self, new: Report, old: dict[str, Any]) -> bool:
        return True


def load_dedupe_rows(path: Path = DEDUPE_DATA) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def split_dedupe(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(tuning, held-out) by the classifier's own split (by case); arrival order is kept.
    The tuning cases are those the classifier trains on."""
    held = [r for r in rows if held_out(DEDUPE, r["id"], r["case"])]
    tuning = [r for r in rows if not held_out(DEDUPE, r["id"], r["case"])]
    return tuning, held


def fold_of(case: str, folds: int = FOLDS) -> int:
    """The fold of a tuning case: a hash of the case, as the split (never its position)."""
    digest = hashlib.sha256(f"fold:{case}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % folds


def judged_unseen(
    rows: Sequence[dict[str, Any]],
    folds: int = FOLDS,
    fit: Callable[[Sequence[LabelledSignal]], TrainedModels] = train,
) -> dict[str, ClassifiedSignal]:
    """Each of ``rows`` (tuning cases) classified by a classifier ``fit`` on the training
    rows less the dedupe rows of its fold's cases: its topic and kind as they would be
    for a new report. ``folds`` classifiers are trained (seconds each)."""
    now = datetime.now(UTC)
    training = train_rows()
    judged: dict[str, ClassifiedSignal] = {}
    for fold in range(folds):
        scored = [row for row in rows if fold_of(row["case"], folds) == fold]
        if not scored:
            continue
        models = fit(
            [
                row
                for row in training
                if not (row.source == DEDUPE and row.case and fold_of(row.case, folds) == fold)
            ]
        )
        signals = [signal_from_row(row, now) for row in scored]
        judged.update(
            (row["id"], one) for row, one in zip(scored, assess_many(signals, models), strict=True)
        )
    return judged


def score_dedupe(
    rows: Iterable[dict[str, Any]], deduper: type[Deduper] = Deduper, judged: Judged | None = None
) -> DedupeScore:
    """A predicted duplicate is correct when it points at an earlier report of its case.
    ``judged``: the rows as classified beforehand (judged_unseen), else by the current
    classifier."""
    process = deduplicator(deduper=deduper)
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
        one = judged[row["id"]] if judged is not None else assess(signal_from_row(row, now))
        out = process(row, one)
        if out["duplicate_of"] is not None:
            predicted += 1
            correct += case_of.get(out["duplicate_of"]) == row["case"]
    return DedupeScore(reports, true_dups, predicted, correct)


def dedupe_table(
    sets: dict[str, list[dict[str, Any]]], judged: Mapping[str, Judged] | None = None
) -> list[str]:
    """One line per set and matcher; a note wherever identity alone does better.
    ``judged``: per set name, its rows as classified beforehand (judged_unseen)."""
    lines = [
        f"{'set':<40}{'matcher':<18}{'reports':>8}{'dups':>6}{'found':>7}{'right':>7}"
        f"{'precision':>11}{'recall':>8}"
    ]
    notes = []
    for name, rows in sets.items():
        scores = {}
        for matcher, deduper in (("matter + person", Deduper), ("identity alone", IdentityAlone)):
            s = scores[matcher] = score_dedupe(rows, deduper, (judged or {}).get(name))
            lines.append(
                f"{name:<40}{matcher:<18}{s.reports:>8}{s.true_duplicates:>6}"
                f"{s.predicted_duplicates:>7}{s.correct:>7}{s.precision:>11.3f}{s.recall:>8.3f}"
            )
        ours, baseline = scores["matter + person"], scores["identity alone"]
        if baseline.recall > ours.recall or baseline.precision > ours.precision:
            better = [
                what
                for what, theirs, mine in (
                    ("recall", baseline.recall, ours.recall),
                    ("precision", baseline.precision, ours.precision),
                )
                if theirs > mine
            ]
            notes.append(f"NOTE: on {name}, identity alone has the better {' and '.join(better)}")
    return lines + notes


def main(third_set: bool = False) -> None:
    from services.processor.classifier.evaluate import main as classifier_report

    classifier_report(third_set=third_set)
    tuning, held = split_dedupe(load_dedupe_rows())
    print("\nDedupe: a predicted duplicate is right when it points at an earlier report of its")
    print("case. The labelled set's tuning cases were looked at while writing dedupe; its")
    print("held-out rows were not (their totals were seen). The third set was scored once,")
    print("at the end, and never tuned on: it is the honest figure.")
    print(f"The tuning cases as new text: {FOLDS} folds by case, each classified by a")
    print("classifier trained without it (what dedupe is tuned on).")
    unseen = "labelled_dedupe, tuning, unseen topics"
    sets = {
        "labelled_dedupe, tuning cases": tuning,
        unseen: tuning,
        "labelled_dedupe, held-out cases": held,
    }
    # Only when asked (`make evaluate`), as the classifier's third set: it is scored once.
    if third_set and THIRD_DEDUPE.exists():
        sets["third set, scored once"] = load_dedupe_rows(THIRD_DEDUPE)
    for line in dedupe_table(sets, {unseen: judged_unseen(tuning)}):
        print(line)
