"""HubSpot's deal webhooks name only the deal: the connector looks the deal up (against
the stateful HubSpot fake on loopback) to find the case and what the stage means."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas import Outcome, OutcomeStatus, RecordChange, new_signal_id
from services.connectors.base import Connector, ConnectorContext
from services.connectors.crm import record_key
from services.connectors.hubspot.outcomes import Stage, case_of, deal_status, stages_of
from services.connectors.outcome_sources import LetGo, resolved
from services.connectors.outcomes import ChangeResolver
from services.connectors.registry import build
from services.connectors.retry import Park, RetryPolicy
from tests.support.hubspot_fake import PORTAL_ID, TOKEN, HubSpotFake, rate_limited
from tests.support.vendor_fake import ANY

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def hubspot() -> Iterator[HubSpotFake]:
    with HubSpotFake() as fake:
        yield fake


def connector(hubspot: HubSpotFake) -> Connector:
    options = {"token": TOKEN, "url": hubspot.url}
    return build("hubspot", options, ConnectorContext("crm", Path("unused")))


def deal(hubspot: HubSpotFake, case_key: str | None, pipeline: str = "default") -> str:
    properties: dict[str, Any] = {"pipeline": pipeline, "dealstage": "appointmentscheduled"}
    if case_key is not None:
        properties["antenna_case_key"] = case_key
    return hubspot.add_deal(**properties)


def change(deal_id: str, stage: str, field: str = "dealstage") -> RecordChange:
    return RecordChange(
        vendor="hubspot",
        destination="crm",
        record_id=deal_id,
        field=field,
        value=stage,
        changed_at=AT,
        event_id=f"hubspot:{PORTAL_ID}:{deal_id}:{stage}:1",
        observed_at=AT,
    )


def resolve(hubspot: HubSpotFake, *changes: RecordChange) -> list[Outcome | None]:
    async def run() -> list[Outcome | None]:
        conn = connector(hubspot)
        assert isinstance(conn, ChangeResolver)
        try:
            return [await conn.resolve_change(c) for c in changes]
        finally:
            await conn.close()

    return asyncio.run(run())


# --- pure -------------------------------------------------------------------------------


def test_stage_meanings_from_the_pipelines_metadata() -> None:
    stages = stages_of(
        [
            {
                "id": "sales",
                "stages": [
                    {"id": "new", "metadata": {"isClosed": "false", "probability": "0.1"}},
                    {"id": "demo", "metadata": {"isClosed": "false", "probability": "0.5"}},
                    {"id": "signed", "metadata": {"isClosed": "true", "probability": "1.0"}},
                    {"id": "gone", "metadata": {"isClosed": True, "probability": 0}},
                    {"id": "parked", "metadata": {"isClosed": "true", "probability": "0.4"}},
                ],
            }
        ]
    )["sales"]
    assert stages["signed"] == Stage(True, 1.0)
    meaning = {stage: deal_status(stage, stages, initial_stage="new") for stage in stages}
    assert meaning == {
        "new": OutcomeStatus.opened,
        "demo": OutcomeStatus.in_progress,
        "signed": OutcomeStatus.won,
        "gone": OutcomeStatus.lost,
        "parked": None,  # closed, neither won nor lost: not guessed at
    }
    assert deal_status("unknown", stages, initial_stage="new") is None


def test_a_case_key_names_antenna_s_case() -> None:
    assert case_of("antenna-01J0000000000000000000000A") == "01J0000000000000000000000A"
    assert case_of("someone-else-7") is None
    assert case_of("antenna-") is None
    assert case_of(None) is None


# --- against the fake -------------------------------------------------------------------


def test_a_deal_won_becomes_its_case_s_outcome(hubspot: HubSpotFake) -> None:
    case = new_signal_id()
    deal_id = deal(hubspot, record_key(case))
    won, lost, moved, opened = resolve(
        hubspot,
        change(deal_id, "closedwon"),
        change(deal_id, "closedlost"),
        change(deal_id, "qualifiedtobuy"),
        change(deal_id, "appointmentscheduled"),
    )
    assert won is not None
    assert (won.case_id, won.status, won.record_id, won.connector) == (
        case,
        OutcomeStatus.won,
        deal_id,
        "hubspot",
    )
    assert won.record_url is not None
    assert won.record_url.endswith(f"/contacts/{PORTAL_ID}/record/0-3/{deal_id}")
    assert (won.event_id, won.changed_at) == (change(deal_id, "closedwon").event_id, AT)
    assert [o.status if o else None for o in (lost, moved, opened)] == [
        OutcomeStatus.lost,
        OutcomeStatus.in_progress,
        OutcomeStatus.opened,
    ]
    assert len(hubspot.received("GET", "/crm/v3/pipelines/deals")) == 1  # the stages are kept


def test_deals_that_are_not_antenna_s_or_not_a_stage_change_are_ignored(
    hubspot: HubSpotFake,
) -> None:
    foreign = deal(hubspot, None)
    not_a_case = deal(hubspot, "antenna-not-a-ulid")
    ours = deal(hubspot, record_key(new_signal_id()))
    assert (
        resolve(
            hubspot,
            change(foreign, "closedwon"),
            change(not_a_case, "closedwon"),
            change("999999", "closedwon"),  # deleted since
            change(ours, "closedwon", field="amount"),
            change(ours, "a-stage-nobody-made"),
        )
        == [None] * 5
    )


def test_a_stage_added_since_start_is_read_again(hubspot: HubSpotFake) -> None:
    deal_id = deal(hubspot, record_key(new_signal_id()))

    async def run() -> list[Outcome | None]:
        conn = connector(hubspot)
        assert isinstance(conn, ChangeResolver)
        try:
            first = await conn.resolve_change(change(deal_id, "qualifiedtobuy"))
            hubspot.pipelines["default"].append("contractsent")  # an administrator adds it
            return [first, await conn.resolve_change(change(deal_id, "contractsent"))]
        finally:
            await conn.close()

    first, second = asyncio.run(run())
    assert first is not None and second is not None
    assert second.status is OutcomeStatus.in_progress


def test_a_busy_hubspot_is_waited_for_a_refusal_is_parked_a_rebalance_lets_go(
    hubspot: HubSpotFake,
) -> None:
    deal_id = deal(hubspot, record_key(new_signal_id()))
    paused: list[float] = []
    goes_on = True

    async def pause(seconds: float) -> bool:
        paused.append(seconds)
        return goes_on

    async def run(token: str = TOKEN) -> Any:
        conn = build(
            "hubspot", {"token": token, "url": hubspot.url}, ConnectorContext("crm", Path("x"))
        )
        assert isinstance(conn, ChangeResolver)
        try:
            return await resolved(conn, change(deal_id, "closedwon"), RetryPolicy(), pause)
        finally:
            await conn.close()

    hubspot.fail(ANY, ANY, rate_limited(retry_after_s=1), times=2)
    won = asyncio.run(run())
    assert isinstance(won, Outcome) and won.status is OutcomeStatus.won
    assert paused == [1.0, 1.0]  # HubSpot's Retry-After

    refused = asyncio.run(run(token="pat-na1-wrong-token-0123456789"))
    assert isinstance(refused, Park) and "401" in refused.reason and len(paused) == 2

    goes_on = False  # a rebalance starts while HubSpot is busy
    hubspot.fail(ANY, ANY, rate_limited(retry_after_s=1))
    assert isinstance(asyncio.run(run()), LetGo)
