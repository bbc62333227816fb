"""A stateful fake of the Zendesk Support (Ticketing) API, for the zendesk connector.

Checked against (paths, bodies, status codes):
- Zendesk's OpenAPI document as split by api-evangelist/zendesk @aaa5480
  (openapi/_original/tickets-openapi-original.yml): ListTickets `GET /api/v2/tickets` with
  `external_id` ("External ids don't have to be unique for each ticket"), CreateTicket
  `POST /api/v2/tickets` -> 201 `{"ticket"}` + Location, UpdateTicket
  `PUT /api/v2/tickets/{ticket_id}` -> 200 `{"ticket", "audit"}`, ListTicketComments
  `GET /api/v2/tickets/{ticket_id}/comments` -> `{"comments"}` (offset pagination,
  `next_page`, at most 100 a page); openapi/zendesk-tickets-api-openapi.yml: the create
  fields (`comment{body, public}`, `requester{name, email}`, `priority` urgent|high|normal|
  low, `tags`, `group_id`, `external_id`) and 401/404/422/429 + Retry-After.
- developer.zendesk.com/api-reference/ticketing/introduction/#idempotency: the
  `Idempotency-Key` header on ticket creation, `x-idempotency-lookup: miss|hit`, the cached
  original answer on a replay, keys expire after two hours, and 400
  `IdempotentRequestError` "Request parameters don't match the given idempotency key"
  (the error name as in cloudbees-oss/zendesk-java-client IdempotencyUtil.java).
- API token auth: Basic `{email}/token:{api_token}` (support.zendesk.com 4408831452954);
  a wrong one answers 401 `{"error": "Couldn't authenticate you"}`.

Not modelled: the search API (`/api/v2/search`; the connector does not use it), closed
tickets refusing updates, the 5,000-comment cap, per-ticket update limits, 409 for a
concurrent in-flight request with the same key or a concurrent ticket update (handlers
run one at a time; a test injects 409 with ``fail``), the rate limit itself (a test
injects ``rate_limited()``), users'
identities beyond their e-mail, sideloads, cursor pagination, and async creation. The
external-id listing lags like a search index while ``search_lags`` is set: whether it
really does is not documented, so the fake takes the pessimistic side."""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.support.vendor_fake import Call, Reply, VendorFake

KEY_LIFETIME_S = 2 * 3600
PRIORITIES = {"urgent", "high", "normal", "low"}
PAGE = 100


@dataclass
class _Remembered:
    body_digest: str
    reply: Reply
    at: float


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rate_limited(retry_after_s: int) -> Reply:
    """Zendesk's answer over the account's rate limit: 429 and when to try again."""
    return Reply(429, headers={"Retry-After": str(retry_after_s)})


def _invalid(field: str, description: str) -> Reply:
    return Reply(
        422,
        {
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {field: [{"description": description, "error": "InvalidValue"}]},
        },
    )


