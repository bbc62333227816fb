"""The shipped model decides exactly as it did before the classifier was made faster
(issue #9, part 5): every labelled row (both sources, train and held-out) and 1,500
bench lines (typing slips, names, phone numbers) against a golden file written with the
code of before. Kind, confidence, category, urgency, language and reasons must be
identical; the topic profile equal to 1e-9.

The golden file belongs to the shipped model: after a deliberate change of what the
model decides (new data, new features), write it again with
``.venv/bin/python -m tests.unit.test_classifier_golden --write``.
"""

from __future__ import annotations

import gzip
import json
import math
import sys
from pathlib import Path
from typing import Any

from services.processor.classifier import classify_many
from services.processor.classifier.split import (
    CLASSIFICATION,
    DEDUPE,
    held_out_rows,
    train_rows,
)
from services.processor.classifier.store import SHIPPED_DIR, active_version, load_model
from tests.bench.bench_classify import lines

GOLDEN = Path(__file__).parents[1] / "fixtures" / "classifier" / "golden.jsonl.gz"
Item = tuple[str, str | None, str | None]


def _items() -> list[tuple[str, Item]]:
    rows = [*train_rows((CLASSIFICATION, DEDUPE)), *held_out_rows((CLASSIFICATION, DEDUPE))]
    labelled = [(row.id, (row.text, row.language, row.channel)) for row in rows]
    bench = [(row["id"], (row["text"], row["language"], row["channel"])) for row in lines(1500)]
    return labelled + bench


def _decisions() -> list[dict[str, Any]]:
    version = active_version(SHIPPED_DIR)
    models = load_model(SHIPPED_DIR / f"classifier-{version}.json")
    items = _items()
    out = []
    # In batches of 64, as the processor's classify stage hands them over.
    for start in range(0, len(items), 64):
        chunk = items[start : start + 64]
        decided = classify_many([item for _, item in chunk], models)
        for (row_id, _), (c, topic) in zip(chunk, decided, strict=True):
            fields = c.model_dump(mode="json", exclude={"classifier_version"})
            out.append({"id": row_id, **fields, "topic": topic})
    return out


def test_the_shipped_model_decides_as_before() -> None:
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as f:
        golden = [json.loads(line) for line in f]
    now = _decisions()
    assert [row["id"] for row in now] == [row["id"] for row in golden]
    changed = []
    for ours, theirs in zip(now, golden, strict=True):
        topic, golden_topic = ours.pop("topic"), theirs.pop("topic")
        same_topic = topic.keys() == golden_topic.keys() and all(
            math.isclose(topic[k], golden_topic[k], rel_tol=1e-9, abs_tol=1e-12) for k in topic
        )
        if ours != theirs or not same_topic:
            changed.append((ours, theirs))
    assert not changed, f"{len(changed)} decisions changed, the first: {changed[0]}"


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    with gzip.open(GOLDEN, "wt", encoding="utf-8", compresslevel=9) as f:
        f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in _decisions())
