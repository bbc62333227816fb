"""From cleaned text to the model's feature vector, for a whole batch at once.

Three blocks, side by side in one sparse row per text:

- words: unigrams and bigrams of Snowball stems (Dutch or English, as the text's language;
  "klachten" and "klacht", "switching" and "switch" are one feature), with the two words
  after a negation ("niet", "geen", "not", "no longer", "doesn't") marked as negated:
  "niet tevreden" is not "tevreden". TF-IDF, sublinear tf, each block l2-normalised;
- characters: n-grams (3 to 5) inside words, for typing slips, compounds and mixed
  language, TF-IDF as above;
- cues (``cues.py``): who has the problem, failure, praise, buying intent, competitors,
  category and urgency words, and their combinations; 0 or 1 (2 for a category named
  twice), times ``cue_scale``.

What does not change between texts is cached: a word's stem and a word's character
n-gram columns are computed once per process (bounded caches), so a batch costs a few
dictionary look-ups per word. The same code builds the rows for training and for scoring.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
import snowballstemmer

from services.processor.classifier import cues as cue_module

CHAR_NGRAMS = (3, 5)
NEGATION_REACH = 2  # words after a negation that are marked as negated
MAX_CACHED_WORDS = 100_000

# Words, numbers (already 0s), and emoji; punctuation ends a negation's reach.
_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*|\d+|[.!?;:,]|[\U0001f300-\U0001faff\u2600-\u27bf]")
_PUNCTUATION = frozenset(".!?;:,")
NEGATIONS = frozenset(
    "not no never nothing nobody niet geen nooit niets niks niemand nergens nie "
    "cannot can't won't don't doesn't didn't isn't aren't wasn't weren't hasn't haven't "
    "couldn't wouldn't shouldn't".split()
)
_STEMMERS = {"nl": snowballstemmer.stemmer("dutch"), "en": snowballstemmer.stemmer("english")}


@dataclass
class Stemmer:
    """Snowball stems, cached per (language, word)."""

    cache: dict[tuple[str, str], str] = field(default_factory=dict)

    def __call__(self, word: str, language: str) -> str:
        key = (language, word)
        stem = self.cache.get(key)
        if stem is None:
            if len(self.cache) >= MAX_CACHED_WORDS:
                self.cache.clear()
            stemmer = _STEMMERS.get(language, _STEMMERS["en"])
            stem = self.cache[key] = stemmer.stemWord(word) if len(word) > 2 else word
        return stem

    def preload(self, language: str, words: Sequence[str], stems: Sequence[str]) -> None:
        """Take ``stems`` (``self(word, language)`` of each of ``words``, computed when a
        model file was written) into the cache: a fresh process does not stem the
        training texts' words again, a tenth of `antenna classify`'s CPU on 10,000 lines."""
        if len(self.cache) + len(words) > MAX_CACHED_WORDS:
            return
        self.cache.update(zip(((language, word) for word in words), stems, strict=True))


STEM = Stemmer()


def word_terms(text: str, language: str, negation: bool = True) -> list[str]:
    """The word unigrams and bigrams of ``text`` (prepared: lower-case, placeholders)."""
    terms: list[str] = []
    negated = 0
    previous: str | None = None
    known = STEM.cache.get
    for token in _TOKEN.findall(text):
        if token in _PUNCTUATION:
            negated, previous = 0, None
            continue
        stem = known((language, token)) or STEM(token, language)
        if negation:
            if negated:
                stem = "not_" + stem
                negated -= 1
            if token in NEGATIONS:
                negated = NEGATION_REACH
        terms.append(stem)
        if previous is not None:
            terms.append(previous + " " + stem)
        previous = stem
    return terms


def char_terms(text: str) -> list[str]:
    """Character n-grams (CHAR_NGRAMS) of each space-padded word, as scikit-learn's
    "char_wb" analyzer makes them: a word shorter than n once and whole."""
    low, high = CHAR_NGRAMS
    grams: list[str] = []
    for word in text.split():
        padded = f" {word} "
        size = len(padded)
        for n in range(low, high + 1):
            if size <= n:
                grams.append(padded)
                break
            grams += [padded[i : i + n] for i in range(size - n + 1)]
    return grams


@dataclass(frozen=True)
class Block:
    """One TF-IDF block: the vocabulary (term -> column) and the idf of each column."""

    vocabulary: dict[str, int]
    idf: Any  # ndarray of float

    @classmethod
    def fit(cls, documents: Sequence[Iterable[str]], min_df: int) -> Block:
        """scikit-learn's smooth idf: ln((1 + n) / (1 + df)) + 1; terms in sorted order."""
        df: Counter[str] = Counter()
        for terms in documents:
            df.update(set(terms))
        kept = sorted(term for term, count in df.items() if count >= min_df)
        n = len(documents)
        idf = np.array([math.log((1 + n) / (1 + df[term])) + 1.0 for term in kept])
        return cls({term: i for i, term in enumerate(kept)}, idf)

    @property
    def size(self) -> int:
        return len(self.vocabulary)

    def counts(self, terms: Iterable[str]) -> Counter[int]:
        """How often each column's term occurs in ``terms``."""
        counts: Counter[int | None] = Counter(map(self.vocabulary.get, terms))  # in C
        counts.pop(None, None)  # the terms the vocabulary does not have
        return counts  # type: ignore[return-value]


