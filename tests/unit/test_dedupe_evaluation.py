"""`antenna evaluate`'s dedupe part: the labelled set's tuning and held-out cases, the
third set (scored once, never read here: a stand-in file takes its place), each beside
matching the customer's identity alone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from services.processor import evaluation
from services.processor.classifier import current_model
from services.processor.classifier.model import TrainedModels
from services.processor.classifier.split import LabelledSignal, train_rows
from services.processor.evaluation import (
    IdentityAlone,
    dedupe_table,
    fold_of,
    judged_unseen,
    load_dedupe_rows,
    score_dedupe,
    split_dedupe,
)

PRECISION_TARGET, RECALL_TARGET = 0.97, 0.90


@pytest.fixture(scope="module")
def labelled() -> tuple[list[dict], list[dict]]:
    return split_dedupe(load_dedupe_rows())


# The held-out cases' recall: 21 of 23 (0.913) since matter matching trusts a shared
# amount and shared words over the calibrated classifier's topics (20 of 23 before). The
# target itself; a drop below it fails.
HELD_OUT_RECALL_FLOOR = RECALL_TARGET


def test_dedupe_meets_its_targets_on_the_labelled_cases(labelled) -> None:
    tuning, held = labelled
    for rows, recall in ((tuning, RECALL_TARGET), (held, HELD_OUT_RECALL_FLOOR)):
        score = score_dedupe(rows)
        assert score.precision >= PRECISION_TARGET, score
        assert score.recall >= recall, score


def test_identity_alone_is_a_baseline_without_matter_or_chasers(labelled) -> None:
    """On the tuning cases, the same customer within the window is often another matter:
    identity alone joins those, and so finds wrong duplicates the matter check does not."""
    tuning, _ = labelled
    ours, baseline = score_dedupe(tuning), score_dedupe(tuning, IdentityAlone)
    assert baseline.precision < ours.precision
    assert baseline.predicted_duplicates > ours.predicted_duplicates


def test_the_table_says_when_identity_alone_does_better() -> None:
    """Two reports of one case, about one customer, that the matter check tells apart
    (one about a card, one about a mortgage): identity alone finds the duplicate."""
    rows = [
        {
            "id": "r-1",
            "case": "c-1",
            "text": "Her bank card was declined twice at the supermarket today.",
            "channel": "chat",
            "reported_at": "2026-10-01T10:00:00Z",
            "reporter": "e-1",
            "customer": {"name": "Anna Smit", "phone": "0612345678"},
        },
        {
            "id": "r-2",
            "case": "c-1",
            "text": "She would like an offer for a bigger mortgage, please call her.",
            "channel": "chat",
            "reported_at": "2026-10-02T10:00:00Z",
            "reporter": "e-2",
            "customer": {"name": "Anna Smit", "phone": "06-12345678"},
        },
    ]
    lines = dedupe_table({"made up": rows})
    assert any(line.startswith("made up") and "identity alone" in line for line in lines)
    assert lines[-1] == "NOTE: on made up, identity alone has the better recall"


@pytest.fixture
def stand_ins(labelled, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A stand-in third set; the classifier's report and the unseen-topics training left
    out (tested below)."""
    stand_in = tmp_path / "third_dedupe.jsonl"
    stand_in.write_text("".join(json.dumps(row) + "\n" for row in labelled[0][:12]))
    monkeypatch.setattr(evaluation, "THIRD_DEDUPE", stand_in)
    monkeypatch.setattr("services.processor.classifier.evaluate.main", lambda **_: None)
    monkeypatch.setattr(evaluation, "judged_unseen", lambda rows: None)
    # The labelled set's first 60 rows stand in for it: the table's lines, in seconds less.
    monkeypatch.setattr(
        evaluation,
        "load_dedupe_rows",
        lambda path=None: load_dedupe_rows(path) if path else load_dedupe_rows()[:60],
    )


@pytest.mark.usefixtures("stand_ins")
def test_evaluate_scores_the_third_set_once_clearly_labelled(
    capsys: pytest.CaptureFixture[str],
) -> None:
    evaluation.main(third_set=True)
    out = capsys.readouterr().out
    names = (
        "labelled_dedupe, tuning cases",
        "labelled_dedupe, tuning, unseen topics",
        "labelled_dedupe, held-out cases",
    )
    for name in names:
        assert name in out
    third = [line for line in out.splitlines() if line.startswith("third set, scored once")]
    assert len(third) == 2  # ours and identity alone
    assert "never" in out and "honest" in out


@pytest.mark.usefixtures("stand_ins")
def test_evaluate_leaves_the_third_set_alone_unless_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`antenna evaluate` without --third-set used to score the third dedupe set all the
    same: a figure that must be seen once only."""
    evaluation.main()
    lines = capsys.readouterr().out.splitlines()
    assert "labelled_dedupe, held-out cases" in "\n".join(lines)
    assert not [line for line in lines if line.startswith("third set")]


def test_unseen_topics_come_from_a_classifier_trained_without_the_fold(labelled) -> None:
    """Each fold's tuning cases are classified by a classifier that did not train on
    them, and did train on every other training row."""
    tuning, _ = labelled
    rows = tuning[:40]
    trained: list[set[str]] = []

    def fit(training: Sequence[LabelledSignal]) -> TrainedModels:
        trained.append({row.id for row in training})
        return current_model()

    judged = judged_unseen(rows, folds=3, fit=fit)
    assert set(judged) == {row["id"] for row in rows}
    assert len(trained) == 3
    everything = {row.id for row in train_rows()}
    for fold, ids in enumerate(trained):
        left_out = {row.id for row in train_rows() if row.case and fold_of(row.case, 3) == fold}
        assert left_out and ids == everything - left_out
    assert all(fold_of(row["case"], 3) in range(3) for row in rows)
    score = score_dedupe(rows, judged=judged)
    assert score == score_dedupe(rows)  # the same classifier: the same figures
