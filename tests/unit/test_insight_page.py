"""/insight and /v1/insight: who may read them, the names of those who opted in only,
Dutch and English, the SVG chart (escaped labels, no script, no style attributes)."""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from schemas import InsightSnapshot, NotificationPreference, OutcomeStatus
from schemas.insight import INSIGHT_KEY, reporter_ref
from services.ingest.app import create_app
from services.ingest.chart import Column, Series, nice_ceiling, sparkline, stacked_bars
from services.ingest.insight import InsightBook, as_json, credited
from services.ingest.insight_view import duration, render_insight
from services.ingest.settings import IngestSettings
from services.insight.facts import Record
from services.insight.summary import summarise
from services.insight.tally import with_change, with_record
from tests.support.fakes import FakePublisher
from tests.unit.test_insight import NOW, change, report

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ANNA = ("anna", "anna-password-0123")  # an operator
BEN = ("ben", "ben-password-01234")  # an employee
API_KEY = "integration-api-key-0123456789"
INSIGHT_KEY_ = "insight-reader-key-0123456789"
HOSTILE = '<script>alert("x")</script> & "Sales"'


def _snapshot() -> InsightSnapshot:
    t0 = NOW - timedelta(days=9)
    resolved = report(t0, employee="anna", department=HOSTILE)
    joined = report(t0 + timedelta(hours=1), case_id=resolved.case_id, employee="carla")
    won = report(t0, kind="opportunity", employee="dirk", department="Retail")
    quiet = report(t0, employee="ben")
    cases = {
        resolved.case_id: with_change(
            with_record(None, Record(signal_id=resolved.case_id, at=t0 + timedelta(hours=1))),
            change(resolved.case_id, OutcomeStatus.resolved, t0 + timedelta(days=2)),
        ),
        won.case_id: with_change(
            None, change(won.case_id, OutcomeStatus.won, t0 + timedelta(days=3))
        ),
    }
    return summarise([resolved, joined, won, quiet], cases, NOW, 4)


def _credit(name: str, employee: str) -> bytes:
    preference = NotificationPreference(
        employee_id=employee, credit_name=name, updated_at=datetime(2026, 3, 1, tzinfo=UTC)
    )
    return preference.model_dump_json().encode()


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = IngestSettings.model_validate(
        {
            "api_keys": [API_KEY],
            "insight_api_keys": [INSIGHT_KEY_],
            "report_users": [":".join(ANNA), ":".join(BEN)],
            "operators": ["Anna"],
        }
    )
    with TestClient(create_app(settings, publisher=FakePublisher())) as test_client:
        yield test_client


def _publish(client: TestClient, snapshot: InsightSnapshot) -> None:
    book: InsightBook = client.app.state.insight  # type: ignore[attr-defined]
    assert book.apply(INSIGHT_KEY.encode(), snapshot.model_dump_json().encode())


def _opt_in(client: TestClient, employee: str, name: str) -> None:
    client.app.state.preferences.apply(employee.encode(), _credit(name, employee))  # type: ignore[attr-defined]


def _xml(text: str) -> ET.Element:
    """Parse our own SVG: well-formed only if every label was escaped."""
    return ET.fromstring(text)  # noqa: S314 - the renderer's output, not outside input


# ----------------------------------------------------------------------- who may read


def test_no_summary_yet_is_a_503_for_an_operator(client: TestClient) -> None:
    page = client.get("/insight", auth=ANNA)
    assert page.status_code == 503 and "No figures yet" in page.text
    answer = client.get("/v1/insight", auth=ANNA)
    assert answer.status_code == 503 and answer.headers["Retry-After"]


def test_employees_and_integration_keys_may_not_read_it(client: TestClient) -> None:
    _publish(client, _snapshot())
    assert client.get("/insight").status_code == 401
    refused = client.get("/insight", auth=BEN)
    assert refused.status_code == 403 and "For the programme team only" in refused.text
    assert HOSTILE not in refused.text and "Retail" not in refused.text
    assert client.get("/v1/insight", auth=BEN).status_code == 403
    assert client.get("/v1/insight").status_code == 401
    for headers in (
        {"Authorization": f"Bearer {API_KEY}"},  # may post signals, not read this
        {"X-API-Key": API_KEY},
        {"Authorization": "Bearer not-a-key-at-all-0000"},
    ):
        answer = client.get("/v1/insight", headers=headers)
        assert answer.status_code == 401, headers
        assert "mattered" not in answer.text


def test_an_operator_or_an_insight_key_may(client: TestClient) -> None:
    _publish(client, _snapshot())
    assert client.get("/insight", auth=ANNA).status_code == 200
    assert client.get("/v1/insight", auth=ANNA).status_code == 200
    answer = client.get("/v1/insight", headers={"Authorization": f"Bearer {INSIGHT_KEY_}"})
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"


