"""The Salesforce connector against a stateful fake of Salesforce's REST API on loopback
(tests/support/salesforce_fake.py), as the CRM (Lead) and as the service desk (Case)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.connectors.base import Connector, ConnectorContext, DeliveryError, StartupError
from services.connectors.crm import CONSENT_MISSING, callback_key, record_key
from services.connectors.records import CaseRecords, TableRecords
from services.connectors.registry import build
from services.connectors.startup import check_connectors
from tests.support.connectors import build_lead, build_lead_duplicate, deliver_once
from tests.support.records import DictTable
from tests.support.salesforce_fake import (
    CLIENT_ID,
    CLIENT_SECRET,
    DATA,
    SalesforceFake,
    duplicate_value,
    request_limit_exceeded,
)
from tests.support.vendor_fake import ANY

UPSERT = DATA + "/sobjects/{}/.+"


@pytest.fixture
def salesforce() -> Iterator[SalesforceFake]:
    with SalesforceFake() as fake:
        yield fake


def connector(
    salesforce: SalesforceFake,
    destination: str = "crm",
    records: CaseRecords | None = None,
    **more: Any,
) -> Connector:
    options = {
        "url": salesforce.url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **more,
    }
    return build("salesforce", options, ConnectorContext(destination, Path("unused"), records))


@pytest.mark.parametrize(("destination", "sobject"), [("crm", "Lead"), ("servicedesk", "Case")])
def test_delivered_three_times_one_record_one_callback_one_task_per_report(
    salesforce: SalesforceFake, destination: str, sobject: str
) -> None:
    routed = build_lead(destination)
    results = [deliver_once(connector(salesforce, destination), routed) for _ in range(3)]
    assert results[0] == results[1] == results[2]
    [record] = salesforce.of(sobject)
    assert record["Antenna_Key__c"] == record_key(routed.signal.signal_id)
    assert results[0].external_url == f"{salesforce.url}/lightning/r/{sobject}/{record['Id']}/view"
    if sobject == "Lead":
        assert results[0].external_id == record["Id"]
        assert (record["FirstName"], record["LastName"], record["Email"]) == (
            "Jane van",
            "Dijk",
            "jane@example.com",
        )
        assert record["LeadSource"] == "Employee referral"
        assert "Employee referral: Sanne de Vries (E-1001)" in record["Description"]
    else:
        assert results[0].external_id == record["CaseNumber"] == "00000001"
        assert record["SuppliedEmail"] == "jane@example.com" and record["Priority"] == "Medium"
        assert "Agreed to be contacted: yes" in record["Description"]
    [callback] = salesforce.of("Task")
    assert callback["Antenna_Key__c"] == callback_key(routed.signal.signal_id)
    assert (callback["ActivityDate"], callback["ReminderDateTime"]) == (
        "2025-03-15",
        "2025-03-15T08:00:00Z",
    )
    regarding = "WhoId" if sobject == "Lead" else "WhatId"
    assert callback[regarding] == record["Id"]

    duplicate = build_lead_duplicate(routed)
    for _ in range(3):
        assert deliver_once(connector(salesforce, destination), duplicate) == results[0]
    notes = [
        t
        for t in salesforce.of("Task")
        if t["Antenna_Key__c"] == record_key(duplicate.signal.signal_id)
    ]
    assert len(notes) == 1 and notes[0][regarding] == record["Id"]
    assert notes[0]["Subject"].startswith("Reported again (2 colleagues so far)")
    assert len(salesforce.of("Task")) == 2


def test_lost_answers_after_commit_leave_one_lead_and_one_task(salesforce: SalesforceFake) -> None:
    salesforce.search_lags = True  # SOQL does not see anything written here
    records = TableRecords(DictTable(), "crm")
    routed = build_lead()
    salesforce.lose_answer("PATCH", UPSERT.format("Lead"))
    with pytest.raises(DeliveryError) as lost:
        deliver_once(connector(salesforce, records=records), routed)
    assert lost.value.retryable
    delivered = deliver_once(connector(salesforce, records=records), routed)
    [lead] = salesforce.of("Lead")
    assert delivered.external_id == lead["Id"]

    duplicate = build_lead_duplicate(routed)
    salesforce.lose_answer("PATCH", UPSERT.format("Task"))
    with pytest.raises(DeliveryError):
        deliver_once(connector(salesforce, records=records), duplicate)
    for _ in range(2):
        deliver_once(connector(salesforce, records=records), duplicate)
    assert len(salesforce.of("Lead")) == 1 and len(salesforce.of("Task")) == 2  # callback + note
    assert len(salesforce.lost) == 2


def test_without_consent_the_lead_has_no_contact_details(salesforce: SalesforceFake) -> None:
    deliver_once(connector(salesforce), build_lead(consent=False))
    [lead] = salesforce.of("Lead")
    assert lead["LastName"] == "(no consent to contact)"
    assert "Email" not in lead and "Phone" not in lead and "FirstName" not in lead
    assert CONSENT_MISSING in lead["Description"] and "jane@example.com" not in str(lead)


def test_limits_races_and_expired_sessions(salesforce: SalesforceFake) -> None:
    salesforce.fail(ANY, DATA + ANY, request_limit_exceeded())  # data calls count, not logins
    with pytest.raises(DeliveryError) as limited:
        deliver_once(connector(salesforce), build_lead())
    assert limited.value.retryable and limited.value.retry_after_s is None

    salesforce.fail("PATCH", UPSERT.format("Lead"), duplicate_value())  # two upserts raced
    with pytest.raises(DeliveryError) as raced:
        deliver_once(connector(salesforce), build_lead())
    assert raced.value.retryable

    conn = connector(salesforce)

    async def expire_between_calls() -> None:
        try:
            await conn.deliver(build_lead())
            salesforce.expire_sessions()
            await conn.deliver(build_lead())  # logs in again after the 401
        finally:
            await conn.close()

    asyncio.run(expire_between_calls())
    assert len(salesforce.of("Lead")) == 2


def test_start_up_checks_the_client_and_the_external_id_fields(salesforce: SalesforceFake) -> None:
    check_connectors(
        {"crm": connector(salesforce), "servicedesk": connector(salesforce, "servicedesk")}
    )
    with pytest.raises(StartupError) as refused:
        check_connectors({"crm": connector(salesforce, client_secret="wrong-secret-0123456789")})
    assert "Salesforce refused the credentials; check ANTENNA_CRM__CLIENT_ID" in str(refused.value)
    assert "wrong-secret" not in str(refused.value)
    with pytest.raises(StartupError) as missing:
        check_connectors({"crm": connector(salesforce, external_id_field="Signal_Key__c")})
    assert "Lead needs a text field Signal_Key__c marked External ID and Unique" in str(
        missing.value
    )


def test_a_revoked_client_during_delivery_is_final(salesforce: SalesforceFake) -> None:
    with pytest.raises(DeliveryError) as failure:
        deliver_once(connector(salesforce, client_secret="revoked-secret-0123456789"), build_lead())
    assert not failure.value.retryable
