"""The labelled signals and their fixed train / held-out split. Reads the shipped files only.

Two sources, written by different authors:

* ``classification``: ``data/labelled_nl.jsonl`` and ``data/labelled_en.jsonl``, one row per
  report, with kind, category and urgency. A row is held out by a hash of its id.
* ``dedupe``: ``../dedupe_data/labelled_dedupe.jsonl``, reports grouped into cases (the
  reports of one case are near-copies of each other), with kind and category but no
  urgency. A row is held out by a hash of its *case*, so that no case has reports on both
  sides of the split (splitting by id would leak near-copies into the held-out part).

Which side a row falls on depends on that key alone (a hash, not a random draw and not a
position in a file), so the split is the same on every machine and run, adding rows never
moves an old row from one side to the other, and the held-out rows are never trained on.

``held_out(source, row_id, case)`` is THE split: training, the dedupe evaluation and the
classifier's evaluation all ask it (through ``split_labelled`` or directly), so that no
one of them can hold out rows that another trains on (``tests/unit/test_split.py``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
DATA_FILES = ("labelled_nl.jsonl", "labelled_en.jsonl")
DEDUPE_FILE = Path(__file__).parent.parent / "dedupe_data" / "labelled_dedupe.jsonl"
HELD_OUT_PERCENT = 25

CLASSIFICATION = "classification"
DEDUPE = "dedupe"
SOURCES = (CLASSIFICATION, DEDUPE)


@dataclass(frozen=True)
class LabelledSignal:
    id: str
    language: str
    channel: str
    text: str
    kind: str
    category: str
    urgency: str | None = None  # the dedupe set has no urgency labels
    source: str = CLASSIFICATION
    case: str | None = None  # dedupe rows only: the reports of one case share it

    @property
    def split_key(self) -> str:
        return split_key(self.source, self.id, self.case)

    @property
    def held_out(self) -> bool:
        return held_out(self.source, self.id, self.case)


def split_key(source: str, row_id: str, case: str | None = None) -> str:
    """What decides the side of the split: the case for dedupe rows, else the id."""
    return f"case:{case}" if source == DEDUPE and case else row_id


def is_held_out(key: str) -> bool:
    """sha256(key) mod 100 < 25: about a quarter of the keys (ids, or dedupe cases)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100 < HELD_OUT_PERCENT


def held_out(source: str, row_id: str, case: str | None = None) -> bool:
    """Whether a labelled row is held out: never trained or tuned on, only scored."""
    return is_held_out(split_key(source, row_id, case))


def _read(path: Path, source: str) -> list[LabelledSignal]:
    fields = set(LabelledSignal.__dataclass_fields__) - {"source"}
    with path.open(encoding="utf-8") as lines:
        return [
            LabelledSignal(
                **{k: v for k, v in json.loads(line).items() if k in fields}, source=source
            )
            for line in lines
            if line.strip()
        ]


@cache
def load_labelled(sources: tuple[str, ...] = SOURCES) -> tuple[LabelledSignal, ...]:
    """All labelled rows of ``sources``, classification files first, in file order."""
    rows: list[LabelledSignal] = []
    if CLASSIFICATION in sources:
        for name in DATA_FILES:
            rows.extend(_read(DATA_DIR / name, CLASSIFICATION))
    if DEDUPE in sources:
        rows.extend(_read(DEDUPE_FILE, DEDUPE))
    return tuple(rows)


@cache
def split_labelled(
    sources: tuple[str, ...] = SOURCES,
) -> tuple[tuple[LabelledSignal, ...], tuple[LabelledSignal, ...]]:
    """(train rows, held-out rows) of ``sources``; each row carries its ``source`` tag."""
    train: list[LabelledSignal] = []
    held: list[LabelledSignal] = []
    for row in load_labelled(sources):
        (held if row.held_out else train).append(row)
    return tuple(train), tuple(held)


def train_rows(sources: tuple[str, ...] = SOURCES) -> tuple[LabelledSignal, ...]:
    return split_labelled(sources)[0]


def held_out_rows(sources: tuple[str, ...] = SOURCES) -> tuple[LabelledSignal, ...]:
    return split_labelled(sources)[1]
