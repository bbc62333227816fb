"""The offline commands run the processor's own decisions on JSON lines."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.processor import offline
from services.processor.domain.route import DEFAULT_RULES

SAMPLE_RULES = Path(__file__).parents[2] / "deploy" / "config" / "routing.yaml"


def run(process: offline.Processor, lines: list[str]) -> tuple[list[dict[str, object]], int]:
    out = io.StringIO()
    errors = offline.run(
        process, None, out=out, err=io.StringIO(), source_stream=io.StringIO("\n".join(lines))
    )
    return [json.loads(line) for line in out.getvalue().splitlines()], errors


def test_classify_keeps_input_order_and_reports_bad_lines_in_place() -> None:
    lines = [
        json.dumps({"id": "a", "text": "Her card was declined three times, she is furious."}),
        "this is not json",
        json.dumps(
            {"id": "c", "text": "Hij wil een offerte voor zonnepanelen en morgen gebeld worden."}
        ),
        json.dumps({"id": "d"}),
    ]
    rows, errors = run(offline.classifier(), lines)
    assert [r.get("id") for r in rows] == ["a", None, "c", "d"]
    assert rows[0]["kind"] == "complaint" and rows[0]["language"] == "en"
    assert rows[2]["kind"] == "opportunity" and rows[2]["language"] == "nl"
    assert rows[1]["line"] == 2 and "not JSON" in str(rows[1]["error"])
    assert rows[3]["error"] == "text is missing"
    assert errors == 2
    assert {"id", "kind", "confidence", "category", "language"} <= rows[0].keys()


def test_dedupe_names_the_first_report_of_the_case() -> None:
    lines = [
        json.dumps(row)
        for row in [
            {
                "id": "r1",
                "text": "Her bank card keeps getting declined, she is fed up.",
                "channel": "email",
                "reported_at": "2026-10-01T09:00:00Z",
                "customer": {"name": "Jan de Vries", "phone": "+31 6 12345678", "email": None},
            },
            {
                "id": "r2",
                "text": "Internet down for my neighbour since Monday.",
                "channel": "chat",
                "reported_at": "2026-10-01T10:00:00Z",
                "customer": None,
            },
            {
                "id": "r3",
                "text": "Zijn pinpas wordt steeds geweigerd, hij is er klaar mee.",
                "channel": "chat",
                "reported_at": "2026-10-02T09:00:00Z",
                "customer": {"name": "J. de Vries", "phone": "0612345678", "email": None},
            },
            {
                "id": "r4",
                "text": "Internet down for my neighbour since Monday.",
                "channel": "form",
                "reported_at": "2026-10-01T10:03:00Z",
                "customer": None,
            },
        ]
    ]
    rows, errors = run(offline.deduplicator(), lines)
    assert errors == 0
    assert [(r["id"], r["duplicate_of"]) for r in rows] == [
        ("r1", None),
        ("r2", None),
        ("r3", "r1"),
        ("r4", "r2"),
    ]


def test_dedupe_tolerates_an_invalid_email_and_keeps_the_phone() -> None:
    lines = [
        json.dumps(
            {
                "id": "x",
                "text": "Card declined again",
                "customer": {"email": "not-an-address", "phone": "0612345678", "name": None},
            }
        )
    ]
    rows, _ = run(offline.deduplicator(), lines)
    assert rows[0]["duplicate_of"] is None and "error" not in rows[0]


def test_route_explain_names_the_rule_and_why() -> None:
    rules = offline.load_rules(SAMPLE_RULES)
    lines = [
        json.dumps(
            {
                "id": "1",
                "text": "Her card was blocked abroad and she has no money, urgent!",
                "channel": "chat",
            }
        ),
        json.dumps({"id": "2", "text": "He wants an offer for a heat pump, please call him."}),
    ]
    rows, _ = run(offline.router(rules, explain=True), lines)
    assert rows[0]["destination"] == "servicedesk"
    assert rows[0]["rule_id"] in {"urgent-payments", "complaints"}
    assert rows[0]["why"] and isinstance(rows[0]["why"], list)
    assert rows[1]["destination"] == "crm"
    plain, _ = run(offline.router(DEFAULT_RULES, explain=False), lines[:1])
    assert "why" not in plain[0]


def test_classify_in_worker_processes_prints_what_one_process_prints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From PARALLEL_FROM lines the workers read, classify and print whole lines: the
    output, bad lines included, is line for line what the one-process path prints."""
    texts = [
        "Her card was declined three times, she is furious.",
        "Hij wil een offerte voor zonnepanelen en morgen gebeld worden.",
        "My laptop will not start, who do I call?",
    ]
    lines = [json.dumps({"id": f"r{i}", "text": texts[i % 3]}) for i in range(300)]
    lines[7], lines[150] = "not json", json.dumps({"id": "no-text"})
    monkeypatch.setattr(offline.os, "cpu_count", lambda: 2)
    parallel, parallel_errors = run(offline.classifier(), lines)
    monkeypatch.setattr(offline, "PARALLEL_FROM", len(lines) + 1)
    serial, serial_errors = run(offline.classifier(), lines)
    assert parallel == serial
    assert parallel_errors == serial_errors == 2
    assert parallel[7]["line"] == 8 and parallel[150]["error"] == "text is missing"


def test_classify_starts_without_dedupe_or_the_routing_rules() -> None:
    """`antenna classify` loads only what classification needs: dedupe (phone numbers,
    names) and the routing rules (YAML) cost its start-up a tenth of a second."""
    unneeded = ("services.processor.domain", "services.processor.handlers", "yaml", "phonenumbers")
    probe = (
        "import sys\n"
        "from services.processor import offline\n"
        "offline.classifier()\n"
        f"print(' '.join(sorted(m for m in sys.modules if m.startswith({unneeded!r}))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == []
