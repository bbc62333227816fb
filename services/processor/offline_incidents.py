"""`antenna incidents`: find the incidents in a history of reports, offline.

It runs the processor's own detector (services/processor/domain/incidents.py) over JSON
lines with no broker: the rows in time order, a tick before each (so an incident closes
once the history has been quiet for the quiet period), and one JSON line per incident on
stdout, with its last state (``status`` ``closed``, or still ``opened``/``updated`` at
the end of the history) and its reports by their rows' ``id``.

Row fields are those of `antenna dedupe`: id, text, channel, reported_at, customer,
reporter (an id, or {employee_id, email, department}), department, and optionally
place, and kind and category (then the row is not classified: for labelled or already
classified history). A line that cannot be read is reported on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import ValidationError

from schemas import Category, Classification, Incident, Kind, Signal

if TYPE_CHECKING:  # imported where used: `antenna classify` builds this parser too
    from services.processor.domain.incidents import IncidentPolicy

Row = dict[str, Any]
GIVEN = "given"  # the classifier_version of a row whose kind and category were given


def given_classification(row: Row) -> Classification | None:
    """The row's own kind and category, when it has both."""
    if not (row.get("kind") and row.get("category")):
        return None
    return Classification(
        kind=Kind(row["kind"]),
        category=Category(row["category"]),
        confidence=1.0,
        language=str(row.get("language") or "und")[:8],
        classifier_version=GIVEN,
    )


def with_place(signal: Signal, row: Row, policy: IncidentPolicy) -> Signal:
    place = row.get("place")
    if not place:
        return signal
    return signal.model_copy(update={"metadata": {**signal.metadata, policy.place_key: str(place)}})


def detect(
    judged: Iterable[tuple[Signal, Classification]], policy: IncidentPolicy
) -> list[Incident]:
    """The incidents in a history, each in its last state, in the order they opened. The
    same calls as the processor's incident stage: a tick, then the report."""
    from services.processor.domain.incidents import IncidentDetector, report_of

    detector = IncidentDetector({}, policy)
    latest: dict[str, Incident] = {}
    ordered = sorted(judged, key=lambda pair: pair[0].received_at)
    for number, (signal, classification) in enumerate(ordered):
        for change in detector.tick(signal.received_at, f"row {number}"):
            latest[change.incident.incident_id] = change.incident
        report = report_of(signal, classification, policy)
        if report is not None:
            for change in detector.observe(report):
                latest[change.incident.incident_id] = change.incident
    return list(latest.values())


def judged_rows(
    rows: Iterable[tuple[int, Row]], policy: IncidentPolicy, now: datetime
) -> Iterator[tuple[int, Row, Signal | None, Classification | None, str | None]]:
    """Each row as a signal with its classification, classifying only the rows without a
    given kind and category (in parallel, like `antenna classify`)."""
    from services.processor.offline import assess_all, signal_from_row

    parsed: list[tuple[int, Row, Signal | None, Classification | None, str | None]] = []
    for number, row in rows:
        try:
            signal = with_place(signal_from_row(row, now), row, policy)
            parsed.append((number, row, signal, given_classification(row), None))
        except (ValueError, TypeError, ValidationError) as exc:
            parsed.append((number, row, None, None, str(exc).splitlines()[0]))
    unclassified = [s for _, _, s, c, _ in parsed if s is not None and c is None]
    assessed = assess_all(unclassified)
    for number, row, judged, classification, error in parsed:
        if judged is not None and classification is None:
            classification = next(assessed).classification
        yield number, row, judged, classification, error


def as_output(incident: Incident, row_ids: dict[str, Any]) -> Row:
    """The incident as a JSON line, its reports named by their rows' ids."""
    data = incident.model_dump(mode="json")
    data["reports"] = [
        {"id": row_ids.get(r["signal_id"]), **{k: v for k, v in r.items() if k != "signal_id"}}
        for r in data["reports"]
    ]
    return data


def run(
    source: Path | None,
    policy: IncidentPolicy,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
    source_stream: IO[str] | None = None,
) -> int:
    """Print the incidents of a history; return the number of lines that could not be read."""
    out, err = out or sys.stdout, err or sys.stderr  # at call time: tests replace them
    from services.processor.offline import load_rows

    rows = load_rows(source, source_stream)
    errors = 0
    readable: list[tuple[int, Row]] = []
    for number, row, error in rows:
        if row is None:
            err.write(json.dumps({"line": number, "error": error}) + "\n")
            errors += 1
        else:
            readable.append((number, row))
    judged: list[tuple[Signal, Classification]] = []
    row_ids: dict[str, Any] = {}
    for number, row, signal, classification, error in judged_rows(
        readable, policy, datetime.now(UTC)
    ):
        if signal is None or classification is None:
            err.write(json.dumps({"line": number, "id": row.get("id"), "error": error}) + "\n")
            errors += 1
            continue
        judged.append((signal, classification))
        row_ids[signal.signal_id] = row.get("id")
    for incident in detect(judged, policy):
        out.write(json.dumps(as_output(incident, row_ids), ensure_ascii=False) + "\n")
    return errors


def add_parser(sub: Any) -> None:
    """Register `antenna incidents` on the CLI's subparsers."""
    cmd = sub.add_parser(
        "incidents",
        help="find incidents (several customers, one problem) in JSON lines of reports offline",
    )
    cmd.add_argument("file", nargs="?", type=Path, help="JSON lines; stdin when omitted")
    cmd.add_argument("--window-minutes", type=float, help="ANTENNA_INCIDENT_WINDOW_MINUTES")
    cmd.add_argument("--min-reports", type=int, help="ANTENNA_INCIDENT_MIN_REPORTS")
    cmd.add_argument("--min-customers", type=int, help="ANTENNA_INCIDENT_MIN_CUSTOMERS")
    cmd.add_argument("--min-employees", type=int, help="ANTENNA_INCIDENT_MIN_EMPLOYEES")
    cmd.add_argument("--quiet-minutes", type=float, help="ANTENNA_INCIDENT_QUIET_MINUTES")
    cmd.add_argument(
        "--by-place",
        action=argparse.BooleanOptionalAction,
        help="ANTENNA_INCIDENT_BY_PLACE: reports from different places never share an incident",
    )
    cmd.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from services.processor.settings import ProcessorSettings

    policy = ProcessorSettings().incident_policy()  # the settings, then the flags
    changes: dict[str, Any] = {
        "min_reports": args.min_reports,
        "min_customers": args.min_customers,
        "min_employees": args.min_employees,
        "by_place": args.by_place,
    }
    if args.window_minutes is not None:
        changes["window"] = timedelta(minutes=args.window_minutes)
    if args.quiet_minutes is not None:
        changes["quiet"] = timedelta(minutes=args.quiet_minutes)
    try:
        policy = replace(policy, **{k: v for k, v in changes.items() if v is not None})
    except ValueError as exc:
        print(f"antenna incidents: {exc}", file=sys.stderr)
        return 2
    return 1 if run(args.file, policy) else 0
