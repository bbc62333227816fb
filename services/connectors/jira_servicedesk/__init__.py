"""Jira Service Management (Cloud) as the service desk.

A new case raises a customer request of the configured request type (``request_types``
maps routing targets to other request types), with the label ``antenna-<case id>`` so
that it can be found again, the report as its description, and a priority from the
urgency where the settings map one. A duplicate becomes an internal comment whose first
line carries ``[antenna <signal_id>]``, so it is added once.

Jira has no idempotency key, and its search does not see a new request at once. The
case -> record mapping holds the key of every request whose answer arrived; a create
whose answer was lost leaves a pending marker there instead, and cannot be told from one
that never happened until the search catches up. So while the search does not find the
request, the connector waits (a retryable failure) until ``settle_s`` seconds after that
create started, and only then creates again.

Configure with ``ANTENNA_SERVICEDESK__CONNECTOR=jira_servicedesk``, ``..__URL``,
``..__EMAIL`` and ``..__TOKEN`` (an Atlassian API token), ``..__SERVICE_DESK_ID`` and
``..__REQUEST_TYPE_ID``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from pydantic import AnyHttpUrl, EmailStr, Field, SecretStr, field_validator

from schemas import RoutedSignal, Urgency
from services.common.settings import check_secret
from services.connectors.base import (
    ConnectorConfig,
    ConnectorContext,
    NotYet,
    Ticket,
    TicketConnector,
)
from services.connectors.http import check_at_start, request
from services.connectors.records import Entry, Slot
from services.connectors.targets import for_target, targets_ignore_case
from services.connectors.tickets import (
    note_body,
    note_marker,
    note_subject,
    ticket_body,
    ticket_subject,
)

LABEL_PREFIX = "antenna-"
PAGE_SIZE = 50
# Ask the search again this often while it may still be catching up with a lost create.
SETTLE_POLL_S = 5.0
JIRA_ID = r"^[0-9]+$"


class JiraServiceManagementConfig(ConnectorConfig):
    url: AnyHttpUrl  # the site, e.g. https://example.atlassian.net
    email: EmailStr  # the account whose API token this is (an agent of the service desk)
    token: SecretStr
    service_desk_id: str = Field(pattern=JIRA_ID)
    request_type_id: str = Field(pattern=JIRA_ID)
    request_types: dict[str, str] = Field(default_factory=dict)  # routing target -> type id
    # Jira priority names per urgency; empty: not sent (the request type must show Priority).
    priority: dict[Urgency, str] = Field(default_factory=dict)
    # How long a create whose answer was lost may stay invisible to the search.
    settle_s: float = Field(default=120.0, ge=0)
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("request_types")
    @classmethod
    def _targets_ignore_case(cls, value: dict[str, str]) -> dict[str, str]:
        return targets_ignore_case(value)

    @field_validator("token")
    @classmethod
    def _real_token(cls, value: SecretStr) -> SecretStr:
        return check_secret(value, "Atlassian API token")


def case_label(case_id: str) -> str:
    return LABEL_PREFIX + case_id


def verbatim(text: str) -> str:
    """Plain text in Jira's wiki markup: a customer's ``*`` or ``[`` stays as typed."""
    return "{noformat}\n" + text.replace("{noformat}", "{ noformat}") + "\n{noformat}"


def request_body(routed: RoutedSignal, config: JiraServiceManagementConfig) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "summary": ticket_subject(routed),
        "description": verbatim(ticket_body(routed)),
        "labels": [case_label(routed.signal.signal_id)],
    }
    priority = config.priority.get(routed.classification.urgency)
    if priority is not None:
        fields["priority"] = {"name": priority}
    return {
        "serviceDeskId": config.service_desk_id,
        "requestTypeId": for_target(
            config.request_types, routed.destination.target, config.request_type_id
        ),
        "requestFieldValues": fields,
    }


def search_may_lag(entry: Entry, now: datetime, settle_s: float) -> float | None:
    """Seconds the search may still need to show the request of an earlier attempt whose
    answer was lost (the mapping holds its pending marker, not its key); None when no
    such attempt is pending or ``settle_s`` has passed since it started."""
    if not entry.may_exist or entry.attempt is None:
        return None
    left = settle_s - (now - entry.attempt.started_at).total_seconds()
    return left if left > 0 else None


def comment_body(routed: RoutedSignal) -> dict[str, Any]:
    text = note_subject(routed) + "\n\n" + note_body(routed)
    return {"body": verbatim(text), "public": False}


class JiraServiceManagementConnector(TicketConnector):
    name = "jira_servicedesk"
    config_model = JiraServiceManagementConfig

    def __init__(self, config: JiraServiceManagementConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self.jira = config
        self.base = str(config.url).rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=f"{self.base}/rest/",
            timeout=config.timeout_s,
            auth=(str(config.email), config.token.get_secret_value()),
            headers={
                "Accept": "application/json",
                "User-Agent": "antenna-jira-servicedesk/1",
            },
        )

    def _ticket(self, key: str) -> Ticket:
        return Ticket(key, f"{self.base}/browse/{key}")

    async def start(self) -> None:
        await check_at_start(
            self._client,
            "api/3/myself",
            f"Jira at {self.base} did not accept ANTENNA_SERVICEDESK__EMAIL and __TOKEN "
            "(an Atlassian API token)",
        )
        desk = self.jira.service_desk_id
        for request_type in sorted({self.jira.request_type_id, *self.jira.request_types.values()}):
            await check_at_start(
                self._client,
                f"servicedeskapi/servicedesk/{desk}/requesttype/{request_type}",
                f"Jira Service Management has no request type {request_type} in service desk "
                f"{desk} that this account can use: check ANTENNA_SERVICEDESK__SERVICE_DESK_ID "
                "and the request type ids",
            )

    async def find_ticket(self, case_id: str) -> Ticket | None:
        jql = f'labels = "{case_label(case_id)}"'
        query = {"jql": jql, "fields": ["summary"], "maxResults": 10}
        response = await request(self._client, "POST", "api/3/search/jql", json=query)
        issues = sorted(response.json().get("issues") or [], key=lambda i: int(i["id"]))
        if issues:
            return self._ticket(issues[0]["key"])
        records = self.context.records
        left = search_may_lag(await records.get(Slot(case_id)), records.clock(), self.jira.settle_s)
        if left is not None:
            raise NotYet(
                "a create whose answer was lost may not be searchable yet; "
                f"creating again in {left:.0f}s unless the search finds it",
                retry_after_s=min(left, SETTLE_POLL_S),
            )
        return None

    async def open_ticket(self, routed: RoutedSignal) -> Ticket:
        response = await request(
            self._client, "POST", "servicedeskapi/request", json=request_body(routed, self.jira)
        )
        return self._ticket(response.json()["issueKey"])

    async def has_note(self, ticket: Ticket, signal_id: str) -> bool:
        marker = note_marker(signal_id)
        start = 0
        while True:
            response = await request(
                self._client,
                "GET",
                f"servicedeskapi/request/{ticket.id}/comment",
                params={"public": "false", "internal": "true", "start": start, "limit": PAGE_SIZE},
            )
            page = response.json()
            values = page.get("values") or []
            if any(marker in (c.get("body") or "") for c in values):
                return True
            if page.get("isLastPage", True) or not values:
                return False
            start += len(values)

    async def add_note(self, ticket: Ticket, routed: RoutedSignal) -> None:
        await request(
            self._client,
            "POST",
            f"servicedeskapi/request/{ticket.id}/comment",
            json=comment_body(routed),
        )

    async def close(self) -> None:
        await self._client.aclose()
