"""A stateful Salesforce REST API fake (OAuth client credentials, sObject upsert by
External ID) on loopback.

Shapes checked against simple-salesforce (simple-salesforce/simple-salesforce):
login.py `token_login` (the token answer carries `access_token` and `instance_url`; a
refusal is a non-200 JSON `error` / `error_description`), util.py `exception_handler`
(300 more than one record, 400 malformed, 401 expired session, 403 refused, 404 not
found, each with a JSON list of `{message, errorCode}`), api.py's upsert
(`PATCH sobjects/{type}/{ExtId__c}/{value}`, 201 created / 204 or 200 updated); and
against the research notes (section 3): no Id or external-id field in the upsert body,
300 and nothing written when several records match, DUPLICATE_VALUE when two upserts
of one new value race, 403 REQUEST_LIMIT_EXCEEDED without Retry-After, and the
`Sforce-Limit-Info` header.

What it models: the token endpoint (400 invalid_client), Bearer sessions that can be
expired (401 INVALID_SESSION_ID), describe with each field's externalId/unique flags,
upsert (201 with `created: true`, 200 with `created: false`), exact reads by External
ID (404 NOT_FOUND), required fields (Lead: LastName, Company), SOQL `SELECT ... WHERE
F = 'v'` that leaves out what was written while ``search_lags`` is set, CaseNumber, and
the faults of vendor_fake.py: ``request_limit_exceeded()`` (the API allocation counts the
data calls under /services/data, not the token endpoint), ``duplicate_value()`` and lost
answers after commit.

What it does not model: other OAuth flows and token expiry by time, field-level
security, validation, duplicate and assignment rules (`Sforce-Duplicate-Rule-Header`),
picklist values (LeadSource, Status, Priority are accepted as given), field lengths,
the WhoId/WhatId type rules beyond Lead->WhoId, Case->WhatId, composite and bulk
APIs, API versions (any vNN.N is accepted), concurrent-request limits, and Change Data
Capture."""

from __future__ import annotations

import itertools
import re
import secrets
from typing import Any
from urllib.parse import unquote

from tests.support.vendor_fake import Call, Reply, VendorFake

CLIENT_ID = "3MVG9-fake-consumer-key"
CLIENT_SECRET = "fake-consumer-secret-0123456789"
EXTERNAL_ID = "Antenna_Key__c"
REQUIRED = {"Lead": ("LastName", "Company"), "Case": (), "Task": ()}
USAGE = {"Sforce-Limit-Info": "api-usage=18/15000"}
DATA = r"/services/data/v\d+\.\d"  # any API version


def errors(status: int, code: str, message: str) -> Reply:
    return Reply(status, [{"message": message, "errorCode": code}])


def request_limit_exceeded() -> Reply:
    return errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def duplicate_value() -> Reply:
    return errors(400, "DUPLICATE_VALUE", "duplicate value found: Antenna_Key__c")


