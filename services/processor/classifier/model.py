"""A small trained model: TF-IDF word 1-2 grams and character 3-5 grams, one multinomial
logistic regression each for kind, category and urgency.

Trained at first use from the TRAIN split of both shipped labelled sources (the
classification files and the dedupe set, see ``split``; never the held-out rows),
deterministically, in about a second, and kept in memory; nothing is pickled or downloaded.
Only the classification files rate urgency, so the urgency head learns from those. The
model reads what the classifier reads (``report_text``: the cleaned text without the
relay's wrapping), and a ``Speller`` built from the training words and the rules' words
undoes typing slips before it is asked.

Scoring one text is the hot path of the processor, and scikit-learn's per-call input
checks cost more than the arithmetic, so ``predict`` does the arithmetic itself with the
fitted pieces: the vectorizers' own analyzers, vocabularies and idf weights give the
TF-IDF vector (sublinear tf, l2-normalised per block), and softmax(x . W + b) gives the
probabilities, exactly as the fitted pipeline's ``predict_proba`` (a unit test checks it).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache, partial
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from schemas import Category, Kind, Urgency
from services.common.message_text import clean_text, report_content
from services.processor.classifier import rules
from services.processor.classifier.split import CLASSIFICATION, LabelledSignal, train_rows

SEED = 0
C_KIND = 10.0
C_CATEGORY = 10.0
C_URGENCY = 10.0
# Newton-CG stops when the gradient is this small: the predictions are settled well before
# the default 1e-4, and training at first use stays around a second.
TOL = 1e-3
TOP_TERMS = 3
# Character n-grams within words: 3-5 scores as well as 2-5 and is a quarter less work.
CHAR_NGRAMS = (3, 5)
# A signal says what it is about early on; this bounds the time a huge paste can take.
MAX_TEXT_CHARS = 20_000

_EMAIL = re.compile(r"(?<!\S)[^\s@]+@[^\s@]+\.\w+")
_URL = re.compile(r"(?:https?://|www\.)\S+")
_PHONE = re.compile(r"\+?\d[\d ()-]{7,}\d")
_DIGIT = re.compile(r"\d")
_PAYLOAD_PUNCTUATION = re.compile(r"[_=;{}\[\]\"|]")

L = TypeVar("L", bound=StrEnum)

_LETTERS = re.compile(r"[^\W\d_]+")
_ALPHABET = "abcdefghijklmnopqrstuvwxyzëéïöü"
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

    @classmethod
    def of(cls, texts: Sequence[str], lexicon: Iterable[str] = ()) -> Speller:
        """Known words: those of ``texts`` (by frequency) and those of ``lexicon`` (once)."""
        counts = Counter(w for text in texts for w in _LETTERS.findall(text.lower()))
        for word in lexicon:
            counts[word] = counts[word] or 1
        return cls(dict(counts))

    def correct(self, text: str) -> str:
        return _LETTERS.sub(self._fix, text)

    def _fix(self, match: re.Match[str]) -> str:
        word = match.group(0)
        lower = word.lower()
        if not MIN_TYPO_LENGTH <= len(lower) <= MAX_TYPO_LENGTH or lower in self.counts:
            return word
        if lower not in self.cache:
            if len(self.cache) >= MAX_CACHED_WORDS:
                self.cache.clear()
            known = [w for w in _slips_undone(lower) if w in self.counts]
            self.cache[lower] = max(known, key=lambda w: (self.counts[w], w)) if known else None
        fixed = self.cache[lower]
        if fixed is None:
            return word
        if word.isupper():
            return fixed.upper()
        return fixed.capitalize() if word[0].isupper() else fixed


def _slips_undone(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    words = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    words |= {a + b[1:] for a, b in splits if a and b and a[-1] == b[0]}
    if len(word) >= INSERT_FROM:
        words |= {a + c + b for a, b in splits for c in _ALPHABET}
    words.discard(word)
    return words


def prepare(text: str) -> str:
    """Lower-case, with addresses, phone numbers and digits replaced by placeholders, and
    structured payloads ('lead_type=energy_switch;') turned into plain words."""
    text = text.lower().replace("\u2019", "'")
    text = _EMAIL.sub(" emailaddress ", text)
    text = _URL.sub(" webaddress ", text)
    text = _PHONE.sub(" phonenumber ", text)
    text = _DIGIT.sub("0", text)
    return _PAYLOAD_PUNCTUATION.sub(" ", text)


def _word_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)


def _char_vectorizer() -> TfidfVectorizer:
    # analyzer="char_wb", ngram_range=CHAR_NGRAMS, by _char_wb_ngrams: the same n-grams, faster.
    return TfidfVectorizer(
        analyzer=partial(_char_wb_ngrams, low=CHAR_NGRAMS[0], high=CHAR_NGRAMS[1]),
        sublinear_tf=True,
        min_df=2,
    )


@dataclass(frozen=True)
class SparseRow:
    """One text's TF-IDF vector in one feature block: column indices and their values."""

    indices: Any  # ndarray of int
    values: Any  # ndarray of float


