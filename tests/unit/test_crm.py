"""What every CRM record says (pure), and the CRM capability's flow through the mapping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas import CallbackWindow, Classification, Dedupe, Destination, Kind, RoutedSignal
from services.connectors.base import ConnectorConfig, ConnectorContext, DeliveryError
from services.connectors.crm import (
    CONSENT_MISSING,
    CrmConnector,
    Lead,
    Note,
    callback_due,
    lead_of,
    mask_contact_details,
    note_of,
    record_key,
    referral_source,
)
from services.connectors.records import Entry, Record, TableRecords
from tests.support.builders import RECEIVED_AT, build_routed, build_signal
from tests.support.records import DictTable

CUSTOMER = {"name": "Jan de Vries", "email": "jan@example.nl", "phone": "+31 6 12345678"}


def opportunity(consent: bool = True, **signal: object) -> RoutedSignal:
    return build_routed(
        build_signal(
            **{
                "text": "Jan (jan@example.nl, 06-12345678) wants an offer for 12 solar panels.",
                "customer": {**CUSTOMER, "consent_to_contact": consent, "customer_id": "C-77"},
                "callback_window": {"text": "tomorrow morning"},
                "reporter": {
                    "employee_id": "E-1001",
                    "name": "Sanne de Vries",
                    "department": "Branches",
                },
                **signal,
            }
        ),
        classification=Classification(
            kind=Kind.opportunity,
            confidence=0.91,
            language="en",
            classifier_version="test-1",
            reasons=["lead cue: wants an offer", "model: opportunity 0.88"],
        ),
        destination=Destination(name="crm", target="solar"),
        rule_id="opportunities-to-crm",
    )


def test_a_lead_with_consent_carries_the_contact_referrer_callback_and_reasons() -> None:
    routed = opportunity()
    lead = lead_of(routed)
    assert lead.key == record_key(routed.signal.signal_id) == "antenna-" + routed.signal.signal_id
    assert lead.consent and lead.contact is not None
    assert (lead.contact.name, lead.contact.email, lead.contact.phone) == (
        "Jan de Vries",
        "jan@example.nl",
        "+31 6 12345678",
    )
    assert lead.referral_source == "Employee referral: Sanne de Vries (E-1001, Branches)"
    # Received 2025-03-14 09:30 UTC; tomorrow morning in Amsterdam is 09:00 CET = 08:00 UTC.
    assert lead.callback is not None
    assert lead.callback.due == datetime(2025, 3, 15, 8, 0, tzinfo=UTC)
    assert "Call back: tomorrow morning (due 2025-03-15 09:00 Europe/Amsterdam)" in lead.body
    assert "jan@example.nl" in lead.body and "Customer number: C-77" in lead.body
    assert "Why: lead cue: wants an offer; model: opportunity 0.88" in lead.body
    assert "Consent to contact: yes" in lead.body
    assert lead.target == "solar" and lead.title.startswith("other: Jan (jan@example.nl")


def test_without_consent_the_lead_has_no_contact_details_and_says_so() -> None:
    lead = lead_of(opportunity(consent=False))
    assert lead.contact is None and not lead.consent
    assert CONSENT_MISSING in lead.body and "ask Sanne de Vries" in lead.body
    for detail in ("Jan de Vries", "jan@example.nl", "12345678", "C-77"):
        assert detail not in lead.body and detail not in lead.title
    assert "[e-mail withheld]" in lead.body and "[phone withheld]" in lead.body
    assert "12 solar panels" in lead.body  # the rest of the report stays


def test_masking_keeps_ordinary_numbers() -> None:
    text = "Call +31 20 123 4567 or mail a.b@c.example.com about 40 panels in 2025."
    assert mask_contact_details(text) == (
        "Call [phone withheld] or mail [e-mail withheld] about 40 panels in 2025."
    )


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("tomorrow morning", datetime(2025, 3, 15, 8, 0, tzinfo=UTC)),
        ("morgenmiddag", datetime(2025, 3, 15, 12, 0, tzinfo=UTC)),
        ("vanavond", datetime(2025, 3, 14, 17, 0, tzinfo=UTC)),
        ("this morning", RECEIVED_AT),  # already past: as soon as possible
        ("after the holidays", None),
    ],
)
def test_callback_due_from_the_window_words(text: str, due: datetime | None) -> None:
    assert callback_due(CallbackWindow(text=text), RECEIVED_AT) == due


def test_callback_due_prefers_the_window_times() -> None:
    start = datetime(2025, 3, 20, 14, 0, tzinfo=UTC)
    assert callback_due(CallbackWindow(text="tomorrow", not_before=start), RECEIVED_AT) == start


def test_referral_source_names_whoever_is_known() -> None:
    routed = build_routed(build_signal(reporter={"employee_id": "E-9"}))
    assert referral_source(routed.signal.reporter) == "Employee referral: E-9"


def test_a_note_is_keyed_by_the_duplicate() -> None:
    case = opportunity()
    duplicate = opportunity(reporter={"employee_id": "E-2"}).model_copy(
        update={
            "dedupe": Dedupe(
                duplicate_of=case.signal.signal_id,
                cluster_id=case.signal.signal_id,
                reporters_count=3,
            )
        }
    )
    note = note_of(duplicate)
    assert note.case_id == case.signal.signal_id
    assert note.key == record_key(duplicate.signal.signal_id)
    assert note.subject == f"Reported again (3 colleagues so far) [antenna {note.signal_id}]"
    assert note.body.startswith("Another colleague reported this case; 3 colleagues")


class Crm(CrmConnector):
    name = "crm-fake"
    config_model = ConnectorConfig

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(ConnectorConfig(), context)
        self.leads: dict[str, Lead] = {}
        self.notes: dict[str, Note] = {}
        self.calls: list[str] = []

    async def find_lead(self, case_id: str, entry: Entry) -> Record | None:
        self.calls.append("find_lead")
        return Record(record_key(case_id)) if record_key(case_id) in self.leads else None

    async def create_lead(self, lead: Lead) -> Record:
        self.calls.append("create_lead")
        self.leads[lead.key] = lead
        return Record(lead.key, f"https://crm/{lead.key}")

    async def find_note(self, lead: Record, note: Note) -> Record | None:
        self.calls.append("find_note")
        return Record(note.key) if note.key in self.notes else None

    async def add_note(self, lead: Record, note: Note) -> Record:
        self.calls.append("add_note")
        self.notes[note.key] = note
        return Record(note.key)


def test_the_crm_capability_writes_a_lead_and_a_note_once() -> None:
    crm = Crm(ConnectorContext("crm", Path("unused"), TableRecords(DictTable(), "crm")))
    case = opportunity()
    dedupe = Dedupe(
        duplicate_of=case.signal.signal_id, cluster_id=case.signal.signal_id, reporters_count=2
    )
    duplicate = build_routed(dedupe=dedupe, destination=Destination(name="crm"))

    with pytest.raises(DeliveryError) as early:
        asyncio.run(crm.deliver(duplicate))  # the case's lead is not there yet
    assert early.value.retryable
    for _ in range(3):
        delivered = asyncio.run(crm.deliver(case))
        assert delivered.external_url == f"https://crm/{record_key(case.signal.signal_id)}"
    for _ in range(3):
        assert asyncio.run(crm.deliver(duplicate)).external_id == delivered.external_id

    assert len(crm.leads) == 1 and list(crm.notes) == [record_key(duplicate.signal.signal_id)]
    assert crm.calls == ["find_lead", "create_lead", "add_note"]