class SalesforceFake(VendorFake):
    routes = (
        ("POST", r"/services/oauth2/token", "_token"),
        ("GET", DATA + r"/sobjects/(\w+)/describe", "_describe"),
        ("PATCH", DATA + r"/sobjects/(\w+)/(\w+)/([^/]+)", "_upsert"),
        ("GET", DATA + r"/sobjects/(\w+)/(\w+)/([^/]+)", "_read"),
        ("GET", DATA + r"/query", "_query"),
    )

    def __init__(self) -> None:
        self.sessions: set[str] = set()
        self.ids = itertools.count(1)
        self.records: dict[str, dict[str, dict[str, Any]]] = {"Lead": {}, "Case": {}, "Task": {}}
        self.external_ids = {"Lead": {EXTERNAL_ID}, "Case": {EXTERNAL_ID}, "Task": {EXTERNAL_ID}}
        super().__init__()

    def authorized(self, call: Call) -> bool:
        return call.path == "/services/oauth2/token" or call.bearer() in self.sessions

    def unauthorized(self) -> Reply:
        return errors(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def not_found(self, call: Call) -> Reply:
        return errors(404, "NOT_FOUND", "The requested resource does not exist")

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def _usage(self, reply: Reply) -> Reply:
        return Reply(reply.status, reply.body, {**reply.headers, **USAGE})

    def _token(self, call: Call) -> Reply:
        form = call.form()
        if form.get("grant_type") != "client_credentials":
            return Reply(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
            )
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return Reply(
                400, {"error": "invalid_client", "error_description": "invalid client credentials"}
            )
        token = "00Dfake!" + secrets.token_urlsafe(16)
        self.sessions.add(token)
        return Reply(
            200,
            {
                "access_token": token,
                "instance_url": self.url,
                "token_type": "Bearer",
                "issued_at": "1",
            },
        )

    def _describe(self, call: Call, sobject: str) -> Reply:
        if sobject not in self.records:
            return self.not_found(call)
        fields = [
            {"name": name, "externalId": True, "unique": True}
            for name in self.external_ids[sobject]
        ]
        return self._usage(Reply(200, {"name": sobject, "fields": [{"name": "Id"}, *fields]}))

    def _matches(self, sobject: str, field: str, value: str) -> list[str]:
        return [i for i, rec in self.records[sobject].items() if rec.get(field) == value]

    @staticmethod
    def _url(call: Call, sobject: str, record_id: str) -> str:
        api = call.path.partition("/sobjects/")[0]  # in the API version the call used
        return f"{api}/sobjects/{sobject}/{record_id}"

    def _several(self, call: Call, sobject: str, matches: list[str]) -> Reply:
        """300: more than one record has the value; nothing is read or written."""
        return Reply(300, [self._url(call, sobject, i) for i in matches])

    def _upsert(self, call: Call, sobject: str, field: str, value: str) -> Reply:
        value = unquote(value)
        if sobject not in self.records or field not in self.external_ids[sobject]:
            return errors(
                404, "NOT_FOUND", "Provided external ID field does not exist or is not accessible"
            )
        body = call.json()
        if "Id" in body or field in body:
            return errors(
                400, "INVALID_FIELD", f"{field} or Id must not be in the body of an upsert"
            )
        matches = self._matches(sobject, field, value)
        if len(matches) > 1:
            return self._several(call, sobject, matches)
        if matches:
            self.records[sobject][matches[0]].update(body)
            return self._usage(
                Reply(200, {"id": matches[0], "success": True, "errors": [], "created": False})
            )
        missing = [f for f in REQUIRED[sobject] if not body.get(f)]
        if missing:
            return errors(400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: {missing}")
        prefix = {"Lead": "00Q", "Case": "500", "Task": "00T"}[sobject]
        record_id = f"{prefix}{next(self.ids):015d}"
        record = {**body, field: value, "Id": record_id}
        if sobject == "Case":
            record["CaseNumber"] = f"{len(self.records['Case']) + 1:08d}"
        self.records[sobject][record_id] = record
        self.written(record_id)
        return self._usage(
            Reply(201, {"id": record_id, "success": True, "errors": [], "created": True})
        )

    def _read(self, call: Call, sobject: str, field: str, value: str) -> Reply:
        if sobject not in self.records:
            return self.not_found(call)
        matches = self._matches(sobject, field, unquote(value))
        if len(matches) > 1:
            return self._several(call, sobject, matches)
        if not matches:
            return self.not_found(call)
        record = self.records[sobject][matches[0]]
        attributes = {"type": sobject, "url": self._url(call, sobject, matches[0])}
        return self._usage(Reply(200, {"attributes": attributes, **record}))

    def _query(self, call: Call) -> Reply:
        soql = call.query["q"][0]
        parsed = re.fullmatch(r"SELECT (.+) FROM (\w+) WHERE (\w+) = '([^']*)'", soql)
        if parsed is None:
            return errors(400, "MALFORMED_QUERY", "unexpected token")
        _, sobject, field, value = parsed.groups()
        rows = [
            {"attributes": {"type": sobject}, **rec}
            for i, rec in self.records[sobject].items()
            if rec.get(field) == value and self.searchable(i)
        ]
        return self._usage(Reply(200, {"totalSize": len(rows), "done": True, "records": rows}))

    def of(self, sobject: str) -> list[dict[str, Any]]:
        return list(self.records[sobject].values())
