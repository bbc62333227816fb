"""Salesforce as the CRM (a Lead) or as the service desk (a Case).

Every write is an upsert by an External ID field (``Antenna_Key__c`` by default; mark
it Unique): ``PATCH /sobjects/Lead/Antenna_Key__c/antenna-<case id>`` creates the
record once and finds it on every later attempt, so a lost answer or a redelivery never
makes a second one. A colleague's later report becomes a Task with its own external id
(``antenna-<signal_id>``) on the Lead (WhoId) or Case (WhatId); the callback window a
Task (type Call) due then, with a reminder.

A Lead carries LeadSource "Employee referral" and, only with the customer's consent,
the name, e-mail and phone; without consent its name says so and its description says
whom to ask. A Case carries the ticket words every service desk gets (the customer's
details with their consent answer), and SuppliedName/Email/Phone only with consent.

Auth: OAuth 2.0 client credentials (an External Client App with the client
credentials flow and a run-as user). The token is fetched at start-up and again after
a 401. 403 REQUEST_LIMIT_EXCEEDED (the org's daily API allocation) is retried later;
DUPLICATE_VALUE (two upserts of one new key raced) is retried and becomes an update."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
from pydantic import AnyHttpUrl, Field, SecretStr, field_validator

from schemas import Urgency
from services.common.settings import check_secret
from services.connectors.base import ConnectorConfig, ConnectorContext, DeliveryError, StartupError
from services.connectors.crm import (
    DEFAULT_TIMEZONE,
    LEAD_SOURCE,
    CrmConnector,
    Lead,
    Note,
    callback_key,
    callback_subject,
    record_key,
    refused,
)
from services.connectors.http import request
from services.connectors.records import Entry, Record
from services.connectors.tickets import note_body, ticket_body, ticket_subject

TEXT_CHARS = 32_000  # Description (Long Text Area) holds 32,000
SUBJECT_CHARS = 255
CASE_PRIORITY = {Urgency.low: "Low", Urgency.normal: "Medium", Urgency.high: "High"}


class SalesforceConfig(ConnectorConfig):
    url: AnyHttpUrl  # the org's My Domain, e.g. https://acme.my.salesforce.com
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    api_version: str = Field(default="v62.0", pattern=r"^v\d+\.\d$")
    sobject: Literal["Lead", "Case"] | None = None  # default: Lead for crm, Case otherwise
    external_id_field: str = Field(default="Antenna_Key__c", pattern=r"^\w+__c$")
    task_external_id_field: str = Field(default="Antenna_Key__c", pattern=r"^\w+__c$")
    company: str = Field(default="(not given)", min_length=1)  # Lead.Company is required
    case_origin: str = "Antenna"
    timezone: str = DEFAULT_TIMEZONE
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("client_secret")
    @classmethod
    def _real_secret(cls, value: SecretStr) -> SecretStr:
        return check_secret(value, "Salesforce client secret")


def _limit_exceeded(response: httpx.Response) -> bool:
    """The org's API allocation is used up (403, no Retry-After), or two upserts of one
    new key raced: both pass with time."""
    return response.status_code in (400, 403) and any(
        code in response.text for code in ("REQUEST_LIMIT_EXCEEDED", "DUPLICATE_VALUE")
    )


class SalesforceConnector(CrmConnector):
    name = "salesforce"
    config_model = SalesforceConfig
    callback_tasks = True
    upserts = True

    def __init__(self, config: SalesforceConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self.sf = config
        self.timezone = config.timezone
        self.sobject = config.sobject or ("Lead" if context.destination == "crm" else "Case")
        self.env = f"ANTENNA_{context.destination.upper()}__"
        self.base = str(config.url).rstrip("/")
        self.instance = self.base
        self._token: str | None = None
        self._client = httpx.AsyncClient(
            timeout=config.timeout_s, headers={"User-Agent": "antenna-salesforce/1"}
        )

    async def _login(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.sf.client_id,
            "client_secret": self.sf.client_secret.get_secret_value(),
        }
        response = await request(
            self._client, "POST", f"{self.base}/services/oauth2/token", data=form, accept={400, 401}
        )
        if response.status_code in (400, 401):
            raise refused("Salesforce", f"{self.env}CLIENT_ID and {self.env}CLIENT_SECRET")
        data = response.json()
        self._token = data["access_token"]
        self.instance = str(data.get("instance_url") or self.base).rstrip("/")

    async def _call(
        self, method: str, path: str, accept: tuple[int, ...] = (), **kwargs: Any
    ) -> httpx.Response:
        """A REST call with the session, logging in again once after a 401."""
        for renewed in (False, True):
            if self._token is None:
                try:
                    await self._login()
                except StartupError as exc:  # revoked while running: an operator must act
                    raise DeliveryError(str(exc), retryable=False) from exc
            response = await request(
                self._client,
                method,
                f"{self.instance}/services/data/{self.sf.api_version}/{path}",
                headers={"Authorization": f"Bearer {self._token}"},
                accept={401, *accept},
                transient=_limit_exceeded,
                **kwargs,
            )
            if response.status_code != 401:
                return response
            self._token = None
            if renewed:
                break
        raise DeliveryError(
            "Salesforce: session refused after a new login (HTTP 401)", retryable=False
        )

    async def start(self) -> None:
        await self._login()
        for sobject, field in (
            (self.sobject, self.sf.external_id_field),
            ("Task", self.sf.task_external_id_field),
        ):
            described = (await self._call("GET", f"sobjects/{sobject}/describe")).json()
            found = next((f for f in described.get("fields", []) if f.get("name") == field), None)
            if found is None or not found.get("externalId") or not found.get("unique"):
                raise StartupError(
                    f"Salesforce {sobject} needs a text field {field} marked External ID and "
                    "Unique (it holds Antenna's key)"
                )

    def _path(self, sobject: str, field: str, key: str) -> str:
        return f"sobjects/{sobject}/{field}/{quote(key, safe='')}"

    async def _upsert(self, sobject: str, field: str, key: str, values: dict[str, Any]) -> str:
        response = await self._call("PATCH", self._path(sobject, field, key), json=values)
        if response.status_code == 204:  # an update before API 46.0 says no more
            found = await self._read(sobject, field, key)
            if found is None:
                raise DeliveryError("Salesforce: an updated record cannot be read", retryable=True)
            return str(found["Id"])
        return str(response.json()["id"])

    async def _read(self, sobject: str, field: str, key: str) -> dict[str, Any] | None:
        response = await self._call("GET", self._path(sobject, field, key), accept=(404,))
        if response.status_code == 404:
            return None
        found: dict[str, Any] = response.json()
        return found

    def _record(self, found: dict[str, Any]) -> Record:
        record_id = str(found["Id"])
        url = f"{self.instance}/lightning/r/{self.sobject}/{record_id}/view"
        return Record(record_id, url, label=found.get("CaseNumber"))

    async def find_lead(self, case_id: str, entry: Entry) -> Record | None:
        found = await self._read(self.sobject, self.sf.external_id_field, record_key(case_id))
        return self._record(found) if found else None

    async def create_lead(self, lead: Lead) -> Record:
        values = self._case(lead) if self.sobject == "Case" else self._lead(lead)
        await self._upsert(self.sobject, self.sf.external_id_field, lead.key, values)
        found = await self._read(self.sobject, self.sf.external_id_field, lead.key)
        if found is None:
            raise DeliveryError("Salesforce: the upserted record cannot be read", retryable=True)
        return self._record(found)

    def _lead(self, lead: Lead) -> dict[str, Any]:
        values: dict[str, Any] = {
            "Company": self.sf.company,
            "LeadSource": LEAD_SOURCE,
            "Description": lead.body[:TEXT_CHARS],
            "Title": lead.title[:128],
        }
        contact = lead.contact
        if contact is None:
            values["LastName"] = "(no consent to contact)" if not lead.consent else "(not given)"
            return values
        first, _, last = (contact.name or "").rpartition(" ")
        values["LastName"] = last or "(not given)"
        if first:
            values["FirstName"] = first
        if contact.email:
            values["Email"] = contact.email
        if contact.phone:
            values["Phone"] = contact.phone
        return values

    def _case(self, lead: Lead) -> dict[str, Any]:
        routed = lead.routed
        values: dict[str, Any] = {
            "Subject": ticket_subject(routed)[:SUBJECT_CHARS],
            "Description": ticket_body(routed)[:TEXT_CHARS],
            "Origin": self.sf.case_origin,
            "Priority": CASE_PRIORITY[routed.classification.urgency],
        }
        contact = lead.contact  # only with consent
        if contact is not None:
            for field, value in (
                ("SuppliedName", contact.name),
                ("SuppliedEmail", contact.email),
                ("SuppliedPhone", contact.phone),
            ):
                if value:
                    values[field] = value
        return values

    def _regarding(self, record: Record) -> dict[str, str]:
        # A Task points at a Lead through WhoId, at a Case through WhatId.
        return {"WhoId" if self.sobject == "Lead" else "WhatId": record.id}

    async def _task(self, key: str, values: dict[str, Any]) -> Record:
        task_id = await self._upsert("Task", self.sf.task_external_id_field, key, values)
        return Record(task_id)

    async def find_note(self, lead: Record, note: Note) -> Record | None:
        found = await self._read("Task", self.sf.task_external_id_field, note.key)
        return Record(str(found["Id"])) if found else None

    async def add_note(self, lead: Record, note: Note) -> Record:
        text = note_body(note.routed) if self.sobject == "Case" else note.body
        local = note.received_at.astimezone(ZoneInfo(self.timezone))
        return await self._task(
            note.key,
            {
                "Subject": note.subject[:SUBJECT_CHARS],
                "Description": text[:TEXT_CHARS],
                "Status": "Completed",
                "ActivityDate": local.date().isoformat(),
                **self._regarding(lead),
            },
        )

    async def find_callback(self, lead: Record, case: Lead) -> Record | None:
        found = await self._read("Task", self.sf.task_external_id_field, callback_key(case.case_id))
        return Record(str(found["Id"])) if found else None

    async def add_callback(self, lead: Record, case: Lead) -> Record:
        assert case.callback is not None
        values: dict[str, Any] = {
            "Subject": callback_subject(case.callback, case.case_id)[:SUBJECT_CHARS],
            "Description": case.body[:TEXT_CHARS],
            "Status": "Not Started",
            "TaskSubtype": "Call",
            **self._regarding(lead),
        }
        due = case.callback.due
        if due is not None:
            values["ActivityDate"] = due.astimezone(ZoneInfo(self.timezone)).date().isoformat()
            values["IsReminderSet"] = True
            values["ReminderDateTime"] = due.isoformat().replace("+00:00", "Z")
        return await self._task(callback_key(case.case_id), values)

    async def close(self) -> None:
        await self._client.aclose()
