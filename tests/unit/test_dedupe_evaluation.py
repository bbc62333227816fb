"""`antenna evaluate`'s dedupe part: the labelled set's tuning and held-out cases, the
third set (scored once, never read here: a stand-in file takes its place), each beside
matching the customer's identity alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.processor import evaluation
from services.processor.evaluation import (
    IdentityAlone,
    dedupe_table,
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


def test_evaluate_scores_the_third_set_once_clearly_labelled(
    labelled, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stand_in = tmp_path / "third_dedupe.jsonl"
    stand_in.write_text("".join(json.dumps(row) + "\n" for row in labelled[0][:12]))
    monkeypatch.setattr(evaluation, "THIRD_DEDUPE", stand_in)
    monkeypatch.setattr("services.processor.classifier.evaluate.main", lambda **_: None)
    evaluation.main()
    out = capsys.readouterr().out
    for name in ("labelled_dedupe, tuning cases", "labelled_dedupe, held-out cases"):
        assert name in out
    third = [line for line in out.splitlines() if line.startswith("third set, scored once")]
    assert len(third) == 2  # ours and identity alone
    assert "never" in out and "honest" in out