class ZendeskFake(VendorFake):
    routes = (
        ("GET", r"/api/v2/users/me(?:\.json)?", "me"),
        ("GET", r"/api/v2/tickets(?:\.json)?", "list_tickets"),
        ("POST", r"/api/v2/tickets(?:\.json)?", "create_ticket"),
        ("GET", r"/api/v2/tickets/(\d+)(?:\.json)?", "show_ticket"),
        ("PUT", r"/api/v2/tickets/(\d+)(?:\.json)?", "update_ticket"),
        ("GET", r"/api/v2/tickets/(\d+)/comments(?:\.json)?", "list_comments"),
    )

    def __init__(self, email: str = "antenna@example.com", token: str = "z" * 40) -> None:
        self.email, self.token = email, token
        self.groups: set[int] = {360001, 360002}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.users: dict[str, int] = {email: 1}  # e-mail -> user id; 1 is the API user
        self._keys: dict[str, _Remembered] = {}
        self._ids = itertools.count(101)
        self._clock_offset_s = 0.0
        super().__init__()

    # --- test controls --------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Let time pass for the idempotency keys."""
        with self.lock:
            self._clock_offset_s += seconds

    def tickets_for(self, external_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [t for t in self.tickets.values() if t["external_id"] == external_id]

    def private_comments(self, ticket_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.comments[ticket_id] if not c["public"]]

    # --- auth and errors --------------------------------------------------------------------

    def authorized(self, call: Call) -> bool:
        return call.basic() == (f"{self.email}/token", self.token)

    def unauthorized(self) -> Reply:
        return Reply(401, {"error": "Couldn't authenticate you"})

    def not_found(self, call: Call) -> Reply:
        return Reply(404, {"error": "RecordNotFound", "description": "Not found"})

    # --- routes ---------------------------------------------------------------------------------

    def me(self, call: Call) -> Reply:
        user = {"id": 1, "name": "Antenna", "email": self.email, "role": "agent"}
        return Reply(200, {"user": user})

    def list_tickets(self, call: Call) -> Reply:
        wanted = call.param("external_id")
        found = [
            t
            for t in self.tickets.values()
            if (wanted is None or t["external_id"] == wanted) and self.searchable(str(t["id"]))
        ]
        return Reply(
            200, {"tickets": found, "next_page": None, "previous_page": None, "count": len(found)}
        )

    def create_ticket(self, call: Call) -> Reply:
        key = call.headers.get("idempotency-key")
        digest = hashlib.sha256(call.body).hexdigest()
        now = time.monotonic() + self._clock_offset_s
        remembered = self._keys.get(key) if key else None
        if remembered is not None and now - remembered.at < KEY_LIFETIME_S:
            if remembered.body_digest != digest:
                return Reply(
                    400,
                    {
                        "error": "IdempotentRequestError",
                        "description": "Request parameters don't match the given idempotency key",
                    },
                )
            r = remembered.reply
            return Reply(r.status, r.body, {**r.headers, "x-idempotency-lookup": "hit"})
        reply = self._create(call.json() or {})
        if key is not None and reply.status == 201:
            self._keys[key] = _Remembered(digest, reply, now)
            headers = {**reply.headers, "x-idempotency-lookup": "miss"}
            reply = Reply(reply.status, reply.body, headers)
        return reply

    def _create(self, body: dict[str, Any]) -> Reply:
        data = body.get("ticket")
        if not isinstance(data, dict):
            return Reply(400, {"error": "InvalidEndpoint", "description": "ticket is required"})
        comment = data.get("comment") or {}
        if not comment.get("body"):
            return _invalid("description", "Description: cannot be blank")
        if data.get("priority") not in PRIORITIES | {None}:
            return _invalid("priority", "Priority: is invalid")
        if data.get("group_id") is not None and data["group_id"] not in self.groups:
            return _invalid("group", "Group: is invalid")
        requester_id = 1
        requester = data.get("requester")
        if requester:
            requester_id = self.users.setdefault(requester["email"], len(self.users) + 1)
        ticket_id = next(self._ids)
        ticket = {
            "id": ticket_id,
            "url": f"{self.url}/api/v2/tickets/{ticket_id}.json",
            "external_id": data.get("external_id"),
            "subject": data.get("subject"),
            "raw_subject": data.get("subject"),
            "description": comment["body"],
            "priority": data.get("priority"),
            "status": "new",
            "requester_id": requester_id,
            "submitter_id": 1,
            "group_id": data.get("group_id"),
            "tags": sorted(set(data.get("tags") or [])),
            "created_at": _now(),
            "updated_at": _now(),
        }
        self.tickets[ticket_id] = ticket
        self.comments[ticket_id] = []
        self._comment(ticket_id, comment)
        self.written(str(ticket_id))
        return Reply(201, {"ticket": ticket}, {"Location": ticket["url"]})

    def _comment(self, ticket_id: int, comment: dict[str, Any]) -> dict[str, Any]:
        body = str(comment["body"])
        stored = {
            "id": next(self._ids),
            "type": "Comment",
            "author_id": 1,
            "body": body,
            "html_body": f"<p>{body}</p>",
            "plain_body": body,
            "public": bool(comment.get("public", True)),
            "attachments": [],
            "via": {"channel": "api"},
            "created_at": _now(),
            "metadata": {"system": {}, "custom": {}},
        }
        self.comments[ticket_id].append(stored)
        return stored

    def show_ticket(self, call: Call, ticket_id: str) -> Reply:
        ticket = self.tickets.get(int(ticket_id))
        return Reply(200, {"ticket": ticket}) if ticket else self.not_found(call)

    def update_ticket(self, call: Call, ticket_id: str) -> Reply:
        ticket = self.tickets.get(int(ticket_id))
        if ticket is None:
            return self.not_found(call)
        comment = ((call.json() or {}).get("ticket") or {}).get("comment")
        events = []
        if comment:
            if not comment.get("body"):
                return _invalid("comment", "Comment: cannot be blank")
            events.append(self._comment(ticket["id"], comment))
        ticket["updated_at"] = _now()
        audit = {"id": next(self._ids), "ticket_id": ticket["id"], "events": events}
        return Reply(200, {"ticket": ticket, "audit": audit})

    def list_comments(self, call: Call, ticket_id: str) -> Reply:
        comments = self.comments.get(int(ticket_id))
        if comments is None:
            return self.not_found(call)
        page = int(call.param("page") or 1)
        per_page = min(int(call.param("per_page") or PAGE), PAGE)
        start = (page - 1) * per_page
        more = start + per_page < len(comments)
        path = f"{self.url}/api/v2/tickets/{ticket_id}/comments.json"
        return Reply(
            200,
            {
                "comments": comments[start : start + per_page],
                "next_page": f"{path}?page={page + 1}&per_page={per_page}" if more else None,
                "previous_page": f"{path}?page={page - 1}&per_page={per_page}"
                if page > 1
                else None,
                "count": len(comments),
            },
        )
