"""The report page and POST /v1/forms/{form_id} on a real ingest process and a real broker:
what an employee types on the page is on signals.raw, once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from schemas import Signal, new_signal_id, topics
from tests.support.kafka import records_until_now, wait_for_records
from tests.support.services import API_KEY, Services, service_env

pytestmark = pytest.mark.integration

PASSWORD = "anna-integration-password-0123"
AUTH = ("anna", PASSWORD)


class FormPage(HTMLParser):
    """The hidden inputs of the report form and the signal id of a confirmation."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.signal_id: str | None = None
        self._in_signal_id = False
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "input" and attributes.get("type") == "hidden" and attributes.get("name"):
            self.hidden[str(attributes["name"])] = attributes.get("value") or ""
        self._in_signal_id = tag == "code" and attributes.get("id") == "signal-id"

    def handle_data(self, data: str) -> None:
        if self._in_signal_id:
            self.signal_id = data.strip()
            self._in_signal_id = False


@pytest.fixture(scope="module")
def ingest(kafka: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var_dir: Path = tmp_path_factory.mktemp("report-page")
    services = Services(
        service_env(
            kafka,
            var_dir,
            {"ANTENNA_REPORT_USERS": f"anna:{PASSWORD}", "ANTENNA_MAX_ATTACHMENT_BYTES": "10000"},
        ),
        var_dir,
    )
    services.start("ingest")
    yield services
    services.stop()
    log = services.log("ingest")
    if log.exists():
        text = log.read_text()
        assert PASSWORD not in text  # and no personal data below either
        assert "Jan de Vries" not in text and "jan.devries@example.nl" not in text


def _signal(kafka: str, signal_id: str) -> Signal:
    [record] = wait_for_records(
        kafka, topics.RAW, lambda r: r.key is not None and r.key.decode() == signal_id
    )
    return Signal.model_validate_json(record.value)


def test_report_page_to_signals_raw(ingest: Services, kafka: str) -> None:
    page = httpx.get(f"{ingest.api}/report?lang=nl", auth=AUTH, timeout=10)
    assert page.status_code == 200, page.text
    assert "Wat heb je gehoord?" in page.text
    form = FormPage(page.text)
    assert {"csrf_token", "nonce", "lang"} <= set(form.hidden)

    text = f"Haar pinpas werd twee keer geweigerd bij de kassa. [{new_signal_id()}]"
    fields = {
        **form.hidden,
        "text": text,
        "hint": "complaint",
        "customer_name": "Jan de Vries",
        "customer_email": "jan.devries@example.nl",
        "customer_phone": "+31 6 12345678",
        "consent": "yes",
        "callback_window": "morgenochtend",
        "reporter_department": "Retail",
    }
    sent = httpx.post(f"{ingest.api}/report", auth=AUTH, data=fields, timeout=30)
    assert sent.status_code == 200, sent.text
    assert "Bedankt, je melding is ontvangen" in sent.text
    signal_id = FormPage(sent.text).signal_id
    assert signal_id and f'href="/report/status/{signal_id}"' in sent.text

    signal = _signal(kafka, signal_id)
    assert signal.text == text
    assert signal.source == "report-page"
    assert signal.channel.value == "form"
    assert signal.idempotency_key == form.hidden["nonce"]
    assert signal.metadata == {"hint": "complaint"}
    assert signal.language == "nl"
    assert signal.reporter.employee_id == "anna"
    assert signal.reporter.department == "Retail"
    assert signal.customer is not None
    assert signal.customer.name == "Jan de Vries"
    assert signal.customer.email == "jan.devries@example.nl"
    assert signal.customer.phone == "+31 6 12345678"
    assert signal.customer.consent_to_contact is True
    assert signal.callback_window is not None
    assert signal.callback_window.text == "morgenochtend"

    # Pressing "send" twice (or reloading the confirmation) is still one signal.
    again = httpx.post(f"{ingest.api}/report", auth=AUTH, data=fields, timeout=30)
    assert again.status_code == 200
    assert FormPage(again.text).signal_id == signal_id
    # The page answers only after the broker acknowledged: a second signal would be there.
    assert (
        len(records_until_now(kafka, topics.RAW, lambda r: text.encode() in (r.value or b""))) == 1
    )


def test_report_page_needs_sign_in_and_a_token(ingest: Services) -> None:
    assert httpx.get(f"{ingest.api}/report", timeout=10).status_code == 401
    wrong = httpx.get(f"{ingest.api}/report", auth=("anna", "not-her-password"), timeout=10)
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Basic")
    forged = httpx.post(
        f"{ingest.api}/report",
        auth=AUTH,
        data={"text": "forged", "nonce": "n", "csrf_token": "v1.1.abc"},
        timeout=10,
    )
    assert forged.status_code == 403


def test_multipart_form_post_lands_with_attachment_metadata_only(
    ingest: Services, kafka: str
) -> None:
    marker = f"ATTACHMENT-BODY-{new_signal_id()}".encode()
    text = f"Klant wil een offerte voor zonnepanelen, zie bijlage. [{new_signal_id()}]"
    response = httpx.post(
        f"{ingest.api}/v1/forms/website-contact",
        headers={"X-API-Key": API_KEY, "Idempotency-Key": f"wf-{new_signal_id()}"},
        data={
            "text": text,
            "hint": "opportunity",
            "customer_name": "Jan de Vries",
            "consent": "true",
            "reporter_id": "e-17",
        },
        files={"attachment": ("offerte.pdf", marker * 20, "application/pdf")},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    signal_id = response.json()["signal_id"]

    [record] = wait_for_records(
        kafka, topics.RAW, lambda r: r.key is not None and r.key.decode() == signal_id
    )
    assert marker not in record.value  # the bytes never reach Kafka
    signal = Signal.model_validate_json(record.value)
    assert signal.text == text
    assert signal.source == f"form:website-contact:{signal.metadata['client']}"
    assert signal.metadata["form_id"] == "website-contact"
    assert signal.metadata["hint"] == "opportunity"
    assert [a.model_dump() for a in signal.attachments] == [
        {"filename": "offerte.pdf", "content_type": "application/pdf", "size": len(marker) * 20}
    ]
    assert signal.customer is not None and signal.customer.consent_to_contact is True

    too_big = httpx.post(
        f"{ingest.api}/v1/forms/website-contact",
        headers={"X-API-Key": API_KEY},
        data={"text": "t", "reporter_id": "e-17"},
        files={"attachment": ("big.bin", b"x" * 10_001, "application/octet-stream")},
        timeout=30,
    )
    assert too_big.status_code == 413
    assert json.loads(too_big.text)["errors"][0]["field"] == "attachment"
