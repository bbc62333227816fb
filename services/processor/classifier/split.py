"""The labelled signals and their fixed train / held-out split. Reads the shipped files only.

Which split a row belongs to depends on its id alone (a hash, not a random draw and not its
position in the file), so the split is the same on every machine and run, adding rows never
moves an old row from one side to the other, and the held-out rows are never trained on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
DATA_FILES = ("labelled_nl.jsonl", "labelled_en.jsonl")
HELD_OUT_PERCENT = 25


@dataclass(frozen=True)
class LabelledSignal:
    id: str
    language: str
    channel: str
    text: str
    kind: str
    category: str
    urgency: str


def is_held_out(row_id: str) -> bool:
    """sha256(id) mod 100 < 25: about a quarter of the rows, chosen by id only."""
    digest = hashlib.sha256(row_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100 < HELD_OUT_PERCENT


@cache
def load_labelled() -> tuple[LabelledSignal, ...]:
    rows: list[LabelledSignal] = []
    for name in DATA_FILES:
        with (DATA_DIR / name).open(encoding="utf-8") as lines:
            rows.extend(
                LabelledSignal(
                    **{
                        k: v
                        for k, v in json.loads(line).items()
                        if k in LabelledSignal.__dataclass_fields__
                    }
                )
                for line in lines
                if line.strip()
            )
    return tuple(rows)


def train_rows() -> tuple[LabelledSignal, ...]:
    return tuple(row for row in load_labelled() if not is_held_out(row.id))


def held_out_rows() -> tuple[LabelledSignal, ...]:
    return tuple(row for row in load_labelled() if is_held_out(row.id))
