"""Tryton (8.2, module sale_opportunity) as the CRM.

A new case becomes a ``sale.opportunity`` in state lead whose ``reference`` is the
case's key (``antenna-<case id>``), with a party (name, e-mail, phone) only when the
customer agreed to be contacted; an existing party with the same e-mail or phone is
reused. A colleague's later report becomes an ``ir.note`` on the opportunity, its first
line carrying ``[antenna <signal_id>]``. ``reference`` is not unique in Tryton, so after
an attempt whose answer was lost the connector searches by it before creating; the
case -> record mapping says when that is needed.

Two ways in, both with the same rights (the "Sale Opportunity" group and a company):

- ``..__PASSWORD``: JSON-RPC with a session (log in once, again after a 401);
- ``..__KEY``: the REST API with a user application key (no session).

Tryton without the ``activity`` module has no task: the callback window and its due
time are on the opportunity's comment ("Call back: tomorrow morning (due …)").

The opportunities' state is polled (outcomes.py; ``..__POLL_INTERVAL_S``, ``..__POLL_BATCH``)."""

from __future__ import annotations

import base64
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator

from services.common.settings import check_secret
from services.connectors.base import (
    ConnectorContext,
    DeliveryError,
    StartupError,
)
from services.connectors.crm import DEFAULT_TIMEZONE, Contact, CrmConnector, Lead, Note
from services.connectors.http import request
from services.connectors.outcomes import PolledConfig, RecordStatus, StatusSource
from services.connectors.records import Entry, Record
from services.connectors.tickets import note_marker
from services.connectors.tryton import outcomes

OPPORTUNITY = "sale.opportunity"
DESCRIPTION_CHARS = 120  # a one-line Char field in the form


class TrytonConfig(PolledConfig):
    url: AnyHttpUrl  # the server, e.g. http://127.0.0.1:8069
    database: str = Field(min_length=1)
    user: str = Field(default="admin", min_length=1)
    password: SecretStr | None = None  # JSON-RPC session
    key: SecretStr | None = None  # REST user application key
    company: int | None = Field(default=None, ge=1)  # default: the user's current company
    timezone: str = DEFAULT_TIMEZONE
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("password", "key")
    @classmethod
    def _real_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return check_secret(value, "Tryton password or key") if value is not None else None

    @model_validator(mode="after")
    def _one_way_in(self) -> TrytonConfig:
        if (self.password is None) == (self.key is None):
            raise ValueError("set either password (JSON-RPC) or key (REST application key)")
        return self


