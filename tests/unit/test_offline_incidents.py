"""`antenna incidents`: the processor's incident detector over a JSONL history."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.cli import parser
from services.processor.settings import ProcessorSettings
from tests.support.incident_traffic import CARD_PAYMENTS_NL, burst, labelled_rows

MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def history(tmp_path: Path, rows: list[dict[str, Any]], *extra: str) -> Path:
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join([*(json.dumps(r) for r in rows), *extra]) + "\n")
    return path


def antenna(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[Any], str]:
    args = parser().parse_args(["incidents", *argv])
    code = args.run(args)
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def unlabelled(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("kind", "category")} for r in rows]


def test_it_classifies_the_history_and_prints_each_incident_with_its_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Dutch card outage among other reports: classified here, not labelled."""
    outage = burst(random.Random(3), CARD_PAYMENTS_NL, MORNING)
    others = [dict(r, reported_at=MORNING.isoformat()) for r in labelled_rows()[:20]]
    path = history(tmp_path, unlabelled(others + outage), "not json")
    code, incidents, err = antenna(capsys, str(path))
    assert code == 1  # one unreadable line, reported on stderr
    [unreadable] = [json.loads(line) for line in err.splitlines()]
    assert unreadable["line"] == 29 and "not JSON" in unreadable["error"]
    [incident] = incidents
    assert incident["category"] == "payments_cards"
    assert {r["id"] for r in incident["reports"]} <= {r["id"] for r in outage}
    assert incident["reports_count"] == len(incident["reports"]) >= 7
    assert incident["status"] in ("opened", "updated")  # the history ends before it is quiet
    assert incident["summary"].startswith(f"Possible outage: {incident['reports_count']} reports")
    assert "signal_id" not in incident["reports"][0]


def test_the_incident_closes_when_the_history_goes_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outage = burst(random.Random(3), CARD_PAYMENTS_NL, MORNING)
    later = dict(outage[0], id="later", reported_at=(MORNING + timedelta(hours=5)).isoformat())
    later["text"] = "Her parcel never arrived and nobody answers the phone."
    later["category"] = "delivery"
    code, [incident], _ = antenna(capsys, str(history(tmp_path, [*outage, later])))
    assert code == 0
    assert incident["status"] == "closed"
    assert incident["closed_at"] == "2026-03-02T12:40:00Z"  # the last report + 120 minutes


def test_thresholds_come_from_the_settings_and_the_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = history(tmp_path, burst(random.Random(3), CARD_PAYMENTS_NL, MORNING))
    assert antenna(capsys, str(path), "--min-reports", "9")[1] == []
    monkeypatch.setenv("ANTENNA_INCIDENT_MIN_REPORTS", "7")
    monkeypatch.setenv("ANTENNA_INCIDENT_MIN_EMPLOYEES", "7")  # the burst has 6
    assert antenna(capsys, str(path))[1] == []
    assert len(antenna(capsys, str(path), "--min-reports", "5", "--min-employees", "3")[1]) == 1
    assert antenna(capsys, str(path), "--window-minutes", "5")[1] == []


def test_a_flag_that_cannot_work_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = history(tmp_path, [])
    code, _, err = antenna(capsys, str(path), "--min-reports", "3", "--min-customers", "4")
    assert code == 2
    assert "min_customers must be between 1 and min_reports" in err


def test_the_settings_refuse_an_incident_that_cannot_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTENNA_INCIDENT_MIN_REPORTS", "3")
    with pytest.raises(ValueError, match="min_customers must be between 1 and min_reports"):
        ProcessorSettings()
    monkeypatch.setenv("ANTENNA_INCIDENT_MIN_CUSTOMERS", "2")
    monkeypatch.setenv("ANTENNA_INCIDENT_WINDOW_MINUTES", "30")
    policy = ProcessorSettings().incident_policy()
    assert (policy.min_reports, policy.min_customers) == (3, 2)
    assert policy.window == timedelta(minutes=30)
