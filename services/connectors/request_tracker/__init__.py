"""Request Tracker (RT 5, REST2) as the service desk.

A new case opens a ticket in the queue its routing rule names (``queues`` maps rule
targets to RT queues; anything else goes to ``queue``), with the case id in a ticket
custom field (``ExternalID`` by default) so that a redelivery finds the ticket instead of
opening a second one. A duplicate becomes a comment, an internal note the customer never
sees, whose subject carries ``[antenna <signal_id>]`` so that it is added once.

RT mails a ticket's requestors. The customer becomes the requestor only when
``requestor_from_customer`` is set and the customer agreed to be contacted.

Configure with ``ANTENNA_SERVICEDESK__CONNECTOR=request_tracker``, ``..__URL`` (RT's base
URL), ``..__TOKEN`` (an RT auth token) and optionally ``..__QUEUE``. The tickets' status
is polled (outcomes.py; ``..__POLL_INTERVAL_S``, ``..__POLL_BATCH``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import AnyHttpUrl, Field, SecretStr, field_validator

from schemas import RoutedSignal, Urgency
from services.common.settings import check_secret
from services.connectors.base import (
    ConnectorContext,
    Ticket,
    TicketConnector,
    UnintelligibleAnswer,
)
from services.connectors.http import json_object, request
from services.connectors.outcomes import PolledConfig, RecordStatus, StatusSource
from services.connectors.records import Record
from services.connectors.request_tracker import outcomes
from services.connectors.targets import for_target, targets_ignore_case
from services.connectors.tickets import (
    note_body,
    note_marker,
    note_subject,
    ticket_body,
    ticket_subject,
)

PAGE_SIZE = 100


class RequestTrackerConfig(PolledConfig):
    url: AnyHttpUrl  # RT's web base URL, e.g. https://rt.example.com
    token: SecretStr
    queue: str = Field(default="General", min_length=1)
    queues: dict[str, str] = Field(default_factory=dict)  # routing target -> RT queue
    external_id_field: str = Field(default="ExternalID", pattern=r"^[A-Za-z0-9 _-]+$")
    priority: dict[Urgency, int] = Field(
        default_factory=lambda: {Urgency.low: 20, Urgency.normal: 50, Urgency.high: 80}
    )
    requestor_from_customer: bool = False
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("queues")
    @classmethod
    def _targets_ignore_case(cls, value: dict[str, str]) -> dict[str, str]:
        return targets_ignore_case(value)

    @field_validator("token")
    @classmethod
    def _real_token(cls, value: SecretStr) -> SecretStr:
        return check_secret(value, "Request Tracker token")


def _ticket_id(item: object) -> str:
    ident = item.get("id") if isinstance(item, dict) else None
    if not isinstance(ident, int | str) or not str(ident).isdigit():
        raise UnintelligibleAnswer(f"Request Tracker answered without a ticket id: {item!r:.80}")
    return str(ident)


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class RequestTrackerConnector(TicketConnector, StatusSource):
    name = "request_tracker"
    config_model = RequestTrackerConfig

    def __init__(self, config: RequestTrackerConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self.rt = config
        self.base = str(config.url).rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=f"{self.base}/REST/2.0/",
            timeout=config.timeout_s,
            headers={
                "Authorization": f"token {config.token.get_secret_value()}",
                "User-Agent": "antenna-request-tracker/1",
            },
        )

    def _ticket(self, ticket_id: str) -> Ticket:
        return Ticket(ticket_id, f"{self.base}/Ticket/Display.html?id={ticket_id}")

    async def find_ticket(self, case_id: str) -> Ticket | None:
        field = self.rt.external_id_field
        query = f"'CF.{{{field}}}' = {_quoted(case_id)}"
        response = await request(
            self._client, "GET", "tickets", params={"query": query, "orderby": "id"}
        )
        items = json_object(response).get("items") or []
        return self._ticket(_ticket_id(items[0])) if items else None

    async def open_ticket(self, routed: RoutedSignal) -> Ticket:
        ticket: dict[str, Any] = {
            "Queue": for_target(self.rt.queues, routed.destination.target, self.rt.queue),
            "Subject": ticket_subject(routed),
            "Content": ticket_body(routed),
            "ContentType": "text/plain",
            "CustomFields": {self.rt.external_id_field: routed.signal.signal_id},
        }
        priority = self.rt.priority.get(routed.classification.urgency)
        if priority is not None:  # an urgency left out of the mapping: the queue's default
            ticket["Priority"] = priority
        customer = routed.signal.customer
        if (
            self.rt.requestor_from_customer
            and customer is not None
            and customer.consent_to_contact
            and customer.email
        ):
            ticket["Requestor"] = str(customer.email)
        response = await request(self._client, "POST", "ticket", json=ticket)
        return self._ticket(_ticket_id(json_object(response)))

    async def has_note(self, ticket: Ticket, signal_id: str) -> bool:
        marker = note_marker(signal_id)
        query = f"ObjectType = 'RT::Ticket' AND ObjectId = {int(ticket.id)} AND Type = 'Comment'"
        page = 1
        while True:
            response = await request(
                self._client,
                "GET",
                "transactions",
                params={"query": query, "fields": "Data", "per_page": PAGE_SIZE, "page": page},
            )
            data = json_object(response)
            items = data.get("items") or []
            if any(isinstance(i, dict) and marker in (i.get("Data") or "") for i in items):
                return True
            if page >= int(data.get("pages") or 1):  # RT 5.0.3 sends pages as a float
                return False
            page += 1

    async def add_note(self, ticket: Ticket, routed: RoutedSignal) -> None:
        comment = {
            "Subject": note_subject(routed),
            "Content": note_body(routed),
            "ContentType": "text/plain",
        }
        await request(self._client, "POST", f"ticket/{int(ticket.id)}/comment", json=comment)

    @property
    def polling(self) -> PolledConfig:
        return self.rt

    async def read_statuses(self, records: Sequence[Record]) -> dict[str, RecordStatus]:
        return await outcomes.read_statuses(self._client, [record.id for record in records])

    async def close(self) -> None:
        await self._client.aclose()
