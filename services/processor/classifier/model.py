"""The trained model: calibrated logistic regression on words, characters and cues.

Three heads share one feature vector (``features.py``): kind (complaint, opportunity,
other), category and urgency. Each is a multinomial logistic regression (scikit-learn);
the kind head is calibrated by temperature scaling (``CalibratedClassifierCV``, fitted on
predictions for rows each fold did not train on, folds grouped by the split key so that
near-copies of one case never sit on both sides), so that its probability can decide
what goes to triage. Only the classification files rate urgency; that head learns from
those rows.

Training reads only training rows and is deterministic. Scoring does the arithmetic
itself, for a whole batch: one sparse matrix, one product per head, softmax; exactly what
the fitted scikit-learn estimators' ``predict_proba`` gives (a unit test checks it), with
none of their per-call checks.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache, cached_property, lru_cache
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp

from schemas import Category, Kind, Urgency
from services.common.language import detect_language
from services.common.message_text import clean_text, report_content
from services.processor.classifier import cues as cue_module
from services.processor.classifier.features import Features, fit_features
from services.processor.classifier.split import LabelledSignal

SEED = 0
# A signal says what it is about early on; this bounds the time a huge paste can take.
MAX_TEXT_CHARS = 20_000
TOP_TERMS = 3


@dataclass(frozen=True)
class Settings:
    """Hyperparameters. ``c_kind`` and ``cue_scale`` were chosen on the cross-author
    figure (trained on the classification files' train rows, scored on the dedupe set):
    cue_scale 0.1 gave macro-F1 0.75 there, 0.5 gave 0.66, 0 gave 0.70; never on the
    third set. ``antenna train --tune`` chooses them by grouped CV inside the train rows."""

    c_kind: float = 4.0
    c_category: float = 10.0
    c_urgency: float = 4.0
    word_min_df: int = 2
    char_min_df: int = 2
    cue_scale: float = 0.1
    # The category and urgency heads see their cues this many times stronger (0.5 in all):
    # a named product or "tonight" says more about those than any cue says about the kind.
    cue_boost: float = 5.0
    negation: bool = True
    calibration_folds: int = 4
    # Newton-CG stops when the gradient is this small: the predictions are settled well
    # before the default 1e-4, and training takes a second or two.
    tol: float = 1e-3

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


SETTINGS = Settings()

_EMAIL = re.compile(r"(?<!\S)[^\s@]+@[^\s@]+\.\w+")
_URL = re.compile(r"(?:https?://|www\.)\S+")
_PHONE = re.compile(r"\+?\d[\d ()-]{7,}\d")
_DIGIT = re.compile(r"\d")
_PAYLOAD_PUNCTUATION = re.compile(r"[_=;{}\[\]\"|]")

L = TypeVar("L", bound=StrEnum)

_LETTERS = re.compile(r"[^\W\d_]+")
_ALPHABET = "abcdefghijklmnopqrstuvwxyzëéïöü"
_IN_ALPHABET = frozenset(_ALPHABET)
# Words shorter than this are left alone; an inserted letter is only tried from INSERT_FROM.
MIN_TYPO_LENGTH = 4
INSERT_FROM = 6
# Longer "words" (a pasted token, a base64 blob) are no typos and would cost a lot to try.
MAX_TYPO_LENGTH = 30
MAX_CACHED_WORDS = 50_000


@dataclass(frozen=True)
class Speller:
    """Undoes the commonest typing slips against the words of the training texts.

    A word the training texts never use is replaced by a known word one slip away: two
    neighbouring letters swapped ("connectoin"), a letter doubled ("schoonnmoeder") or, in
    longer words, a letter left out ("coleague"); the most frequent such word wins. No
    substitutions and no arbitrary deletions: with a vocabulary this small they would turn
    real words into other real words. Known words are never touched."""

    counts: dict[str, int]
    cache: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)
    # Words as written that are left as they are (known, too short or long, or no known
    # word one slip away): a text of only such words is returned without a substitution.
    kept: set[str] = field(default_factory=set, compare=False, repr=False)

    @classmethod
    def of(cls, texts: Sequence[str], lexicon: Iterable[str] = ()) -> Speller:
        """Known words: those of ``texts`` (by frequency) and those of ``lexicon`` (once)."""
        counts = Counter(w for text in texts for w in _LETTERS.findall(text.lower()))
        for word in lexicon:
            counts[word] = counts[word] or 1
        return cls(dict(counts))

    def correct(self, text: str) -> str:
        kept = self.kept
        words = _LETTERS.findall(text)
        if kept.issuperset(words):  # nearly every text: no call per word
            return text
        if len(kept) >= MAX_CACHED_WORDS:
            kept.clear()
        changed = False
        for word in words:
            if word not in kept:
                if self._fix_word(word) is word:
                    kept.add(word)
                else:
                    changed = True
        return _LETTERS.sub(self._fix, text) if changed else text

    def _fix(self, match: re.Match[str]) -> str:
        word = match.group(0)
        return word if word in self.kept else self._fix_word(word)

    def _fix_word(self, word: str) -> str:
        """``word`` itself (the same object) when it stays, else its correction."""
        lower = word.lower()
        if not MIN_TYPO_LENGTH <= len(lower) <= MAX_TYPO_LENGTH or lower in self.counts:
            return word
        if lower not in self.cache:
            if len(self.cache) >= MAX_CACHED_WORDS:
                self.cache.clear()
            known = self._slips_undone(lower)
            self.cache[lower] = max(known, key=lambda w: (self.counts[w], w)) if known else None
        fixed = self.cache[lower]
        if fixed is None:
            return word
        if word.isupper():
            return fixed.upper()
        return fixed.capitalize() if word[0].isupper() else fixed

    def _slips_undone(self, word: str) -> list[str]:
        """The known words one slip away from ``word``: two neighbouring letters swapped
        back, a doubled letter once, and (from INSERT_FROM letters) a left-out letter put
        back, the last found in ``_left_out`` rather than by trying every letter in
        every place."""
        splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
        words = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        words |= {a + b[1:] for a, b in splits if a and b and a[-1] == b[0]}
        if len(word) >= INSERT_FROM:
            words.update(self._left_out.get(word, ()))
        words.discard(word)
        return [w for w in words if w in self.counts]

    @cached_property
    def _left_out(self) -> dict[str, list[str]]:
        """Each known word with one of its letters (of _ALPHABET) left out -> the known
        words it comes from: a word plus one letter anywhere is known exactly when the
        word is a key here. Built on the first such look-up (a few milliseconds)."""
        index: dict[str, list[str]] = {}
        for known in self.counts:
            for i, letter in enumerate(known):
                if letter in _IN_ALPHABET:
                    index.setdefault(known[:i] + known[i + 1 :], []).append(known)
        return index


def prepare(text: str) -> str:
    """Lower-case, with addresses, phone numbers and digits replaced by placeholders, and
    structured payloads ('lead_type=energy_switch;') turned into plain words."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("\u00a0", " ")
    # Each of these needs a character or a piece the text may not have.
    if "@" in text:
        text = _EMAIL.sub(" emailaddress ", text)
    if "://" in text or "www." in text:
        text = _URL.sub(" webaddress ", text)
    text = _PHONE.sub(" phonenumber ", text)
    text = _DIGIT.sub("0", text)
    return _PAYLOAD_PUNCTUATION.sub(" ", text)


# The classifier and the dedupe matter both read a signal's text, one after the other.
@lru_cache(maxsize=256)
def report_text(text: str) -> str:
    """What the classifier reads of a signal: the new text of the message (no quoted
    replies, signatures or disclaimers) without the relay's wrapping (tool tags, form
    labels, greetings, contact details, "who can pick this up?"), bounded in length."""
    return report_content(clean_text(text)[:MAX_TEXT_CHARS])


@dataclass(frozen=True)
class Head:
    """A fitted multinomial logistic regression: softmax(beta * (x . W + b)). ``beta`` is
    the calibration's inverse temperature (1 for an uncalibrated head)."""

    classes: tuple[str, ...]
    weights: Any  # ndarray (n_features, n_classes)
    intercept: Any  # ndarray (n_classes,)
    beta: float = 1.0

    @cached_property
    def contrast(self) -> Any:
        """Each feature's weight for each class against its mean over the classes."""
        return self.weights - self.weights.mean(axis=1, keepdims=True)

    def scores(self, x: Any) -> Any:
        return np.asarray(x @ self.weights) + self.intercept

    def probabilities(self, x: Any) -> Any:
        """One row of class probabilities per row of ``x``, in ``classes`` order."""
        return self.softmax(self.scores(x))

    def softmax(self, scores: Any) -> Any:
        """Probabilities from ``scores`` (``x . W + b``)."""
        scores = self.beta * scores
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def as_dicts(self, p: Any, labels: type[L]) -> list[dict[L, float]]:
        order = [labels(label) for label in self.classes]
        missing = dict.fromkeys((label for label in labels if label not in order), 0.0)
        # tolist(): Python floats at once, the same values as float() of each.
        return [{**dict(zip(order, row, strict=True)), **missing} for row in p.tolist()]


@dataclass(frozen=True)
class TrainedModels:
    """Everything that scores a text: features, speller and the three heads."""

    features: Features
    speller: Speller
    kind: Head
    category: Head
    urgency: Head
    n_rows: int
    settings: Settings = SETTINGS
    feature_names: tuple[str, ...] = ()
    version: str = ""  # the model file's version; "" for the built-in model

    def matrix(self, texts: Sequence[str], languages: Sequence[str]) -> Any:
        return self.features.matrix([prepare(text) for text in texts], languages)

    @cached_property
    def _weights(self) -> Any:
        """The three heads' weights side by side: one product scores all three (a column's
        sums are the same as in a product of its head alone)."""
        return np.ascontiguousarray(
            np.hstack([self.kind.weights, self.category.weights, self.urgency.weights])
        )

    def probabilities(self, x: Any) -> tuple[Any, Any, Any]:
        """Each head's ``probabilities(x)``, from one product."""
        products = np.asarray(x @ self._weights)
        out = []
        start = 0
        for head in (self.kind, self.category, self.urgency):
            end = start + len(head.classes)
            out.append(head.softmax(products[:, start:end] + head.intercept))
            start = end
        return out[0], out[1], out[2]


@dataclass(frozen=True)
class ModelOutput:
    kind: dict[Kind, float]
    category: dict[Category, float]
    urgency: dict[Urgency, float]
    kind_terms: tuple[str, ...]  # the features that pushed most towards the predicted kind
    cues: tuple[str, ...] = ()  # the cues that fired

    @property
    def top_kind(self) -> Kind:
        return max(self.kind, key=self.kind.__getitem__)


def _logistic(c: float, tol: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(
        C=c,
        class_weight="balanced",
        solver="newton-cg",
        max_iter=1000,
        tol=tol,
        random_state=SEED,
    )


def _group_folds(labels: Sequence[str], groups: Sequence[str], folds: int) -> list[Any]:
    """Stratified folds that keep each group (a row, or a dedupe case) on one side."""
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=SEED)
    return list(splitter.split(np.zeros(len(labels)), labels, groups))


def fit_head(x: Any, labels: Sequence[str], c: float, tol: float) -> Head:
    model = _logistic(c, tol).fit(x, labels)
    return Head(
        tuple(str(label) for label in model.classes_),
        np.ascontiguousarray(model.coef_.T),
        model.intercept_.copy(),
    )


def fit_calibrated_head(
    x: Any, labels: Sequence[str], groups: Sequence[str], c: float, tol: float, folds: int
) -> Head:
    """A logistic regression fitted on all rows, with a temperature fitted on the
    predictions each fold made for the rows it did not train on."""
    from sklearn.calibration import CalibratedClassifierCV

    calibrated = CalibratedClassifierCV(
        _logistic(c, tol),
        method="temperature",
        cv=_group_folds(labels, groups, folds),
        ensemble=False,
    ).fit(x, labels)
    fitted = calibrated.calibrated_classifiers_[0]
    model = fitted.estimator
    return Head(
        tuple(str(label) for label in calibrated.classes_),
        np.ascontiguousarray(model.coef_.T),
        model.intercept_.copy(),
        float(fitted.calibrators[0].beta_),
    )


def train(
    rows: Sequence[LabelledSignal],
    settings: Settings = SETTINGS,
    clean: Callable[[str], str] | None = report_text,
) -> TrainedModels:
    """Fit the features and the three heads on ``rows`` (training rows only)."""
    cleaned = [clean(row.text) if clean else row.text for row in rows]
    # The training texts' words only: a word the patterns spell out but no training text
    # uses could be one that only held-out texts use (tests/unit/test_held_out_leaks.py).
    speller = Speller.of(cleaned)
    texts = [speller.correct(text) for text in cleaned]
    languages = [detect_language(text, row.language) for text, row in zip(texts, rows, strict=True)]
    prepared = [prepare(text) for text in texts]
    features = fit_features(
        prepared,
        languages,
        word_min_df=settings.word_min_df,
        char_min_df=settings.char_min_df,
        cue_scale=settings.cue_scale,
        negation=settings.negation,
    )
    x = features.matrix(prepared, languages)
    groups = [row.split_key for row in rows]
    rated = [i for i, row in enumerate(rows) if row.urgency is not None]
    # Each head sees the words, the characters and its own cues: the kind head does not
    # learn that cards are complaints, nor the category head that praise is "other".
    kind_cues = cue_module.kind_cue_names()
    category_cues = [cue.name for cue in cue_module.CATEGORY_CUES]
    urgency_cues = [*kind_cues, *(cue.name for cue in cue_module.URGENCY_CUES)]
    kind_mask = _cue_mask(features, kind_cues, 1.0)
    category_mask = _cue_mask(features, category_cues, settings.cue_boost)
    urgency_mask = _cue_mask(features, urgency_cues, settings.cue_boost)
    kind = fit_calibrated_head(
        _masked(x, kind_mask),
        [row.kind for row in rows],
        groups,
        settings.c_kind,
        settings.tol,
        settings.calibration_folds,
    )
    category = fit_head(
        _masked(x, category_mask), [row.category for row in rows], settings.c_category, settings.tol
    )
    urgency = fit_head(
        _masked(x, urgency_mask)[rated],
        [str(rows[i].urgency) for i in rated],
        settings.c_urgency,
        settings.tol,
    )
    return TrainedModels(
        features=features,
        speller=speller,
        kind=_unmasked(kind, kind_mask),
        category=_unmasked(category, category_mask),
        urgency=_unmasked(urgency, urgency_mask),
        n_rows=len(rows),
        settings=settings,
        feature_names=tuple(features.names()),
    )


def _cue_mask(features: Features, cue_names: Sequence[str], scale: float) -> Any:
    """A factor per column: 1 for words and characters, ``scale`` for ``cue_names``' cue
    columns, 0 for the other cues."""
    keep = set(cue_names)
    offset = features.size - len(features.cue_names)
    mask = np.ones(features.size)
    for i, name in enumerate(features.cue_names):
        mask[offset + i] = scale if name in keep else 0.0
    return mask


def _masked(x: Any, mask: Any) -> Any:
    return (x @ sp.diags(mask)).tocsr()


def _unmasked(head: Head, mask: Any) -> Head:
    """The head fitted on ``x * mask`` as weights for ``x`` itself: scoring needs no mask
    (the other cues' weights are 0)."""
    return replace(head, weights=np.ascontiguousarray(head.weights * mask[:, None]))


def predict_many(
    models: TrainedModels, texts: Sequence[str], languages: Sequence[str]
) -> list[ModelOutput]:
    """Probabilities for ``texts`` (cleaned and spell-corrected), as one batch."""
    if not texts:
        return []
    x = models.matrix(texts, languages)
    kind_p, category_p, urgency_p = models.probabilities(x)
    kinds = models.kind.as_dicts(kind_p, Kind)
    categories = models.category.as_dicts(category_p, Category)
    urgencies = models.urgency.as_dicts(urgency_p, Urgency)
    terms = _top_terms(models, x, [max(kind, key=kind.__getitem__) for kind in kinds])
    fired = _fired_cues(models, x)
    return [
        ModelOutput(
            kind=kind,
            category=categories[i],
            urgency=urgencies[i],
            kind_terms=terms[i],
            cues=tuple(fired[i]),
        )
        for i, kind in enumerate(kinds)
    ]


def _fired_cues(models: TrainedModels, x: Any) -> list[list[str]]:
    """For each row of ``x``, the names of its cue columns, in column order."""
    cue_offset = models.features.words.size + models.features.chars.block.size
    names = models.features.cue_names
    entries = np.flatnonzero(x.indices >= cue_offset)
    rows = np.searchsorted(x.indptr, entries, side="right") - 1
    fired: list[list[str]] = [[] for _ in range(x.shape[0])]
    for i, column in zip(rows.tolist(), x.indices[entries].tolist(), strict=True):
        fired[i].append(names[column - cue_offset])
    return fired


def predict(models: TrainedModels, text: str, language: str | None = None) -> ModelOutput:
    """Probabilities for one ``text`` (already cleaned)."""
    return predict_many(models, [text], [language or detect_language(text)])[0]


def _top_terms(models: TrainedModels, x: Any, kinds: Sequence[Kind]) -> list[tuple[str, ...]]:
    """For each row of ``x``, the features of its text that pushed most towards its kind
    in ``kinds`` against the others (at most TOP_TERMS, strongest first; of equal pushes
    the first in the row), for the whole batch at once."""
    head = models.kind
    row = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    k = np.array([head.classes.index(kind.value) for kind in kinds], dtype=np.intp)
    push = x.data * head.contrast[x.indices, k[row]]
    pushing = np.flatnonzero(push > 0)
    chosen = (_by_sorting if len(pushing) < SORT_BELOW else _by_rounds)(push, row, pushing)
    names = models.feature_names
    terms: list[list[str]] = [[] for _ in kinds]
    for column, i in zip(x.indices[chosen].tolist(), row[chosen].tolist(), strict=True):
        terms[i].append(names[column])
    return [tuple(found) for found in terms]


# Entries that push: below this many one sort of them all is quicker than the rounds.
SORT_BELOW = 2000


def _by_sorting(push: Any, row: Any, pushing: Any) -> Any:
    """The TOP_TERMS strongest of ``pushing`` per row, by row, strongest first: one
    stable sort by row, then by push, keeps each row's order."""
    order = pushing[np.lexsort((-push[pushing], row[pushing]))]
    rows = row[order]
    rank = np.arange(len(order)) - np.searchsorted(rows, rows)  # place within its row
    return order[rank < TOP_TERMS]


def _by_rounds(push: Any, row: Any, pushing: Any) -> Any:
    """What ``_by_sorting`` chooses (in round order: each row's strongest, then each
    row's second, ...), in TOP_TERMS rounds that each take every row's strongest
    remaining push: a few passes over the entries instead of a sort of them all."""
    left = pushing  # entries still in the running, in row order
    taken = []
    for _ in range(TOP_TERMS):
        if not left.size:
            break
        rows = row[left]
        new_row = rows[1:] != rows[:-1]
        starts = np.flatnonzero(np.concatenate(([True], new_row)))
        segment = np.concatenate(([0], np.cumsum(new_row)))  # the entry's row, from 0
        strongest = np.maximum.reduceat(push[left], starts)
        ties = np.flatnonzero(push[left] == strongest[segment])
        first = ties[np.concatenate(([True], segment[ties[1:]] != segment[ties[:-1]]))]
        taken.append(left[first])
        left = np.delete(left, first)
    return np.concatenate(taken) if taken else left


def trained_models() -> TrainedModels:
    """The model in use (the active model file, else the built-in model)."""
    from services.processor.classifier.store import current_model

    return current_model()


@cache
def classification_only_models() -> TrainedModels:
    """Trained on the TRAIN split of the classification files alone: scored on the dedupe
    set, written by another author, it measures how well the classifier generalises."""
    from services.processor.classifier.split import CLASSIFICATION, train_rows

    return train(train_rows((CLASSIFICATION,)))
