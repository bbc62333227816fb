"""One split for everything: what the classifier trains on, what the dedupe evaluation
tunes on and what every evaluation holds out come from ``classifier.split.held_out``.

The dedupe evaluation used to hash the bare case id while training hashed ``case:<id>``,
so 52 of its 64 "held-out" reports were rows the classifier had trained on."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from services.processor.classifier import evaluate, model, store
from services.processor.classifier.split import (
    CLASSIFICATION,
    DEDUPE,
    LabelledSignal,
    held_out,
    held_out_rows,
    load_labelled,
    split_labelled,
    train_rows,
)
from services.processor.evaluation import load_dedupe_rows, split_dedupe


def _ids(rows: Sequence[LabelledSignal]) -> set[str]:
    return {row.id for row in rows}


def test_the_dedupe_evaluation_holds_out_exactly_what_training_holds_out() -> None:
    tuning, held = split_dedupe(load_dedupe_rows())
    assert {row["id"] for row in held} == _ids(held_out_rows((DEDUPE,)))
    assert {row["id"] for row in tuning} == _ids(train_rows((DEDUPE,)))
    trained = _ids(train_rows())
    assert not {row["id"] for row in held} & trained


def test_the_model_is_trained_on_the_split_s_train_rows_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []

    def record(rows: Sequence[LabelledSignal], *_: object) -> object:
        seen.extend(row.id for row in rows)
        return None

    monkeypatch.setattr(model, "train", record)
    store.builtin_model.__wrapped__()  # bypass the cache: train once more, recorded
    assert sorted(seen) == sorted(_ids(train_rows()))
    held = {row["id"] for row in split_dedupe(load_dedupe_rows())[1]} | _ids(held_out_rows())
    assert not set(seen) & held
    seen.clear()
    model.classification_only_models.__wrapped__()
    assert set(seen) == _ids(train_rows((CLASSIFICATION,)))


def test_every_row_s_side_is_the_one_held_out_names() -> None:
    train, held = split_labelled()
    assert train and held
    for row in load_labelled():
        assert (row in held) is held_out(row.source, row.id, row.case) is row.held_out


def test_no_dedupe_case_straddles_the_split() -> None:
    tuning, held = split_dedupe(load_dedupe_rows())
    assert not {row["case"] for row in tuning} & {row["case"] for row in held}
    assert 0.15 < len(held) / (len(held) + len(tuning)) < 0.35


def test_the_speller_knows_the_training_texts_words_and_no_others() -> None:
    """The lexicon of the typo corrector is the training split's words: with a word of a
    held-out text in it, a slip in that text would be undone by knowledge of the text."""
    words = {
        word
        for row in train_rows()
        for word in re.findall(r"[^\W\d_]+", model.report_text(row.text).lower())
    }
    assert set(store.builtin_model().speller.counts) == words


def test_the_evaluation_scores_exactly_the_held_out_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    scored: list[tuple[str, ...]] = []
    monkeypatch.setattr(evaluate, "classify_rows", lambda rows, _models: _record(scored, rows))
    monkeypatch.setattr(evaluate, "speed", lambda *_: {"per_second": 0.0, "cpu_ms": 0.0})
    evaluate.evaluate()
    in_set, cross_author = scored
    assert set(in_set) == _ids(held_out_rows())
    assert set(cross_author) == _ids(load_labelled((DEDUPE,)))


def _record(scored: list[tuple[str, ...]], rows: Sequence[LabelledSignal]) -> list[object]:
    from schemas import Classification, Kind

    scored.append(tuple(row.id for row in rows))
    return [
        Classification(kind=Kind.other, confidence=0.0, language="en", classifier_version="t")
        for _ in rows
    ]
