"""The triage loop on the real broker, with ingest, processor and connectors as real
processes and a desk that opens one ticket per Idempotency-Key: a signal lands in triage,
an operator clicks "complaint -> service desk" on /triage, the desk gets one ticket and
signals.labels one label; a second click changes nothing; `antenna labels export` writes
the row. A colleague's report that dedupe joined to a case, said by an operator to be
"not the same case", becomes a case of its own with its own ticket. Employees who are not
operators are refused."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest

from schemas import Label, RoutedSignal, new_signal_id, topics
from tests.support.desk import Desk, webhooks_to
from tests.support.kafka import records_until_now, wait_for_records, wait_until_processed
from tests.support.services import WEBHOOK_SECRET, Services, stack_on_own_broker, wait_for

pytestmark = pytest.mark.integration

OPERATOR = ("olga", "olga-operator-password-0123")
EMPLOYEE = ("emma", "emma-employee-password-0123")
# Chat reports wait in triage; everything else goes to the desk, whatever the classifier.
RULES = """version: 1
min_confidence: 0.0
rules:
  - id: chat-to-triage
    when: {channel: chat}
    route: {destination: triage}
default: {destination: servicedesk}
"""
CONNECTORS = "antenna-connectors"


@pytest.fixture(scope="module")
def stack(desk: Desk, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var_dir = tmp_path_factory.mktemp("triage")
    rules = var_dir / "routing.yaml"
    rules.write_text(RULES)
    env = {
        **webhooks_to(desk, WEBHOOK_SECRET),
        "ANTENNA_ROUTING_RULES": str(rules),
        "ANTENNA_REPORT_USERS": ",".join(":".join(login) for login in (OPERATOR, EMPLOYEE)),
        "ANTENNA_OPERATORS": OPERATOR[0],
        "ANTENNA_INCIDENTS_ENABLED": "false",
    }
    with stack_on_own_broker(var_dir, env) as services:
        yield services


def _kafka(stack: Services) -> str:
    return stack.env["KAFKA_BOOTSTRAP_SERVERS"]


def _post(stack: Services, text: str, channel: str, reporter: str, **more: object) -> str:
    body = {"text": text, "channel": channel, "reporter": {"employee_id": reporter}, **more}
    response = stack.post(body)
    assert response.status_code == 202, response.text
    signal_id: str = response.json()["signal_id"]
    return signal_id


def _hidden(html: str) -> dict[str, str]:
    found = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html)
    return {name: unescape(value) for name, value in found}


def _page(stack: Services, path: str, auth: tuple[str, str] = OPERATOR) -> httpx.Response:
    return httpx.get(f"{stack.api}{path}", auth=auth, timeout=10)


def _item_form(stack: Services, signal_id: str) -> dict[str, str]:
    """The triage form of ``signal_id``, once ingest lists it."""

    def listed() -> str | None:
        page = _page(stack, "/triage").text
        marker = f'id="item-{signal_id}"'
        return page.split(marker, 1)[1].split("</article>", 1)[0] if marker in page else None

    return _hidden(wait_for(listed, f"{signal_id} on /triage"))


def test_an_operator_routes_a_triage_signal_once_and_teaches_a_label(
    stack: Services, desk: Desk, tmp_path: Path
) -> None:
    text = f"Mevrouw Jansen belde: haar pas werkt niet meer, bel haar terug [{new_signal_id()}]"
    signal_id = _post(stack, text, "chat", "e-triage-1")
    form = _item_form(stack, signal_id)
    assert _page(stack, "/triage", EMPLOYEE).status_code == 403

    click = {**form, "choice": "servicedesk", "category": "payments_cards", "urgency": "high"}
    done = httpx.post(f"{stack.api}/triage", auth=OPERATOR, data=click, timeout=30)
    assert done.status_code == 200, done.text
    assert "Sent to the service desk" in done.text

    desk.wait_until("the triage signal's ticket", lambda: signal_id in desk.tickets)
    [attempt] = desk.attempts_for(signal_id)
    assert attempt.status == 201
    label_id = f"operator:{signal_id}"
    [record] = wait_for_records(_kafka(stack), topics.LABELS, lambda r: r.key == label_id.encode())
    label = Label.model_validate_json(record.value)
    assert (label.kind.value, label.category.value, label.urgency.value) == (
        "complaint",
        "payments_cards",
        "high",
    )
    assert label.text == text and label.destination == "servicedesk"

    again = httpx.post(f"{stack.api}/triage", auth=OPERATOR, data=click, timeout=30)
    assert again.status_code == 200, again.text
    # Once the connectors have handled everything routed to the desk, a second ticket
    # or a second delivery would be there.
    wait_until_processed(_kafka(stack), [(CONNECTORS, topics.ROUTED_SERVICEDESK)])
    assert len(desk.attempts_for(signal_id)) == 1
    routed = records_until_now(
        _kafka(stack), topics.ROUTED_SERVICEDESK, lambda r: r.key == signal_id.encode()
    )
    labels = records_until_now(_kafka(stack), topics.LABELS, lambda r: r.key == label_id.encode())
    assert len(routed) == len(labels) == 2  # the second click wrote the same records
    assert routed[0].value == routed[1].value and labels[0].value == labels[1].value
    assert RoutedSignal.model_validate_json(routed[0].value).rule_id == "triage:operator"

    status = httpx.get(
        f"{stack.api}/v1/signals/{signal_id}",
        headers={"Authorization": f"Bearer {stack.env['ANTENNA_API_KEYS']}"},
        timeout=10,
    ).json()
    assert status["rule_id"] == "triage:operator"

    exported = tmp_path / "labels.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "services.cli", "labels", "export", str(exported)],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in exported.read_text().splitlines()]
    [row] = [row for row in rows if row["signal_id"] == signal_id]
    assert row["id"] == label_id
    assert (row["kind"], row["urgency"], row["source"]) == ("complaint", "high", "operator")
    assert row["text"] == text


def test_not_the_same_case_makes_the_report_a_case_with_its_own_ticket(
    stack: Services, desk: Desk
) -> None:
    text = f"My neighbour's bank card was declined three times this week [{new_signal_id()}]"
    customer = {"name": "Jan de Vries", "phone": "+31 6 12345678"}
    first = _post(stack, text, "api", "e-case-1", customer=customer)
    desk.wait_until("the case's ticket", lambda: first in desk.tickets)
    # A colleague's report with the same words: dedupe joins it, the desk gets a note.
    second = _post(stack, text, "api", "e-case-2", customer=customer)
    desk.wait_until("the colleague's note", lambda: bool(desk.attempts_for(second)))

    def offered() -> dict[str, str] | None:
        page = _page(stack, f"/report/status/{second}").text
        if "Not the same case" not in page:
            return None
        return _hidden(page.split("Not the same case", 1)[0].rsplit("<form", 1)[1])

    form = wait_for(offered, "the status page's 'not the same case'")
    assert form["other_signal_id"] == first
    done = httpx.post(f"{stack.api}/triage/case", auth=OPERATOR, data=form, timeout=30)
    assert done.status_code == 200, done.text

    [record] = wait_for_records(
        _kafka(stack), topics.ROUTED_SERVICEDESK, lambda r: r.key == second.encode()
    )
    routed = RoutedSignal.model_validate_json(record.value)
    assert routed.dedupe.duplicate_of is None and routed.dedupe.cluster_id == second
    desk.wait_until(
        "the split-off report's own ticket", lambda: len(desk.attempts_for(second)) == 2
    )
    assert [(a.key, a.status) for a in desk.attempts_for(second)] == [
        (f"{second}@{first}", 201),  # the note (a webhook receiver keeps it apart)
        (second, 201),  # its own ticket
    ]

    def own_record() -> bool:
        status = httpx.get(
            f"{stack.api}/v1/signals/{second}",
            headers={"Authorization": f"Bearer {stack.env['ANTENNA_API_KEYS']}"},
            timeout=10,
        ).json()
        delivery = status["delivery"] or {}
        return (
            status["state"] == "delivered"
            and status["duplicate_of"] is None
            and delivery.get("external_id") == desk.tickets[second]
        )

    wait_for(own_record, "the split-off report's status: its own ticket")