# ----------------------------------------------------------------------- what it says


def test_only_employees_who_opted_in_are_named(client: TestClient) -> None:
    _publish(client, _snapshot())
    _opt_in(client, "anna", "Anna de Vries")
    _opt_in(client, "ben", "Ben Bakker")  # opted in, but none of his reports mattered
    body = client.get("/v1/insight", headers={"X-API-Key": INSIGHT_KEY_}).json()
    credits = {(m["status"], tuple(m["credited"])) for m in body["mattered"]}
    assert credits == {("resolved", ("Anna de Vries",)), ("won", ())}
    assert "reporter_refs" not in body["mattered"][0]
    page = client.get("/insight", auth=ANNA).text
    assert "Reported by Anna de Vries and 1 more." in page
    assert "Ben Bakker" not in page
    assert "Reported by one employee." in page  # Dirk did not opt in
    # Withdrawn: gone at once, without waiting for a new summary.
    client.app.state.preferences.apply(b"anna", None)  # type: ignore[attr-defined]
    assert "Anna de Vries" not in client.get("/insight", auth=ANNA).text


def test_the_page_in_dutch_and_the_json_names_in_dutch(client: TestClient) -> None:
    _publish(client, _snapshot())
    page = client.get("/insight", auth=ANNA, params={"lang": "nl"})
    assert '<html lang="nl">' in page.text and "Inzicht in het programma" in page.text
    assert "Gemelde signalen" in page.text
    body = client.get(
        "/v1/insight", auth=ANNA, headers={"Accept-Language": "nl-NL,nl;q=0.9"}
    ).json()
    assert body["language"] == "nl"
    assert body["names"]["complaint"] == "klachten" and body["names"]["won"] == "gewonnen"
    assert body["outcomes"]["tickets_resolved"] == 1 and body["outcomes"]["leads_won"] == 1
    weeks = body["weeks"]
    assert len(weeks) == 4 and sum(w["signals"] for w in weeks) == 4


def test_the_page_escapes_department_names_and_has_no_script() -> None:
    snapshot = _snapshot()
    for language in ("en", "nl"):
        page = render_insight(language=language, snapshot=snapshot, credits={})
        assert HOSTILE not in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;Sales&quot;" in page
        assert "<script" not in page and " style=" not in page
        [svg] = re.findall(r'<svg class="chart".*?</svg>', page, flags=re.S)
        _xml(svg)  # well-formed


def test_durations_read_naturally() -> None:
    assert duration(None, "en") == "–"
    assert duration(20, "en") == "1 min"
    assert duration(45 * 60, "en") == "45 min"
    assert duration(5.5 * 3600, "nl") == "5,5 uur"
    assert duration(3 * 86400, "en") == "3 days"


def test_credited_lists_each_name_once() -> None:
    snapshot = _snapshot()
    refs = {reporter_ref("anna"): "Anna", reporter_ref("carla"): "Anna"}
    [resolved] = [c for c in credited(snapshot, refs) if c.report.status == "resolved"]
    assert resolved.names == ("Anna",)
    assert as_json(snapshot, {})["mattered"][0]["credited"] == []


# ----------------------------------------------------------------------------- SVG


def test_the_chart_escapes_its_labels_and_stacks_the_series() -> None:
    columns = [
        Column("W1", HOSTILE, {"complaint": 3, "opportunity": 2}),
        Column("<W2>", "w2", {"complaint": 1}),
    ]
    series = [Series("complaint", "<b>c</b>", "#b3261e"), Series("opportunity", "o&o", "#1e6b34")]
    svg = stacked_bars(columns, series, title='Title "<x>"', description="d & d")
    root = _xml(svg)  # well-formed: every label escaped
    assert HOSTILE not in svg and "<b>" not in svg and "<W2>" not in svg
    texts = [t.text for t in root.iter("text")]
    assert "<W2>" in texts  # shown as text, not markup
    rects = list(root.iter("rect"))
    assert len(rects) == 3  # 3 + 2 stacked in week 1, 1 in week 2
    heights = [float(r.get("height", 0)) for r in rects]
    assert heights[0] == pytest.approx(heights[1] * 3 / 2)  # 3 complaints vs 2 leads
    assert root.get("role") == "img" and root.get("viewBox") == "0 0 420 220"
    assert " style=" not in svg and "<script" not in svg


def test_an_empty_chart_and_sparkline_still_draw() -> None:
    _xml(stacked_bars([], [], title="t", description="d"))
    _xml(sparkline([], label="<none>"))
    assert "&lt;none&gt;" in sparkline([0, 2, 1], label="<none>")


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (3, 3), (7, 8), (9, 10), (11, 20), (24, 30), (101, 200)]
)
def test_the_axis_ends_on_a_round_number(value: int, top: int) -> None:
    assert nice_ceiling(value) == top
