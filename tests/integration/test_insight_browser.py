"""/insight in a real browser (headless Chromium), on a phone (375 CSS pixels wide) and on a
desktop (1280): the chart is drawn and visible, fits the screen, nothing scrolls
sideways. The summary and an employee's credit travel the real way: on insight.summary and
employees.preferences of the test broker, followed by a real ingest process.

Chromium comes from Debian (deploy/ci/install-test-tools.sh); without it the test skips."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from kafka import KafkaProducer

from schemas import InsightSnapshot, NotificationPreference, OutcomeStatus, topics
from schemas.insight import INSIGHT_KEY
from services.insight.facts import Record
from services.insight.summary import summarise
from services.insight.tally import with_change, with_record
from tests.support.browser import (
    MeasuringProxy,
    chromium,
    layout,
    measuring_page,
    needs_chromium,
    png_size,
)
from tests.support.services import Services, service_env, wait_for
from tests.unit.test_insight import change, report

pytestmark = [pytest.mark.integration, needs_chromium]

PASSWORD = "insight-lead-password-0123"
SCREENS = {"phone": (375, 812), "desktop": (1280, 800)}
CREDITED = "Sanne de Vries"
HOSTILE_DEPARTMENT = 'Klantcontact <Noord> & "Zuid" met een lange afdelingsnaam zonder spaties'

MEASURE = measuring_page(
    ".bar a, details summary",
    """
  var chart = doc.querySelector("svg.chart"), box = chart.getBoundingClientRect();
  var style = win.getComputedStyle(chart);
  found.chart = {left: box.left, right: box.right, width: box.width, height: box.height,
                 shown: style.display !== "none" && style.visibility !== "hidden"};
  found.bars = Array.prototype.filter.call(chart.querySelectorAll("rect"), function (r) {
    return r.getBoundingClientRect().height > 0;
  }).length;
  found.label_px = chart.querySelector("text").getBoundingClientRect().height;
""",
)


def _snapshot() -> InsightSnapshot:
    """Half a year of reports, departments long and hostile among them, outcomes."""
    now = datetime.now(UTC)
    shuffle = random.Random(8)
    reports, cases = [], {}
    departments = ["Retail", "Private Banking", HOSTILE_DEPARTMENT, ""]
    for i in range(300):
        at = now - timedelta(days=shuffle.uniform(0, 180))
        kind = shuffle.choice(["complaint", "complaint", "opportunity", "other"])
        employee = "sanne" if i % 50 == 0 else f"employee-{shuffle.randint(1, 60)}"
        first = report(at, kind=kind, employee=employee, department=departments[i % 4])
        reports.append(first)
        if kind != "other" and i % 3:
            progress = with_record(
                None, Record(signal_id=first.case_id, at=at + timedelta(hours=2))
            )
            status = OutcomeStatus.resolved if kind == "complaint" else OutcomeStatus.won
            cases[first.case_id] = with_change(
                progress, change(first.case_id, status, at + timedelta(days=2))
            )
    return summarise(reports, cases, now, 26)


@pytest.fixture(scope="module")
def ingest(kafka: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Ingest following the test broker, with the summary and Sanne's credit on it."""
    var_dir: Path = tmp_path_factory.mktemp("insight-browser")
    env = {"ANTENNA_REPORT_USERS": f"lead:{PASSWORD}", "ANTENNA_OPERATORS": "lead"}
    services = Services(service_env(kafka, var_dir, env), var_dir)
    producer = KafkaProducer(bootstrap_servers=kafka, acks="all")
    try:
        snapshot = _snapshot()
        credit = NotificationPreference(
            employee_id="sanne", credit_name=CREDITED, updated_at=datetime.now(UTC)
        )
        producer.send(
            topics.INSIGHT, key=INSIGHT_KEY.encode(), value=snapshot.model_dump_json().encode()
        ).get(timeout=10)
        producer.send(
            topics.PREFERENCES, key=b"sanne", value=credit.model_dump_json().encode()
        ).get(timeout=10)
    finally:
        producer.close()
    services.start("ingest")

    def shown() -> bool:
        page = httpx.get(f"{services.api}/insight", auth=("lead", PASSWORD), timeout=10)
        return page.status_code == 200 and CREDITED in page.text

    wait_for(shown, "/insight with the summary and Sanne's credit")
    yield services
    services.stop()


@pytest.fixture(scope="module")
def proxy(ingest: Services) -> Iterator[MeasuringProxy]:
    server = MeasuringProxy(ingest.api, ("lead", PASSWORD), MEASURE)
    yield server
    server.close()


@pytest.mark.parametrize("screen", list(SCREENS))
def test_the_chart_is_shown_and_fits_the_screen(
    proxy: MeasuringProxy, tmp_path: Path, screen: str
) -> None:
    width, height = SCREENS[screen]
    for lang in ("en", "nl"):
        dom = chromium(
            tmp_path,
            proxy.measure_url(f"/insight?lang={lang}", width, height),
            "--dump-dom",
            width=max(width, 500) + 20,
            height=height + 20,
        )
        found = layout(dom)
        assert (found["viewport"], found["lang"]) == (width, lang), found
        assert found["scroll_width"] <= width, found  # nothing scrolls sideways
        assert found["wide"] == [], found
        assert found["small"] == [], found
        chart = found["chart"]
        assert chart["shown"] and chart["height"] > 100, chart
        assert chart["left"] >= 0 and chart["right"] <= width, chart
        assert chart["width"] >= min(width - 40, 500), chart  # uses the screen, up to 36rem
        assert found["bars"] >= 26, found  # every week has some of the 300 reports
        assert found["label_px"] >= 11, found  # axis labels readable, not shrunk away


@pytest.mark.parametrize("screen", list(SCREENS))
def test_screenshots_for_a_person_to_look_at(ingest: Services, tmp_path: Path, screen: str) -> None:
    width = SCREENS[screen][0]
    url = ingest.api.replace("http://", f"http://lead:{PASSWORD}@") + "/insight?lang=nl"
    shot = tmp_path / f"insight-{screen}.png"
    chromium(tmp_path, url, f"--screenshot={shot}", width=width, height=2400)
    assert png_size(shot) == (width, 2400)
    assert shot.stat().st_size > 20_000  # a chart and tables, not a blank page


def test_the_dom_has_no_script_and_names_only_who_opted_in(
    ingest: Services, tmp_path: Path
) -> None:
    url = ingest.api.replace("http://", f"http://lead:{PASSWORD}@") + "/insight?lang=en"
    dom = chromium(tmp_path, url, "--dump-dom", width=1280, height=800)
    assert "<script" not in dom
    assert re.search(r'<svg class="chart"[^>]*role="img"', dom)
    assert CREDITED in dom
    assert "employee-" not in dom  # the others did not opt in, and ids never show
    assert '&lt;Noord&gt; &amp; "Zuid"' in dom or "&lt;Noord&gt; &amp; &quot;Zuid&quot;" in dom
