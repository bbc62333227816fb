"""Nothing in the classifier's code may have been written from the rows it is scored on
(issue #9, part 0).

A rule or cue written after reading a held-out row ("wants survey", "traplift") makes the
held-out figures flatter the code: the pattern fires on that row and on no row the model
learns from. So:

- every alternative of every pattern in the classifier's modules that matches a held-out
  row must also match a row of the training split (then the training data, not the
  held-out row, can be where it came from);
- the same for the cross-author figure: an alternative that matches a row of the dedupe set
  (scored by the model trained on the classification files alone) must match a training
  row of the classification files;
- the speller's vocabulary (the training texts' words and the words the patterns spell
  out) holds no word that only held-out texts use.

Patterns are found the way the linear-time test finds them (every compiled pattern in the
modules' namespaces, in dicts, dataclasses and tuples of them) and split into their
alternatives by reading the pattern's source.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from functools import cache
from itertools import pairwise
from types import ModuleType

import pytest

import services.processor.classifier as classifier
import services.processor.classifier.cues as cues
import services.processor.classifier.features as features
import services.processor.classifier.model as model
import services.processor.classifier.rules as rules
from services.processor.classifier.model import classification_only_models, report_text
from services.processor.classifier.split import (
    CLASSIFICATION,
    DEDUPE,
    LabelledSignal,
    held_out_rows,
    load_labelled,
    train_rows,
)

MODULES: tuple[ModuleType, ...] = (rules, cues, features, model, classifier)

# --- finding the patterns and their alternatives -------------------------------------------


def _patterns_in(value: object, seen: set[int]) -> Iterator[re.Pattern[str]]:
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, re.Pattern):
        if isinstance(value.pattern, str):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _patterns_in(item, seen)
    elif isinstance(value, tuple | list | frozenset | set):
        for item in value:
            yield from _patterns_in(item, seen)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _patterns_in(getattr(value, field.name), seen)


def patterns() -> list[tuple[str, re.Pattern[str]]]:
    seen: set[int] = set()
    found = []
    for module in MODULES:
        short = module.__name__.rsplit(".", 1)[-1]
        for name, value in vars(module).items():
            if isinstance(value, ModuleType) or name.startswith("__"):
                continue
            found += [(f"{short}.{name}", p) for p in _patterns_in(value, seen)]
    return found


def _structure(source: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """(index, character, group depth after it) for each ``(``, ``)`` and ``|`` of
    ``source`` from ``start`` that is not escaped and not inside a character class."""
    depth, i, in_class = 0, start, False
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if source[i + 1 : i + 2] == "]":
                i += 1
        elif char in "()|":
            depth += {"(": 1, ")": -1, "|": 0}[char]
            yield i, char, depth
        i += 1


def _top_level(source: str) -> list[str]:
    """``source`` split at its top-level ``|``: not inside a group, a class or an escape."""
    cuts = [i for i, char, depth in _structure(source) if char == "|" and depth == 0]
    bounds = [-1, *cuts, len(source)]
    return [source[x + 1 : y] for x, y in pairwise(bounds)]


def _closing(source: str, opening: int) -> int:
    """The index of the parenthesis that closes the group opened at ``opening``."""
    return next(
        (i for i, char, depth in _structure(source, opening) if char == ")" and depth == 0), -1
    )


_LEADS = ("(?<![\\w])", "(?<!\\w)", "\\b", "^")


def alternatives(source: str, lead: str = "") -> list[str]:
    """The alternatives of a pattern, each a pattern of its own that matches what it
    matched in ``source``: a group of alternatives behind a word-start check is opened
    and each alternative keeps the check."""
    parts = _top_level(source)
    if len(parts) > 1:
        return [a for part in parts for a in alternatives(part, lead)]
    for prefix in ("", *_LEADS):
        rest = source[len(prefix) :]
        if (
            source.startswith(prefix)
            and rest.startswith("(?:")
            and _closing(rest, 0) == len(rest) - 1
        ):
            return alternatives(rest[3:-1], lead + prefix)
    return [lead + source]


# --- the rows ------------------------------------------------------------------------------


@cache
def read(row: LabelledSignal) -> str:
    """What the patterns are searched in: the text the classifier reads, lower-cased."""
    return rules.normalise(report_text(row.text)).lower()


def _matching(alternative: re.Pattern[str], rows: Iterable[LabelledSignal]) -> list[str]:
    return [row.id for row in rows if alternative.search(read(row))]


def leaks(held: tuple[LabelledSignal, ...], train: tuple[LabelledSignal, ...]) -> list[str]:
    """Alternatives that match a row of ``held`` and no row of ``train``."""
    found = []
    for name, pattern in patterns():
        for source in alternatives(pattern.pattern):
            try:
                alternative = re.compile(source, pattern.flags)
            except re.error:  # a fragment that needs its context: judged with the whole
                continue
            only_held = _matching(alternative, held)
            if only_held and not _matching(alternative, train):
                found.append(f"{name}: {source!r} matches only {', '.join(only_held[:3])}")
    return found


def test_the_alternatives_of_a_pattern_are_found() -> None:
    source = rules._rx(r"wants? (?:a|an) quote", r"offerte", r"\w*storing").pattern
    assert alternatives(source) == [
        r"(?<![\w])wants? (?:a|an) quote",
        r"(?<![\w])offerte",
        r"storing",
    ]
    assert alternatives(r"(?:a|b)c|d") == [r"(?:a|b)c", "d"]
    assert alternatives(r"[|(]x|\(y") == [r"[|(]x", r"\(y"]


def test_patterns_are_found_in_every_classifier_module() -> None:
    names = {name.split(".")[0] for name, _ in patterns()}
    assert {"rules", "model"} <= names


def test_no_pattern_matches_only_held_out_rows() -> None:
    found = leaks(held_out_rows(), train_rows())
    assert not found, f"{len(found)} alternatives match only held-out rows:\n" + "\n".join(found)


def test_no_pattern_matches_only_rows_the_cross_author_model_is_scored_on() -> None:
    dedupe, train = load_labelled((DEDUPE,)), train_rows((CLASSIFICATION,))
    found = leaks(dedupe, train)
    assert not found, (
        f"{len(found)} alternatives match rows of the dedupe set and no classification "
        "training row:\n" + "\n".join(found)
    )


def _words(rows: Iterable[LabelledSignal]) -> set[str]:
    return {word for row in rows for word in re.findall(r"[^\W\d_]+", read(row))}


@pytest.mark.parametrize(
    ("name", "held", "train"),
    [
        ("production", lambda: held_out_rows(), lambda: train_rows()),
        ("cross-author", lambda: load_labelled((DEDUPE,)), lambda: train_rows((CLASSIFICATION,))),
    ],
)
def test_the_speller_knows_no_word_that_only_held_out_texts_use(
    name: str, held: object, train: object
) -> None:
    only_held = _words(held()) - _words(train())  # type: ignore[operator]
    models = model.trained_models() if name == "production" else classification_only_models()
    known = sorted(set(models.speller.counts) & only_held)
    assert not known, f"{len(known)} words only in held-out texts: {', '.join(known[:60])}"
