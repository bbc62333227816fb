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
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from schemas import Channel, Classification, Customer, Reporter, Signal, new_signal_id
from services.processor.classifier.model import trained_models
from services.processor.domain.dedupe import DedupePolicy, Deduper
from services.processor.domain.route import DEFAULT_RULES, RuleSet, parse_rules, route
from services.processor.handlers import ClassifiedSignal, assess_many

Row = dict[str, Any]


def read_rows(stream: IO[str]) -> Iterator[tuple[int, Row | None, str | None]]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            yield number, None, f"not JSON: {exc}"
            continue
        if not isinstance(row, dict):
            yield number, None, "expected a JSON object"
        else:
            yield number, row, None


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


# A processor turns one readable row, with its signal already classified, into output.
Processor = Callable[[Row, ClassifiedSignal], Row]


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


def classifier() -> Processor:
    def process(row: Row, judged: ClassifiedSignal) -> Row:
        return {**_classified(row, judged.classification), "reasons": judged.classification.reasons}

    return process


def deduplicator(policy: DedupePolicy | None = None, deduper: type[Deduper] = Deduper) -> Processor:
    """Rows must come in arrival order; state carries over from row to row. ``deduper``:
    another matcher to compare with (see evaluation.IdentityAlone)."""
    judge = deduper({}, policy)
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
    def process(row: Row, judged: ClassifiedSignal) -> Row:
        chosen = route(rules, judged.classification, judged.signal)
        out: Row = {
            **_classified(row, judged.classification),
            "destination": chosen.destination,
            "target": chosen.target,
            "rule_id": chosen.rule_id,
        }
        if explain:
            out["why"] = list(chosen.why)
        return out

    return process


def load_rules(path: Path | None) -> RuleSet:
    return parse_rules(path.read_text(encoding="utf-8"), str(path)) if path else DEFAULT_RULES


PARALLEL_FROM = 200  # rows; below this a process pool costs more than it saves
BATCH = 64  # signals the classifier scores at once


def assess_all(signals: list[Signal]) -> Iterator[ClassifiedSignal]:
    """Classification is per signal and the costly part: spread it over the cores.
    The model is trained before the pool forks, so every worker shares it."""
    workers = os.cpu_count() or 1
    batches = [signals[i : i + BATCH] for i in range(0, len(signals), BATCH)]
    if len(signals) < PARALLEL_FROM or workers < 2:
        for batch in batches:
            yield from assess_many(batch)
        return
    trained_models()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for assessed in pool.imap(assess_many, batches):
            yield from assessed


def run(
    process: Processor,
    source: Path | None,
    out: IO[str] = sys.stdout,
    err: IO[str] = sys.stderr,
    source_stream: IO[str] | None = None,
) -> int:
    """Write one output line per input line, in order; return the number of error lines."""
    rows = load_rows(source, source_stream)
    now = datetime.now(UTC)
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
    progress = err.isatty()
    errors = 0
    assessed = assess_all(signals)
    for done, ((number, _, _), item) in enumerate(zip(rows, results, strict=True), start=1):
        if isinstance(item, dict):
            try:
                result = process(item, next(assessed))
            except (ValueError, TypeError, ValidationError) as exc:
                result = {"line": number, "id": item.get("id"), "error": _first_line(exc)}
                errors += 1
        else:
            result = {"line": number, "id": item[0], "error": item[1]}
            errors += 1
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        if progress and done % 500 == 0:
            err.write(f"\r{done}/{len(rows)} lines")
    if progress:
        err.write(f"\r{len(rows)} lines, {errors} errors\n")
    return errors


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