@dataclass
class CharBlock:
    """The character block, with each word's n-gram columns cached."""

    block: Block
    cache: dict[str, tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)

    def counts(self, text: str) -> Counter[int]:
        columns: list[int] = []  # counted once at the end: one Counter call, same order
        cache = self.cache
        vocabulary = self.block.vocabulary
        for word in text.split():
            found = cache.get(word)
            if found is None:
                if len(cache) >= MAX_CACHED_WORDS:
                    cache.clear()
                grams = char_terms(word)
                found = cache[word] = tuple(
                    column for column in map(vocabulary.get, grams) if column is not None
                )
            columns += found
        return Counter(columns)


@dataclass(frozen=True)
class Features:
    """Fitted feature blocks. ``cue_names`` fixes the order of the cue columns."""

    words: Block
    chars: CharBlock
    cue_names: tuple[str, ...]
    cue_scale: float
    negation: bool

    @property
    def size(self) -> int:
        return self.words.size + self.chars.block.size + len(self.cue_names)

    @cached_property
    def cue_columns(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.cue_names)}

    @cached_property
    def block_offsets(self) -> Any:
        """The first column of each block: words, chars, cues."""
        return np.array([0, self.words.size, self.words.size + self.chars.block.size], np.intp)

    @cached_property
    def idf(self) -> Any:
        """The idf of every column (1 for the cues)."""
        return np.concatenate([self.words.idf, self.chars.block.idf, np.ones(len(self.cue_names))])

    def names(self) -> list[str]:
        """A name for every column: word terms, char n-grams, cues."""
        by_column = [""] * self.size
        for term, column in self.words.vocabulary.items():
            by_column[column] = term
        offset = self.words.size
        for term, column in self.chars.block.vocabulary.items():
            by_column[offset + column] = f"chars '{term}'"
        offset += self.chars.block.size
        for i, name in enumerate(self.cue_names):
            by_column[offset + i] = f"cue:{name}"
        return by_column

    def matrix(self, texts: Sequence[str], languages: Sequence[str]) -> Any:
        """The CSR matrix of ``texts`` (prepared) in their languages, one row per text.

        Per text only dictionary work (terms to columns, counted); the weighting of the
        whole batch is done at once: sublinear tf times idf, each block of each row
        l2-normalised. A row depends on its own text alone."""
        cue_column = self.cue_columns
        columns: list[int] = []  # within the entry's block
        tfs: list[float] = []
        lengths: list[int] = []  # entries per row and block (words, chars, cues)
        indptr = [0]
        for text, language in zip(texts, languages, strict=True):
            words = self.words.counts(word_terms(text, language, self.negation))
            chars = self.chars.counts(text)
            fired = cue_module.cues(text)
            cues = {cue_column[n]: v for n, v in fired.items() if n in cue_column}
            for counts in (words, chars, cues):
                columns += counts
                tfs += counts.values()
                lengths.append(len(counts))
            indptr.append(len(columns))
        segment = np.repeat(np.arange(len(lengths), dtype=np.intp), lengths)
        block = segment % 3
        column_array = np.array(columns, dtype=np.intp) + self.block_offsets[block]
        tf = np.array(tfs, dtype=float)
        is_cue = block == 2
        idf = self.idf
        values = np.where(is_cue, tf * self.cue_scale, (1.0 + np.log(tf)) * idf[column_array])
        norms = np.sqrt(np.bincount(segment, weights=values * values, minlength=3 * len(texts)))
        norms[2::3] = 1.0  # cues are not normalised
        values = values / np.where(norms > 0, norms, 1.0)[segment]
        return sp.csr_matrix(
            (values, column_array, np.array(indptr, dtype=np.intp)), shape=(len(texts), self.size)
        )


def fit_features(
    texts: Sequence[str],
    languages: Sequence[str],
    *,
    word_min_df: int,
    char_min_df: int,
    cue_scale: float,
    negation: bool,
) -> Features:
    words = Block.fit(
        [word_terms(t, lang, negation) for t, lang in zip(texts, languages, strict=True)],
        word_min_df,
    )
    chars = Block.fit([char_terms(t) for t in texts], char_min_df)
    return Features(words, CharBlock(chars), cue_module.cue_names(), cue_scale, negation)
