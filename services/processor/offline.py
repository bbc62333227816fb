"""The offline commands: `antenna classify`, `antenna dedupe`, `antenna route --explain`.

They run the processor's own decisions (classifier, Deduper, rules) on JSON lines, with
no broker, so that operators can tune rules on past signals. Input from a file or stdin;
one JSON line per input line on stdout, in input order; progress on stderr when stderr
is a terminal. A line that cannot be read gives {"line": N, "error": ...}, not a crash.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from schemas import Channel, Classification, Customer, Reporter, Signal, new_signal_id
from services.processor.classifier import classify_signals
from services.processor.classifier.model import trained_models

# `classify` needs neither dedupe nor the routing rules: they are imported when used, so
# that its start-up does not pay for them (a tenth of a second).
if TYPE_CHECKING:
    from services.processor.domain.dedupe import DedupePolicy, Deduper
    from services.processor.domain.route import RuleSet
    from services.processor.handlers import ClassifiedSignal

Row = dict[str, Any]


def read_rows(stream: IO[str]) -> Iterator[tuple[int, Row | None, str | None]]:
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield (number, *read_row(line))


def read_row(line: str) -> tuple[Row | None, str | None]:
    """One non-blank line: its row, or None and why it cannot be read."""
    try:
        row = json.loads(line)
    except ValueError as exc:
        return None, f"not JSON: {exc}"
    if not isinstance(row, dict):
        return None, "expected a JSON object"
    return row, None


def _customer(raw: Any) -> Customer | None:
    """Keep what is valid of a customer: one bad e-mail must not hide the phone."""
    if not isinstance(raw, dict):
        return None
    fields = {k: raw.get(k) for k in ("name", "email", "phone", "customer_id") if raw.get(k)}
    while True:
        try:
            return Customer(**fields)
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors()}
            if not bad & fields.keys():
                return None
            fields = {k: v for k, v in fields.items() if k not in bad}


def signal_from_row(row: Row, now: datetime) -> Signal:
    """A Signal for an offline row. The row's id stays outside: ULIDs are internal."""
    if not str(row.get("text") or "").strip():
        raise ValueError("text is missing")
    at = row.get("reported_at") or row.get("received_at")
    received = datetime.fromisoformat(at.replace("Z", "+00:00")) if at else now
    if received.tzinfo is None:
        received = received.replace(tzinfo=UTC)
    channel = row.get("channel") if row.get("channel") in Channel.__members__ else "api"
    reporter = row.get("reporter")
    department = row.get("department")
    if isinstance(reporter, dict):
        reporter_model = Reporter(
            **{k: v for k, v in reporter.items() if k in Reporter.model_fields}
        )
    else:
        reporter_model = Reporter(
            employee_id=str(reporter) if reporter else None, department=department
        )
    signal_id = new_signal_id()
    return Signal(
        signal_id=signal_id,
        idempotency_key=str(row.get("id") or signal_id),
        channel=channel,
        source="offline",
        received_at=received,
        reporter=reporter_model,
        customer=_customer(row.get("customer")),
        subject=row.get("subject"),
        text=str(row["text"]),
        language=row.get("language"),
    )


def load_rows(
    source: Path | None, source_stream: IO[str] | None = None
) -> list[tuple[int, Row | None, str | None]]:
    """The rows of ``source``, else of ``source_stream``, else of stdin (see read_rows)."""
    stream = source.open(encoding="utf-8") if source else (source_stream or sys.stdin)
    try:
        return list(read_rows(stream))
    finally:
        if source:
            stream.close()


# What a processor gets with a readable row: its signal's classification (RowWise) or the
# whole assessment (Assessed); it turns the two into the row's output.
Judged = TypeVar("Judged")


def _classified(row: Row, c: Classification) -> Row:
    """The fields `classify` and `route` both print for a row."""
    return {
        "id": row.get("id"),
        "kind": c.kind.value,
        "confidence": c.confidence,
        "category": c.category.value,
        "urgency": c.urgency.value,
        "language": c.language,
    }


Classified = tuple[Signal, Classification]


@dataclass(frozen=True)
class RowWise:
    """A processor whose output for a row depends on that row and its classification
    alone (no topic or matter profile: those are for dedupe): `run` hands whole lines to
    the worker processes, which read, classify and process them, and get back only the
    output lines (no signals pickled to and fro, no parsing in the parent)."""

    process: Callable[[Row, Signal, Classification], Row]

    def __call__(self, row: Row, judged: Classified) -> Row:
        return self.process(row, *judged)


# A processor that needs the whole assessment (topic, matter) and state across rows.
Assessed = Callable[[Row, "ClassifiedSignal"], Row]
Processor = RowWise | Assessed


def classifier() -> Processor:
    def process(row: Row, signal: Signal, classification: Classification) -> Row:
        return {**_classified(row, classification), "reasons": classification.reasons}

    return RowWise(process)


def deduplicator(
    policy: DedupePolicy | None = None, deduper: type[Deduper] | None = None
) -> Assessed:
    """Rows must come in arrival order; state carries over from row to row. ``deduper``:
    another matcher to compare with (see evaluation.IdentityAlone)."""
    from services.processor.domain.dedupe import Deduper

    judge = (deduper or Deduper)({}, policy)
    input_id: dict[str, Any] = {}  # signal_id -> the row's own id

    def process(row: Row, judged: ClassifiedSignal) -> Row:
        signal = judged.signal
        decision = judge.decide(
            signal, judged.classification, signal.received_at, judged.topic, judged.matter
        )
        input_id[signal.signal_id] = row.get("id")
        return {
            "id": row.get("id"),
            "duplicate_of": input_id.get(decision.duplicate_of) if decision.duplicate_of else None,
            "cluster": input_id.get(decision.cluster_id),
            "reporters_count": decision.reporters_count,
            "reason": decision.reason,
        }

    return process


