"""`antenna labels export FILE [--pairs PAIRS]`: what operators taught, as training data.

FILE gets one JSON line per label on signals.labels (the latest per signal: the topic is
compacted, and an erased label, a tombstone, is left out), in the order the labels were
made: the fields `antenna train` reads (/work/coord/labels-api.md; `LabelledSignal`'s and
a few more). PAIRS gets the same-case corrections on signals.case-corrections as rows of
the labelled dedupe set (services/processor/dedupe_data/labelled_dedupe.jsonl), for the
dedupe evaluation. ``-`` is stdout. Both files hold report texts (PAIRS also customers'
names and numbers): keep them where signals.raw may be kept.

Reading is plain kafka-python without a consumer group, each topic from its beginning to
its end when the command starts (as `antenna dlq`). The rows are made by pure functions."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError

from schemas import CaseCorrection, Label, topics

M = TypeVar("M", bound=BaseModel)


def latest(records: Iterable[Any]) -> list[bytes]:
    """The latest value per key, as compaction keeps it (a tombstone removes the key), in
    the order the keys were last written; records of one key are in one partition, in
    order."""
    values: dict[bytes, bytes | None] = {}
    for record in records:
        key = record.key or b""
        values.pop(key, None)  # the latest write goes last
        values[key] = record.value
    return [value for value in values.values() if value is not None]


def label_row(label: Label) -> dict[str, Any]:
    """One line of the export: what `antenna train` reads."""
    guess = label.guess
    return {
        "id": label.label_id,
        "signal_id": label.signal_id,
        "language": label.language,
        "channel": label.channel.value,
        "text": label.text,
        "kind": label.kind.value,
        "category": label.category.value,
        "urgency": label.urgency.value,
        "source": label.source.value,
        "labelled_at": label.labelled_at.isoformat(),
        "operator": label.operator_ref,
        "destination": label.destination,
        "guess": {
            "kind": guess.kind.value,
            "confidence": guess.confidence,
            "category": guess.category.value,
            "urgency": guess.urgency.value,
            "classifier_version": guess.classifier_version,
        },
    }


def decoded(model: type[M], values: Iterable[bytes]) -> tuple[list[M], int]:
    """(the values that are a ``model``, how many were not)."""
    found, unreadable = [], 0
    for value in values:
        try:
            found.append(model.model_validate_json(value))
        except ValidationError:
            unreadable += 1
    return found, unreadable


def label_rows(values: Iterable[bytes]) -> tuple[list[dict[str, Any]], int]:
    """(rows in the order the labels were made, how many values were no Label)."""
    labels, unreadable = decoded(Label, values)
    labels.sort(key=lambda label: (label.labelled_at, label.label_id))
    return [label_row(label) for label in labels], unreadable


@contextmanager
def _output(name: str) -> Iterator[IO[str]]:
    if name == "-":
        yield sys.stdout
        return
    with Path(name).open("w", encoding="utf-8") as out:
        yield out


def _write(name: str, rows: list[dict[str, Any]]) -> None:
    with _output(name) as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def add_parser(sub: Any) -> None:
    """Register `antenna labels` on the CLI's subparsers."""
    labels = sub.add_parser("labels", help="what operators taught on the triage page")
    commands = labels.add_subparsers(dest="labels_command", required=True)
    export = commands.add_parser(
        "export", help="write the labels (and the same-case corrections) as JSON lines"
    )
    export.add_argument("file", help="where the labels go (JSON lines; - for stdout)")
    export.add_argument(
        "--pairs",
        metavar="PAIRS",
        help="also write the same-case corrections as rows of the labelled dedupe set",
    )
    labels.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from services.dlq import broker_options, read_topic
    from services.processor.domain.corrections import dedupe_rows

    bootstrap, options = broker_options()
    rows, unreadable = label_rows(latest(read_topic(bootstrap, topics.LABELS, options)))
    _write(args.file, rows)
    report = f"{len(rows)} label(s) written to {args.file}"
    if args.pairs:
        corrections, bad = decoded(
            CaseCorrection, latest(read_topic(bootstrap, topics.CASE_CORRECTIONS, options))
        )
        unreadable += bad
        pairs = dedupe_rows(corrections)
        _write(args.pairs, pairs)
        report += f"; {len(corrections)} correction(s) as {len(pairs)} row(s) in {args.pairs}"
    if unreadable:
        report += f"; {unreadable} unreadable record(s) skipped"
    print(report, file=sys.stderr)
    return 0