@dataclass(frozen=True)
class Block:
    """What a fitted TfidfVectorizer needs to turn a text into its vector."""

    analyze: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    idf: Any  # ndarray

    @classmethod
    def of(cls, vectorizer: TfidfVectorizer) -> Block:
        return cls(vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_)

    def row(self, text: str) -> SparseRow:
        """Sublinear tf times idf, l2-normalised: TfidfVectorizer.transform for one text."""
        counts = Counter(self.analyze(text))
        terms = counts.keys() & self.vocabulary.keys()
        # Iterating one unchanged set twice visits it in the same order.
        indices = np.fromiter(map(self.vocabulary.__getitem__, terms), np.intp, len(terms))
        tf = np.fromiter(map(counts.__getitem__, terms), float, len(terms))
        order = np.argsort(indices)  # column order, the same in every process
        indices, tf = indices[order], tf[order]
        values = (1.0 + np.log(tf)) * self.idf[indices]
        norm = np.sqrt(values @ values)
        return SparseRow(indices, values / norm if norm else values)


def _char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    """What scikit-learn's analyzer="char_wb" gives (lower-cased, no accent stripping): the
    character n-grams of each space-padded word, a word shorter than n once and whole. Built
    with list comprehensions, which is about twice as fast; a unit test checks it."""
    grams: list[str] = []
    for word in text.lower().split():
        padded = f" {word} "
        size = len(padded)
        for n in range(low, high + 1):
            if size <= n:
                grams.append(padded)
                break
            grams += [padded[i : i + n] for i in range(size - n + 1)]
    return grams


@dataclass(frozen=True)
class LinearHead:
    """A fitted logistic regression, its weights split into the word and the char block."""

    classes: tuple[str, ...]
    word_weights: Any  # ndarray (n_words, n_classes)
    char_weights: Any  # ndarray (n_chars, n_classes)
    intercept: Any  # ndarray (n_classes,)
    fitted: Any  # the LogisticRegression itself

    @classmethod
    def fit(cls, x: Any, labels: Sequence[str], c: float, n_words: int) -> LinearHead:
        model = LogisticRegression(
            C=c,
            class_weight="balanced",
            solver="newton-cg",
            tol=TOL,
            max_iter=1000,
            random_state=SEED,
        ).fit(x, labels)
        coef = model.coef_
        return cls(
            classes=tuple(str(label) for label in model.classes_),
            word_weights=np.ascontiguousarray(coef[:, :n_words].T),
            char_weights=np.ascontiguousarray(coef[:, n_words:].T),
            intercept=model.intercept_.copy(),
            fitted=model,
        )

    def probabilities(self, words: SparseRow, chars: SparseRow, labels: type[L]) -> dict[L, float]:
        scores = (
            words.values @ self.word_weights[words.indices]
            + chars.values @ self.char_weights[chars.indices]
            + self.intercept
        )
        exp = np.exp(scores - scores.max())
        p = exp / exp.sum()
        result = dict.fromkeys(labels, 0.0)
        for label, value in zip(self.classes, p, strict=True):
            result[labels(label)] = float(value)
        return result


@dataclass(frozen=True)
class TrainedModels:
    words: Any  # fitted TfidfVectorizer, word 1-2 grams
    chars: Any  # fitted TfidfVectorizer, char_wb n-grams (CHAR_NGRAMS)
    word_block: Block
    char_block: Block
    kind: LinearHead
    category: LinearHead
    urgency: LinearHead
    word_names: tuple[str, ...]
    n_rows: int
    speller: Speller

    def features(self, texts: Sequence[str]) -> Any:
        """The stacked feature matrix, as the heads were fitted on."""
        prepared = [prepare(text) for text in texts]
        return sp.hstack([self.words.transform(prepared), self.chars.transform(prepared)]).tocsr()