def router(rules: RuleSet, explain: bool) -> Processor:
    from services.processor.domain.route import route

    def process(row: Row, signal: Signal, classification: Classification) -> Row:
        chosen = route(rules, classification, signal)
        out: Row = {
            **_classified(row, classification),
            "destination": chosen.destination,
            "target": chosen.target,
            "rule_id": chosen.rule_id,
        }
        if explain:
            out["why"] = list(chosen.why)
        return out

    return RowWise(process)


def load_rules(path: Path | None) -> RuleSet:
    from services.processor.domain.route import DEFAULT_RULES, parse_rules

    return parse_rules(path.read_text(encoding="utf-8"), str(path)) if path else DEFAULT_RULES


PARALLEL_FROM = 200  # rows; below this a process pool costs more than it saves
BATCH = 64  # signals the classifier scores at once


def assess_all(signals: list[Signal]) -> Iterator[ClassifiedSignal]:
    """Classification is per signal and the costly part: spread it over the cores.
    The model is trained before the pool forks, so every worker shares it."""
    from services.processor.handlers import assess_many

    batches = [signals[i : i + BATCH] for i in range(0, len(signals), BATCH)]
    for assessed in _spread(assess_many, batches, len(signals)):
        yield from assessed


T = TypeVar("T")
U = TypeVar("U")


def _spread(work: Callable[[T], U], batches: list[T], rows: int) -> Iterator[U]:
    """``map(work, batches)``, over a pool of forked workers when there are enough
    ``rows``. The model is loaded before the pool forks, so every worker shares it."""
    workers = os.cpu_count() or 1
    if rows < PARALLEL_FROM or workers < 2:
        yield from map(work, batches)
        return
    trained_models()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap(work, batches)


def _classify_here(signals: list[Signal]) -> Iterator[Classified]:
    return zip(signals, (c for c, _ in classify_signals(signals)), strict=True)


# What the forked workers of `run` apply to their lines (set before the pool forks).
_row_job: list[tuple[RowWise, datetime]] = []
Line = tuple[int, str]  # the line's number, its text


def _row_wise(lines: list[Line]) -> list[tuple[str, bool]]:
    """Output lines for ``lines`` (each with whether it is an error), by a RowWise job."""
    process, now = _row_job[-1]
    return [
        (json.dumps(result, ensure_ascii=False), error)
        for result, error in _processed(
            process, [(n, *read_row(line)) for n, line in lines], now, _classify_here
        )
    ]


def _processed(
    process: Callable[[Row, Judged], Row],
    rows: list[tuple[int, Row | None, str | None]],
    now: datetime,
    assess: Callable[[list[Signal]], Iterator[Judged]],
) -> Iterator[tuple[Row, bool]]:
    """One result per row, in order: ``process``'s output, or the line's error (True)."""
    # Per line: the row to process, or (the row's id, the error) for a line that cannot be.
    results: list[Row | tuple[Any, str]] = []
    signals: list[Signal] = []
    for _, row, error in rows:
        if row is None:
            results.append((None, error or "unreadable"))
            continue
        try:
            signals.append(signal_from_row(row, now))
            results.append(row)
        except (ValueError, TypeError, ValidationError) as exc:
            results.append((row.get("id"), _first_line(exc)))
    assessed = assess(signals)
    for (number, _, _), item in zip(rows, results, strict=True):
        if isinstance(item, dict):
            try:
                yield process(item, next(assessed)), False
            except (ValueError, TypeError, ValidationError) as exc:
                yield {"line": number, "id": item.get("id"), "error": _first_line(exc)}, True
        else:
            yield {"line": number, "id": item[0], "error": item[1]}, True


def run(
    process: Processor,
    source: Path | None,
    out: IO[str] = sys.stdout,
    err: IO[str] = sys.stderr,
    source_stream: IO[str] | None = None,
) -> int:
    """Write one output line per input line, in order; return the number of error lines."""
    now = datetime.now(UTC)
    if isinstance(process, RowWise):
        lines = _numbered_lines(source, source_stream)
        batches = [lines[i : i + BATCH] for i in range(0, len(lines), BATCH)]
        _row_job[:] = [(process, now)]
        outputs: Iterator[tuple[str, bool]] = (
            line for done in _spread(_row_wise, batches, len(lines)) for line in done
        )
        total = len(lines)
    else:
        rows = load_rows(source, source_stream)
        results = _processed(process, rows, now, assess_all)
        outputs = ((json.dumps(r, ensure_ascii=False), error) for r, error in results)
        total = len(rows)
    progress = err.isatty()
    errors = 0
    for done, (line, error) in enumerate(outputs, start=1):
        errors += error
        out.write(line + "\n")
        if progress and done % 500 == 0:
            err.write(f"\r{done}/{total} lines")
    if progress:
        err.write(f"\r{total} lines, {errors} errors\n")
    return errors


def _numbered_lines(source: Path | None, source_stream: IO[str] | None) -> list[Line]:
    """The non-blank lines of ``source``, else ``source_stream``, else stdin."""
    stream = source.open(encoding="utf-8") if source else (source_stream or sys.stdin)
    try:
        return [(number, line) for number, line in enumerate(stream, start=1) if line.strip()]
    finally:
        if source:
            stream.close()


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