def _b64json(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _id(value: Any) -> int:
    """A Many2One as JSON-RPC (an int) or REST (a dict with an id) returns it."""
    return int(value["id"] if isinstance(value, dict) else value)


class Client(ABC):
    """The two calls the connector needs, over JSON-RPC or REST."""

    def __init__(self, config: TrytonConfig, http: httpx.AsyncClient, env: str) -> None:
        self.config, self.http, self.env = config, http, env
        self.company: int | None = config.company

    @abstractmethod
    async def start(self) -> None:
        """Authenticate and learn the company; StartupError when refused."""

    @abstractmethod
    async def search_read(
        self, model: str, domain: list[Any], fields: list[str], limit: int | None = None
    ) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def create(self, model: str, values: dict[str, Any]) -> int: ...

    def _refused(self, what: str) -> StartupError:
        return StartupError(
            f"Tryton refused {what} for user {self.config.user!r} on database "
            f"{self.config.database!r}; check {self.env}"
        )

    def _no_company(self) -> StartupError:
        return StartupError(
            f"Tryton user {self.config.user!r} has no company: add the user to a company "
            "(sale.opportunity needs one), or set the company id"
        )


class RpcClient(Client):
    """JSON-RPC on /DB/rpc/ with a session, renewed once after a 401."""

    session: str | None = None

    async def start(self) -> None:
        await self._login()
        if self.company is None:
            prefs = await self._call("model.res.user.get_preferences", [True, {}])
            self.company = prefs.get("company")
        if self.company is None:
            raise self._no_company()

    async def _login(self) -> None:
        assert self.config.password is not None
        body = {
            "id": 0,
            "method": "common.db.login",
            "params": [
                self.config.user,
                {"password": self.config.password.get_secret_value()},
                "en",
            ],
        }
        try:
            response = await request(self.http, "POST", "rpc/", json=body)
        except DeliveryError as exc:
            if "HTTP 401" in str(exc) or "HTTP 403" in str(exc):
                raise self._refused("the login") from None
            raise
        result = response.json().get("result")
        if not isinstance(result, list) or len(result) < 2:
            raise self._refused("the login")
        user_id, token = result[0], result[1]
        raw = f"{self.config.user}:{user_id}:{token}".encode()
        self.session = "Session " + base64.b64encode(raw).decode()

    async def _call(self, method: str, params: list[Any]) -> Any:
        if self.session is None:
            await self._login()
        for renewed in (False, True):
            body = {"id": 1, "method": method, "params": params}
            try:
                response = await request(
                    self.http, "POST", "rpc/", json=body, headers={"Authorization": self.session}
                )
            except DeliveryError as exc:
                if "HTTP 401" in str(exc) and not renewed:  # session expired or server restarted
                    await self._login()
                    continue
                raise
            data = response.json()
            if data.get("error"):
                raise DeliveryError(f"Tryton: {_error_text(data['error'])}", retryable=False)
            return data.get("result")
        raise AssertionError("unreachable")

    def _context(self) -> dict[str, Any]:
        return {"company": self.company}

    async def search_read(
        self, model: str, domain: list[Any], fields: list[str], limit: int | None = None
    ) -> list[dict[str, Any]]:
        params = [domain, 0, limit, [["id", "ASC"]], fields, self._context()]
        result: list[dict[str, Any]] = await self._call(f"model.{model}.search_read", params)
        return result

    async def create(self, model: str, values: dict[str, Any]) -> int:
        ids = await self._call(f"model.{model}.create", [[values], self._context()])
        return int(ids[0])


def _error_text(error: Any) -> str:
    # ["UserError", [message, description, ...]] or a plain string
    if isinstance(error, list) and len(error) == 2 and isinstance(error[1], list) and error[1]:
        return f"{error[0]}: {error[1][0]}"
    return str(error)[:300]


class RestClient(Client):
    """The REST API with a user application key: no session to keep."""

    def _headers(self) -> dict[str, str]:
        assert self.config.key is not None
        headers = {"Authorization": f"bearer {self.config.key.get_secret_value()}"}
        if self.company is not None:
            headers["X-Tryton-Context"] = _b64json({"company": self.company})
        return headers

    async def start(self) -> None:
        try:
            users = await self.search_read(
                "res.user", [["login", "=", self.config.user]], ["company"]
            )
        except DeliveryError as exc:
            if "HTTP 401" in str(exc) or "HTTP 403" in str(exc):
                raise self._refused("the application key") from None
            raise
        if self.company is None and users and users[0].get("company"):
            self.company = _id(users[0]["company"])
        if self.company is None:
            raise self._no_company()

    async def search_read(
        self, model: str, domain: list[Any], fields: list[str], limit: int | None = None
    ) -> list[dict[str, Any]]:
        params: list[tuple[str, str | int]] = [
            ("d", _b64json(domain)),
            ("o", _b64json([["id", "ASC"]])),
        ]
        params += [("f", name) for name in fields]
        if limit is not None:
            params.append(("s", limit))
        response = await request(
            self.http, "GET", f"rest/model/{model}", params=params, headers=self._headers()
        )
        result: list[dict[str, Any]] = response.json()
        return result

    async def create(self, model: str, values: dict[str, Any]) -> int:
        response = await request(
            self.http, "POST", f"rest/model/{model}", json=values, headers=self._headers()
        )
        return int(response.json()["id"])


class TrytonConnector(CrmConnector, StatusSource):
    name = "tryton"
    config_model = TrytonConfig

    def __init__(self, config: TrytonConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self.tryton = config
        self.timezone = config.timezone
        self.base = str(config.url).rstrip("/")
        http = httpx.AsyncClient(
            base_url=f"{self.base}/{config.database}/",
            timeout=config.timeout_s,
            headers={"User-Agent": "antenna-tryton/1"},
        )
        env = f"ANTENNA_{context.destination.upper()}__"
        self.client: Client = (
            RpcClient(config, http, env + "PASSWORD")
            if config.password is not None
            else RestClient(config, http, env + "KEY")
        )
        self._started = False

    async def start(self) -> None:
        await self.client.start()
        self._started = True

    async def _ready(self) -> Client:
        if not self._started:
            try:
                await self.start()
            except StartupError as exc:  # credentials revoked while running: final
                raise DeliveryError(str(exc), retryable=False) from exc
        return self.client

    def _record(self, row: dict[str, Any]) -> Record:
        opp_id = int(row["id"])
        url = f"{self.base}/#{self.tryton.database}/model/{OPPORTUNITY}/{opp_id}"
        return Record(str(opp_id), url, label=str(row.get("number") or opp_id))

    async def find_lead(self, case_id: str, entry: Entry) -> Record | None:
        client = await self._ready()
        # `reference` is not unique: the earliest opportunity with it is the case's.
        rows = await client.search_read(
            OPPORTUNITY, [["reference", "=", f"antenna-{case_id}"]], ["number"], limit=1
        )
        return self._record(rows[0]) if rows else None

    async def create_lead(self, lead: Lead) -> Record:
        client = await self._ready()
        values: dict[str, Any] = {
            "reference": lead.key,
            "description": lead.title[:DESCRIPTION_CHARS],
            "comment": lead.body,
        }
        if lead.contact is not None:
            values["party"] = await self._party(client, lead.contact)
        opp_id = await client.create(OPPORTUNITY, values)
        rows = await client.search_read(OPPORTUNITY, [["id", "=", opp_id]], ["number"])
        return self._record(rows[0] if rows else {"id": opp_id})

    async def _party(self, client: Client, contact: Contact) -> int:
        """The customer's party: one with the same e-mail, or with the same phone and
        name (a household shares a phone), else a new one. Also keeps a retry after a
        lost answer from making a second party."""
        searches = []
        if contact.email:
            searches.append([["contact_mechanisms.value", "=", contact.email]])
        if contact.phone and contact.name:
            searches.append(
                [["contact_mechanisms.value", "=", contact.phone], ["name", "=", contact.name]]
            )
        for domain in searches:
            rows = await client.search_read("party.party", domain, ["id"], limit=1)
            if rows:
                return int(rows[0]["id"])
        mechanisms = [
            {"type": kind, "value": value}
            for kind, value in (("email", contact.email), ("phone", contact.phone))
            if value
        ]
        values: dict[str, Any] = {
            "name": contact.name or contact.email or contact.phone or "Customer",
        }
        if mechanisms:
            values["contact_mechanisms"] = [["create", mechanisms]]
        return await client.create("party.party", values)

    async def find_note(self, lead: Record, note: Note) -> Record | None:
        client = await self._ready()
        rows = await client.search_read(
            "ir.note",
            [
                ["resource", "=", f"{OPPORTUNITY},{int(lead.id)}"],
                ["message", "like", f"%{note_marker(note.signal_id)}%"],
            ],
            ["id"],
            limit=1,
        )
        return Record(str(rows[0]["id"])) if rows else None

    async def add_note(self, lead: Record, note: Note) -> Record:
        client = await self._ready()
        note_id = await client.create(
            "ir.note",
            {
                "resource": f"{OPPORTUNITY},{int(lead.id)}",
                "message": f"{note.subject}\n\n{note.body}",
            },
        )
        return Record(str(note_id))

    @property
    def polling(self) -> PolledConfig:
        return self.tryton

    async def read_statuses(self, records: Sequence[Record]) -> dict[str, RecordStatus]:
        if not records:
            return {}
        client = await self._ready()
        ids = [int(record.id) for record in records]
        rows = await client.search_read(OPPORTUNITY, [["id", "in", ids]], outcomes.FIELDS)
        return outcomes.statuses_of(rows)

    async def close(self) -> None:
        await self.client.http.aclose()