@dataclass(frozen=True)
class ModelOutput:
    kind: dict[Kind, float]
    category: dict[Category, float]
    urgency: dict[Urgency, float]
    kind_terms: tuple[str, ...]  # the words that pushed most towards the predicted kind

    @property
    def top_kind(self) -> Kind:
        return max(self.kind, key=self.kind.__getitem__)


def train(
    rows: Sequence[LabelledSignal], clean: Callable[[str], str] | None = None
) -> TrainedModels:
    """Fit the features and the three classifiers on ``rows``.

    ``clean`` is applied to each text first (``train_models`` passes ``report_text``), so
    the model learns from what it will see in production."""
    cleaned = [clean(row.text) if clean else row.text for row in rows]
    texts = [prepare(text) for text in cleaned]
    words, chars = _word_vectorizer(), _char_vectorizer()
    x_words = words.fit_transform(texts)
    x = sp.hstack([x_words, chars.fit_transform(texts)]).tocsr()
    n_words = x_words.shape[1]
    # Only the classification files rate urgency; the urgency head learns from those rows.
    rated = [(i, row.urgency) for i, row in enumerate(rows) if row.urgency is not None]
    return TrainedModels(
        words=words,
        chars=chars,
        word_block=Block.of(words),
        char_block=Block.of(chars),
        kind=LinearHead.fit(x, [row.kind for row in rows], C_KIND, n_words),
        category=LinearHead.fit(x, [row.category for row in rows], C_CATEGORY, n_words),
        urgency=LinearHead.fit(
            x[[i for i, _ in rated]], [urgency for _, urgency in rated], C_URGENCY, n_words
        ),
        word_names=tuple(words.get_feature_names_out()),
        n_rows=len(rows),
        speller=Speller.of(cleaned, rules.lexicon()),
    )


def report_text(text: str) -> str:
    """What the classifier reads of a signal: the new text of the message (no quoted
    replies, signatures or disclaimers) without the relay's wrapping (tool tags, form
    labels, greetings, contact details, "who can pick this up?"), bounded in length."""
    return report_content(clean_text(text)[:MAX_TEXT_CHARS])


def train_models(rows: Sequence[LabelledSignal]) -> TrainedModels:
    """``train`` on ``rows`` with the text the classifier reads in production."""
    return train(rows, report_text)


@cache
def trained_models() -> TrainedModels:
    """The production model: trained once per process on the TRAIN split of both labelled
    sources (the classification files and the dedupe set), never on held-out rows."""
    return train_models(train_rows())


@cache
def classification_only_models() -> TrainedModels:
    """Trained on the TRAIN split of the classification files alone: scored on the dedupe
    set, written by another author, it measures how well the classifier generalises."""
    return train_models(train_rows((CLASSIFICATION,)))


def predict(models: TrainedModels, text: str) -> ModelOutput:
    """Probabilities for one ``text`` (already cleaned)."""
    prepared = prepare(text)
    x_words = models.word_block.row(prepared)
    x_chars = models.char_block.row(prepared)
    kind = models.kind.probabilities(x_words, x_chars, Kind)
    top = max(kind, key=kind.__getitem__)
    return ModelOutput(
        kind=kind,
        category=models.category.probabilities(x_words, x_chars, Category),
        urgency=models.urgency.probabilities(x_words, x_chars, Urgency),
        kind_terms=_top_terms(models, x_words, top),
    )


def _top_terms(models: TrainedModels, x_words: SparseRow, kind: Kind) -> tuple[str, ...]:
    """Word n-grams of this text that pushed most towards ``kind``."""
    weights = models.kind.word_weights[:, models.kind.classes.index(kind.value)]
    contributions = [
        (float(value * weights[column]), models.word_names[column])
        for column, value in zip(x_words.indices, x_words.values, strict=True)
        if value * weights[column] > 0
    ]
    contributions.sort(key=lambda pair: (-pair[0], pair[1]))
    return tuple(term for _, term in contributions[:TOP_TERMS])
