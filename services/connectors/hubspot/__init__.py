"""HubSpot as the CRM.

A new case becomes a deal in the configured pipeline and stage, upserted by a unique
deal property (``antenna_case_key`` by default, holding ``antenna-<case id>``), so
that a repeated upsert finds the same deal. With the customer's consent and an e-mail
address, a contact is upserted by e-mail and associated with the deal. The callback
window becomes a task (type CALL) due then, associated with the deal. A colleague's
later report becomes a note associated with the deal, its body starting with
``[antenna <signal_id>]``: notes have no unique key in HubSpot, so after an attempt
whose answer was lost the connector reads the deal's notes (exact associations, not
the lagging search) before adding one.

Settings: ``..__TOKEN`` (a private-app token or service key with the crm.objects.deals,
contacts and notes/tasks scopes), ``..__PIPELINE`` and ``..__STAGE`` (ids, not labels),
``..__CASE_PROPERTY``. Start-up checks the token, the pipeline and stage, and that the
case property exists with unique values.

Outcomes come from HubSpot's deal webhooks through ingest (a RecordChange naming the
deal and its new stage): ``resolve_change`` reads the deal's case key and the stage's
meaning (outcomes.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator

from schemas import Outcome, RecordChange
from services.common.settings import check_secret
from services.connectors.base import ConnectorConfig, ConnectorContext, DeliveryError, StartupError
from services.connectors.crm import (
    DEFAULT_TIMEZONE,
    CrmConnector,
    Lead,
    Note,
    callback_marker,
    callback_subject,
    record_key,
    refused,
)
from services.connectors.http import request
from services.connectors.hubspot import outcomes
from services.connectors.outcomes import ChangeResolver
from services.connectors.records import Entry, Record
from services.connectors.tickets import note_marker

# HUBSPOT_DEFINED association type ids (HubSpot's association docs).
NOTE_TO_DEAL = 214
TASK_TO_DEAL = 216
BODY_CHARS = 65_000  # hs_note_body holds 65,536 characters


class HubSpotConfig(ConnectorConfig):
    token: SecretStr
    pipeline: str = Field(default="default", min_length=1)
    stage: str = Field(default="appointmentscheduled", min_length=1)
    case_property: str = Field(default="antenna_case_key", pattern=r"^[a-z0-9_]+$")
    url: AnyHttpUrl = AnyHttpUrl("https://api.hubapi.com")
    app_url: AnyHttpUrl = AnyHttpUrl("https://app.hubspot.com")
    timezone: str = DEFAULT_TIMEZONE
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("token")
    @classmethod
    def _real_token(cls, value: SecretStr) -> SecretStr:
        return check_secret(value, "HubSpot token")


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class HubSpotConnector(CrmConnector, ChangeResolver):
    name = "hubspot"
    config_model = HubSpotConfig
    callback_tasks = True
    upserts = True

    def __init__(self, config: HubSpotConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self.hubspot = config
        self.timezone = config.timezone
        self.env = f"ANTENNA_{context.destination.upper()}__"
        self.portal_id: int | None = None
        self._stages: dict[str, dict[str, outcomes.Stage]] = {}  # pipeline -> stage -> meaning
        self._client = httpx.AsyncClient(
            base_url=str(config.url).rstrip("/"),
            timeout=config.timeout_s,
            headers={
                "Authorization": f"Bearer {config.token.get_secret_value()}",
                "User-Agent": "antenna-hubspot/1",
            },
        )

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await request(self._client, method, path, **kwargs)

    async def start(self) -> None:
        try:
            pipelines = (await self._call("GET", "/crm/v3/pipelines/deals")).json()["results"]
        except DeliveryError as exc:
            if "HTTP 401" in str(exc) or "HTTP 403" in str(exc):
                raise refused("HubSpot", self.env + "TOKEN") from None
            raise
        stages = {p["id"]: [s["id"] for s in p.get("stages", [])] for p in pipelines}
        if self.hubspot.pipeline not in stages:
            raise StartupError(
                f"HubSpot has no deal pipeline with id {self.hubspot.pipeline!r} "
                f"(there are: {', '.join(stages)}); set {self.env}PIPELINE"
            )
        if self.hubspot.stage not in stages[self.hubspot.pipeline]:
            raise StartupError(
                f"pipeline {self.hubspot.pipeline!r} has no stage id {self.hubspot.stage!r}; "
                f"set {self.env}STAGE"
            )
        prop = self.hubspot.case_property
        found = await self._call("GET", f"/crm/v3/properties/deals/{prop}", accept={404})
        if found.status_code == 404 or not found.json().get("hasUniqueValue"):
            raise StartupError(
                f"HubSpot deals need a single-line text property {prop!r} with "
                "'Require unique values' on, for the case key"
            )
        await self._portal()

    async def _portal(self) -> None:
        """The account's id, for links to its deals."""
        if self.portal_id is None:
            details = await self._call("GET", "/account-info/v3/details")
            self.portal_id = details.json().get("portalId")

    def _deal(self, deal_id: str) -> Record:
        base = str(self.hubspot.app_url).rstrip("/")
        url = f"{base}/contacts/{self.portal_id}/record/0-3/{deal_id}" if self.portal_id else None
        return Record(deal_id, url)

    async def find_lead(self, case_id: str, entry: Entry) -> Record | None:
        await self._portal()
        # An exact read by the unique property: read-after-write, unlike search.
        response = await self._call(
            "GET",
            f"/crm/v3/objects/deals/{record_key(case_id)}",
            params={"idProperty": self.hubspot.case_property},
            accept={404},
        )
        return None if response.status_code == 404 else self._deal(str(response.json()["id"]))

    async def _upsert(
        self, kind: str, id_property: str, key: str, properties: dict[str, str]
    ) -> str:
        body = {"inputs": [{"idProperty": id_property, "id": key, "properties": properties}]}
        try:
            response = await self._call("POST", f"/crm/v3/objects/{kind}/batch/upsert", json=body)
        except DeliveryError as exc:
            if "HTTP 409" in str(exc):  # two upserts of one new key raced: the next is an update
                raise DeliveryError(str(exc), retryable=True) from exc
            raise
        return str(response.json()["results"][0]["id"])

    async def create_lead(self, lead: Lead) -> Record:
        properties = {
            "dealname": lead.title,
            "pipeline": self.hubspot.pipeline,
            "dealstage": self.hubspot.stage,
            "description": lead.body[:BODY_CHARS],
        }
        deal_id = await self._upsert("deals", self.hubspot.case_property, lead.key, properties)
        contact = lead.contact
        if contact is not None and contact.email:
            first, _, last = (contact.name or "").partition(" ")
            contact_properties = {"firstname": first, "lastname": last}
            if contact.phone:
                contact_properties["phone"] = contact.phone
            contact_id = await self._upsert("contacts", "email", contact.email, contact_properties)
            await self._call(
                "PUT", f"/crm/v4/objects/deals/{deal_id}/associations/default/contacts/{contact_id}"
            )
        await self._portal()
        return self._deal(deal_id)

    async def _marked(self, deal: Record, kind: str, prop: str, marker: str) -> Record | None:
        """The deal's associated note or task whose ``prop`` holds ``marker``."""
        linked = await self._call(
            "GET", f"/crm/v4/objects/deals/{int(deal.id)}/associations/{kind}"
        )
        ids = [{"id": str(item["toObjectId"])} for item in linked.json().get("results", [])]
        if not ids:
            return None
        read = await self._call(
            "POST", f"/crm/v3/objects/{kind}/batch/read", json={"properties": [prop], "inputs": ids}
        )
        for item in read.json().get("results", []):
            if marker in (item.get("properties", {}).get(prop) or ""):
                return Record(str(item["id"]))
        return None

    async def _engagement(
        self, kind: str, deal: Record, type_id: int, properties: dict[str, str]
    ) -> Record:
        body = {
            "properties": properties,
            "associations": [
                {
                    "to": {"id": deal.id},
                    "types": [
                        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
                    ],
                }
            ],
        }
        response = await self._call("POST", f"/crm/v3/objects/{kind}", json=body)
        return Record(str(response.json()["id"]))

    async def find_note(self, lead: Record, note: Note) -> Record | None:
        return await self._marked(lead, "notes", "hs_note_body", note_marker(note.signal_id))

    async def add_note(self, lead: Record, note: Note) -> Record:
        body = f"{note.subject}\n\n{note.body}"[:BODY_CHARS]
        properties = {"hs_timestamp": _iso(note.received_at), "hs_note_body": body}
        return await self._engagement("notes", lead, NOTE_TO_DEAL, properties)

    async def find_callback(self, lead: Record, case: Lead) -> Record | None:
        assert case.callback is not None
        marker = callback_marker(case.case_id)
        return await self._marked(lead, "tasks", "hs_task_subject", marker)

    async def add_callback(self, lead: Record, case: Lead) -> Record:
        assert case.callback is not None
        properties = {
            "hs_timestamp": _iso(case.callback.due or case.received_at),
            "hs_task_subject": callback_subject(case.callback, case.case_id),
            "hs_task_body": case.body[:BODY_CHARS],
            "hs_task_status": "NOT_STARTED",
            "hs_task_type": "CALL",
        }
        return await self._engagement("tasks", lead, TASK_TO_DEAL, properties)

    async def resolve_change(self, change: RecordChange) -> Outcome | None:
        if change.field != outcomes.DEAL_STAGE or not change.record_id.isdigit():
            return None
        prop = self.hubspot.case_property
        response = await self._call(
            "GET",
            f"/crm/v3/objects/deals/{int(change.record_id)}",
            params={"properties": f"{prop},pipeline"},
            accept={404},
        )
        if response.status_code == 404:  # deleted since, or never ours
            return None
        properties = response.json().get("properties") or {}
        case_id = outcomes.case_of(properties.get(prop))
        if case_id is None:
            return None
        pipeline = str(properties.get("pipeline") or self.hubspot.pipeline)
        stages = await self._pipeline_stages(pipeline, change.value)
        status = outcomes.deal_status(change.value, stages, self.hubspot.stage)
        if status is None:
            return None
        await self._portal()
        deal = self._deal(change.record_id)
        try:
            return Outcome(
                case_id=case_id,
                status=status,
                changed_at=change.changed_at,
                record_id=deal.id,
                record_url=deal.url,
                destination=self.context.destination,
                connector=self.name,
                event_id=change.event_id,
                observed_at=change.observed_at,
            )
        except ValidationError:  # a case key that is not Antenna's (not a ULID)
            return None

    async def _pipeline_stages(self, pipeline: str, stage: str) -> dict[str, outcomes.Stage]:
        """The pipeline's stages, read again when the pipeline or stage is new to us (an
        administrator added it since)."""
        if stage not in self._stages.get(pipeline, {}):
            answer = await self._call("GET", "/crm/v3/pipelines/deals")
            self._stages = outcomes.stages_of(answer.json().get("results") or [])
        return self._stages.get(pipeline, {})

    async def close(self) -> None:
        await self._client.aclose()
