"""Zendesk Support as the service desk.

A new case opens a ticket whose ``external_id`` is the case id, with the report as a
private first comment (the customer never sees Antenna's internal wording), tags, a
priority from the urgency, and a group from the routing target. A duplicate becomes a
private comment whose first line carries ``[antenna <signal_id>]``, so it is added once.

Exactly once: the create carries ``Idempotency-Key: antenna-<case id>`` and a body built
only from the event (no send-time values), so a retry within Zendesk's two hours gets
the first answer back instead of a second ticket; after that, the ticket is found by
``GET /api/v2/tickets?external_id=<case id>`` before anything is created.

The customer becomes the requester only when they agreed to be contacted (and
``requester_from_customer`` is left on): Zendesk mails requesters.

Configure with ``ANTENNA_SERVICEDESK__CONNECTOR=zendesk``, ``..__SUBDOMAIN`` (or
``..__URL``), ``..__EMAIL`` and ``..__TOKEN`` (an API token)."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import httpx
from pydantic import AnyHttpUrl, EmailStr, Field, SecretStr, field_validator, model_validator

from schemas import RoutedSignal, Urgency
from services.common.settings import check_secret
from services.connectors.base import (
    ConnectorConfig,
    ConnectorContext,
    NotYet,
    Ticket,
    TicketConnector,
)
from services.connectors.http import check, check_at_start, request, send
from services.connectors.targets import for_target, targets_ignore_case
from services.connectors.tickets import (
    note_body,
    note_marker,
    note_subject,
    ticket_body,
    ticket_subject,
)

ZendeskPriority = Literal["urgent", "high", "normal", "low"]
PRIORITY: dict[Urgency, ZendeskPriority] = {
    Urgency.low: "low",
    Urgency.normal: "normal",
    Urgency.high: "high",
}
PAGE_SIZE = 100
TAG = re.compile(r"[a-z0-9_\-/:.]+")  # Zendesk tags: no spaces; we keep them lower-case


class ZendeskConfig(ConnectorConfig):
    subdomain: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$")
    url: AnyHttpUrl | None = None  # instead of the subdomain, e.g. a host-mapped brand
    email: EmailStr  # the agent whose API token this is
    token: SecretStr
    group_id: int | None = None  # where tickets go by default: Zendesk's default group
    groups: dict[str, int] = Field(default_factory=dict)  # routing target -> group id
    priority: dict[Urgency, ZendeskPriority] = Field(default_factory=lambda: dict(PRIORITY))
    tags: list[str] = Field(default_factory=lambda: ["antenna"])
    requester_from_customer: bool = True
    timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _one_address(self) -> ZendeskConfig:
        if (self.subdomain is None) == (self.url is None):
            raise ValueError("set either the Zendesk subdomain or its url, not both")
        return self

    @property
    def base_url(self) -> str:
        if self.url is not None:
            return str(self.url).rstrip("/")
        return f"https://{self.subdomain}.zendesk.com"

    @field_validator("groups")
    @classmethod
    def _targets_ignore_case(cls, value: dict[str, int]) -> dict[str, int]:
        return targets_ignore_case(value)

    @field_validator("tags", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):  # ANTENNA_SERVICEDESK__TAGS=antenna,complaints
            return [tag.strip() for tag in value.split(",") if tag.strip()]
        return value

    @field_validator("tags")
    @classmethod
    def _valid_tags(cls, value: list[str]) -> list[str]:
        bad = [tag for tag in value if TAG.fullmatch(tag) is None]
        if bad:
            raise ValueError(f"Zendesk tags are lower-case words without spaces: {bad}")
        return value

    @field_validator("token")
    @classmethod
    def _real_token(cls, value: SecretStr) -> SecretStr:
        return check_secret(value, "Zendesk API token")


def ticket_request(routed: RoutedSignal, config: ZendeskConfig) -> dict[str, Any]:
    """The create body. Built only from the event and the settings, never from the clock:
    Zendesk refuses a retried key whose body differs."""
    classification = routed.classification
    ticket: dict[str, Any] = {
        "subject": ticket_subject(routed),
        "comment": {"body": ticket_body(routed), "public": False},
        "external_id": routed.signal.signal_id,
        "tags": sorted(
            {*config.tags, f"antenna_{classification.kind.value}", classification.category.value}
        ),
    }
    priority = config.priority.get(classification.urgency)
    if priority is not None:  # an urgency left out of the mapping: Zendesk's default
        ticket["priority"] = priority
    group = for_target(config.groups, routed.destination.target, config.group_id)
    if group is not None:
        ticket["group_id"] = group
    customer = routed.signal.customer
    if (
        config.requester_from_customer
        and customer is not None
        and customer.consent_to_contact
        and customer.email
    ):
        email = str(customer.email)
        ticket["requester"] = {"name": customer.name or email, "email": email}
    return {"ticket": ticket}


def note_request(routed: RoutedSignal) -> dict[str, Any]:
    body = note_subject(routed) + "\n\n" + note_body(routed)
    return {"ticket": {"comment": {"body": body, "public": False}}}


def _is_idempotency_conflict(response: httpx.Response) -> bool:
    if response.status_code != 400:
        return False
    try:
        return bool(response.json().get("error") == "IdempotentRequestError")
    except ValueError:
        return False


class ZendeskConnector(TicketConnector):
    name = "zendesk"
    config_model = ZendeskConfig

    def __init__(self, config: ZendeskConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self.zendesk = config
        self.base = config.base_url
        self._client = httpx.AsyncClient(
            base_url=f"{self.base}/api/v2/",
            timeout=config.timeout_s,
            auth=(f"{config.email}/token", config.token.get_secret_value()),
            headers={
                "Accept": "application/json",
                "User-Agent": "antenna-zendesk/1",
            },
        )

    def _ticket(self, ticket_id: int | str) -> Ticket:
        return Ticket(str(ticket_id), f"{self.base}/agent/tickets/{ticket_id}")

    async def start(self) -> None:
        await check_at_start(
            self._client,
            "users/me.json",
            f"Zendesk at {self.base} did not accept ANTENNA_SERVICEDESK__EMAIL and __TOKEN "
            "(an API token of an agent)",
        )

    async def find_ticket(self, case_id: str) -> Ticket | None:
        response = await request(
            self._client, "GET", "tickets.json", params={"external_id": case_id}
        )
        ids = sorted(int(t["id"]) for t in response.json().get("tickets") or [])
        return self._ticket(ids[0]) if ids else None

    async def open_ticket(self, routed: RoutedSignal) -> Ticket:
        case_id = routed.signal.signal_id
        body = json.dumps(ticket_request(routed, self.zendesk), sort_keys=True).encode()
        response = await send(
            self._client,
            "POST",
            "tickets.json",
            content=body,
            headers={"Content-Type": "application/json", "Idempotency-Key": f"antenna-{case_id}"},
        )
        if _is_idempotency_conflict(response) or response.status_code == 409:
            # An earlier attempt with this key (another body: the settings changed, or it
            # is still in flight) created the ticket or is creating it: find that one.
            ticket = await self.find_ticket(case_id)
            if ticket is None:
                raise NotYet("an earlier attempt is creating this case's ticket")
            return ticket
        return self._ticket(check(response).json()["ticket"]["id"])

    async def has_note(self, ticket: Ticket, signal_id: str) -> bool:
        marker = note_marker(signal_id)
        page = 1
        while True:
            response = await request(
                self._client,
                "GET",
                f"tickets/{int(ticket.id)}/comments.json",
                params={"page": page, "per_page": PAGE_SIZE},
            )
            data = response.json()
            if any(marker in (c.get("body") or "") for c in data.get("comments") or []):
                return True
            if not data.get("next_page"):
                return False
            page += 1

    async def add_note(self, ticket: Ticket, routed: RoutedSignal) -> None:
        response = await send(
            self._client, "PUT", f"tickets/{int(ticket.id)}.json", json=note_request(routed)
        )
        if response.status_code == 409:  # another update of this ticket at the same moment
            raise NotYet("the ticket was being updated; try again")
        check(response)

    async def close(self) -> None:
        await self._client.aclose()
