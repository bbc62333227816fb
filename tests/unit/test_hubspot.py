"""The HubSpot connector against a stateful fake of HubSpot's CRM API on loopback
(tests/support/hubspot_fake.py): one deal, one contact, one callback task and one note
per colleague's report, however often a signal arrives and whatever answer is lost."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.connectors.base import Connector, ConnectorContext, DeliveryError, StartupError
from services.connectors.crm import CONSENT_MISSING, record_key
from services.connectors.records import CaseRecords, TableRecords
from services.connectors.registry import build
from services.connectors.startup import check_connectors
from tests.support.connectors import build_lead, build_lead_duplicate, deliver_once
from tests.support.hubspot_fake import PORTAL_ID, TOKEN, HubSpotFake, rate_limited
from tests.support.records import DictTable
from tests.support.vendor_fake import ANY


@pytest.fixture
def hubspot() -> Iterator[HubSpotFake]:
    with HubSpotFake() as fake:
        yield fake


def connector(hubspot: HubSpotFake, records: CaseRecords | None = None, **more: Any) -> Connector:
    options = {"token": TOKEN, "url": hubspot.url, **more}
    return build("hubspot", options, ConnectorContext("crm", Path("unused"), records))


def test_delivered_three_times_one_deal_contact_task_and_note(hubspot: HubSpotFake) -> None:
    routed = build_lead()
    results = [deliver_once(connector(hubspot), routed) for _ in range(3)]  # mapping lost each time
    assert results[0] == results[1] == results[2]

    [deal] = hubspot.of("deals")
    deal_id = results[0].external_id
    assert deal["antenna_case_key"] == record_key(routed.signal.signal_id)
    assert (deal["pipeline"], deal["dealstage"]) == ("default", "appointmentscheduled")
    assert "Employee referral: Sanne de Vries (E-1001)" in deal["description"]
    assert results[0].external_url.endswith(f"/contacts/{PORTAL_ID}/record/0-3/{deal_id}")
    [contact] = hubspot.of("contacts")
    assert (contact["email"], contact["firstname"], contact["lastname"]) == (
        "jane@example.com",
        "Jane",
        "van Dijk",
    )
    assert len(hubspot.linked("deals", deal_id, "contacts")) == 1
    [task] = hubspot.of("tasks")
    assert task["hs_timestamp"] == "2025-03-15T08:00:00Z"  # tomorrow 09:00 in Amsterdam
    assert task["hs_task_type"] == "CALL" and "tomorrow morning" in task["hs_task_subject"]

    duplicate = build_lead_duplicate(routed)
    for _ in range(3):
        assert deliver_once(connector(hubspot), duplicate) == results[0]
    [note] = hubspot.of("notes")
    assert note["hs_note_body"].startswith(
        f"Reported again (2 colleagues so far) [antenna {duplicate.signal.signal_id}]"
    )
    assert hubspot.linked("deals", deal_id, "notes") != []
    searches = hubspot.received("POST", "/crm/v3/objects/deals/search")
    assert searches == []  # never the lagging search


def test_lost_answers_after_commit_leave_one_of_each(hubspot: HubSpotFake) -> None:
    hubspot.search_lags = True  # search does not see anything written in this test
    records = TableRecords(DictTable(), "crm")
    routed = build_lead()
    hubspot.lose_answer("POST", "/crm/v3/objects/deals/batch/upsert")
    hubspot.lose_answer("POST", "/crm/v3/objects/tasks")
    for _ in range(2):
        with pytest.raises(DeliveryError) as lost:
            deliver_once(connector(hubspot, records), routed)
        assert lost.value.retryable
    delivered = deliver_once(connector(hubspot, records), routed)
    assert len(hubspot.of("deals")) == len(hubspot.of("tasks")) == len(hubspot.of("contacts")) == 1

    duplicate = build_lead_duplicate(routed)
    hubspot.lose_answer("POST", "/crm/v3/objects/notes")
    with pytest.raises(DeliveryError):
        deliver_once(connector(hubspot, records), duplicate)
    for _ in range(2):
        assert deliver_once(connector(hubspot, records), duplicate) == delivered
    assert len(hubspot.of("notes")) == 1
    assert len(hubspot.lost) == 3


def test_without_consent_no_contact_and_the_deal_says_so(hubspot: HubSpotFake) -> None:
    deliver_once(connector(hubspot), build_lead(consent=False))
    [deal] = hubspot.of("deals")
    assert hubspot.of("contacts") == []
    assert CONSENT_MISSING in deal["description"] and "jane@example.com" not in str(deal)


def test_429_is_retried_after_the_time_hubspot_asks(hubspot: HubSpotFake) -> None:
    hubspot.fail(ANY, ANY, rate_limited(retry_after_s=3))
    with pytest.raises(DeliveryError) as throttled:
        deliver_once(connector(hubspot), build_lead())
    assert throttled.value.retryable and throttled.value.retry_after_s == 3
    assert hubspot.of("deals") == []


def test_start_up_checks_token_pipeline_stage_and_case_property(hubspot: HubSpotFake) -> None:
    check_connectors({"crm": connector(hubspot)})
    cases = {
        "refused the credentials; check ANTENNA_CRM__TOKEN": {"token": "x" * 40},
        "no deal pipeline with id 'solar'": {"pipeline": "solar"},
        "no stage id 'won'": {"stage": "won"},
        "property 'case_key'": {"case_property": "case_key"},
    }
    for message, options in cases.items():
        with pytest.raises(StartupError) as failure:
            check_connectors({"crm": connector(hubspot, **options)})
        assert message in str(failure.value)
        assert "x" * 40 not in str(failure.value)


def test_a_wrong_token_during_delivery_is_final(hubspot: HubSpotFake) -> None:
    with pytest.raises(DeliveryError) as failure:
        deliver_once(connector(hubspot, token="y" * 40), build_lead())
    assert not failure.value.retryable and "401" in str(failure.value)


def test_antenna_connectors_stops_with_the_reason_before_joining_the_broker(
    hubspot: HubSpotFake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from services.cli import main

    for name in [n for n in os.environ if n.startswith("ANTENNA_")]:
        monkeypatch.delenv(name)  # not the shell's settings
    monkeypatch.setenv("ANTENNA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # never reached
    monkeypatch.setenv("ANTENNA_CRM__CONNECTOR", "hubspot")
    monkeypatch.setenv("ANTENNA_CRM__URL", hubspot.url)
    monkeypatch.setenv("ANTENNA_CRM__TOKEN", "z" * 40)
    with pytest.raises(SystemExit) as stopped:
        main(["connectors"])
    assert stopped.value.code == (
        "antenna: crm connector hubspot: HubSpot refused the credentials; check ANTENNA_CRM__TOKEN"
    )
