"""A stateful HubSpot CRM fake (v3 objects, v4 associations) on loopback.

Shapes checked against HubSpot's official Python SDK, HubSpot/hubspot-api-python
(generated from HubSpot's OpenAPI documents): hubspot/crm/deals/api/batch_api.py
(`POST /crm/v3/objects/deals/batch/upsert`), models/simple_public_upsert_object.py
(`id, properties, createdAt, updatedAt, archived, new`), models/error.py (`status,
message, correlationId, category`); and against the research notes (section 2) for
`GET /crm/v3/objects/{type}/{value}?idProperty=`, inline `associations` with
HUBSPOT_DEFINED type ids (note->deal 214, task->deal 216, deal->contact 3), 409 on a
create that repeats a unique value, 429 with policyName, and search that lags.

Pipeline stages carry ``metadata`` as the v3 pipelines API sends it (strings:
``{"isClosed": "true", "probability": "1.0"}``; HubSpot's CRM pipelines reference and
the research notes, section 2, "stage id -> pipeline metadata").

What it models: Bearer token (401), pipelines and stages, unique deal property
definitions, contact upsert by email, deal upsert by a unique property (`new`
true/false), exact reads by idProperty (404 when absent), default associations (PUT,
idempotent), notes and tasks with inline associations (never idempotent), batch read,
search that leaves out what was written while ``search_lags`` is set, 429 +
Retry-After (``rate_limited``: HubSpot's rolling limit answers whatever is called next),
and a lost answer after commit (see vendor_fake.py).

What it does not model: the date-versioned paths (/crm/objects/2026-03/...), OAuth and
token expiry, scopes (403 MISSING_SCOPES), property validation (enumeration options,
types), association labels, paging (every list fits one page), batch 207 multi-status,
hs_object_id echo, daily limits, webhooks, and the search API's own rate limit."""

from __future__ import annotations

import itertools
from typing import Any

from tests.support.vendor_fake import Call, Reply, VendorFake

TOKEN = "pat-na1-fake-hubspot-token-0123456789"
PORTAL_ID = 4711
UNIQUE_DEAL_PROPERTY = "antenna_case_key"
ASSOCIATION_IDS = {("notes", "deals"): 214, ("tasks", "deals"): 216, ("deals", "contacts"): 3}


def error(status: int, category: str, message: str, **more: Any) -> Reply:
    body = {"status": "error", "message": message, "correlationId": "fake", "category": category}
    return Reply(status, {**body, **more})


def rate_limited(retry_after_s: int = 1) -> Reply:
    answer = error(
        429,
        "RATE_LIMITS",
        "You have reached your ten_secondly_rolling limit.",
        policyName="TEN_SECONDLY_ROLLING",
    )
    return Reply(answer.status, answer.body, {"Retry-After": str(retry_after_s)})


class HubSpotFake(VendorFake):
    routes = (
        ("GET", r"/crm/v3/pipelines/deals", "_pipelines"),
        ("GET", r"/crm/v3/properties/(\w+)/(\w+)", "_property"),
        ("GET", r"/account-info/v3/details", "_account"),
        ("POST", r"/crm/v3/objects/(\w+)/batch/upsert", "_upsert"),
        ("POST", r"/crm/v3/objects/(\w+)/batch/read", "_batch_read"),
        ("POST", r"/crm/v3/objects/(\w+)/search", "_search"),
        ("POST", r"/crm/v3/objects/(\w+)", "_create"),
        ("GET", r"/crm/v3/objects/(\w+)/([^/]+)", "_read"),
        ("PUT", r"/crm/v4/objects/(\w+)/(\d+)/associations/default/(\w+)/(\d+)", "_associate"),
        ("GET", r"/crm/v4/objects/(\w+)/(\d+)/associations/(\w+)", "_associated"),
    )

    def __init__(self) -> None:
        self.ids = itertools.count(1001)
        # type -> id -> properties
        self.objects: dict[str, dict[str, dict[str, Any]]] = {
            t: {} for t in ("contacts", "deals", "notes", "tasks")
        }
        self.associations: set[tuple[str, str, str, str]] = set()  # (from, id, to, id)
        self.unique = {"deals": {UNIQUE_DEAL_PROPERTY}, "contacts": {"email"}}
        self.pipelines = {
            "default": ["appointmentscheduled", "qualifiedtobuy", "closedwon", "closedlost"]
        }
        super().__init__()

    # --- HTTP details -----------------------------------------------------------------

    def authorized(self, call: Call) -> bool:
        return call.bearer() == TOKEN

    def unauthorized(self) -> Reply:
        return error(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication",
        )

    def not_found(self, call: Call) -> Reply:
        return error(404, "OBJECT_NOT_FOUND", "resource not found")

    # --- state ------------------------------------------------------------------------

    def _public(self, kind: str, object_id: str, new: bool | None = None) -> dict[str, Any]:
        now = "2025-03-14T09:31:00.000Z"
        body = {
            "id": object_id,
            "properties": dict(self.objects[kind][object_id]),
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
        }
        if new is not None:
            body["new"] = new
        return body

    def _find(self, kind: str, prop: str, value: str) -> str | None:
        for object_id, properties in self.objects[kind].items():
            if properties.get(prop) == value:
                return object_id
        return None

    def _insert(self, kind: str, properties: dict[str, Any]) -> str:
        object_id = str(next(self.ids))
        self.objects[kind][object_id] = dict(properties)
        self.written(object_id)
        return object_id

    def _link(self, kind: str, object_id: str, associations: list[dict[str, Any]]) -> Reply | None:
        for association in associations:
            to_id = str(association["to"]["id"])
            [spec] = association["types"]
            target = next(
                (
                    t
                    for (f, t), n in ASSOCIATION_IDS.items()
                    if f == kind and n == spec["associationTypeId"]
                ),
                None,
            )
            if spec["associationCategory"] != "HUBSPOT_DEFINED" or target is None:
                return error(400, "VALIDATION_ERROR", f"invalid association type {spec}")
            if to_id not in self.objects[target]:
                return error(400, "VALIDATION_ERROR", f"{target} {to_id} does not exist")
            self.associations.add((kind, object_id, target, to_id))
            self.associations.add((target, to_id, kind, object_id))
        return None

    # --- routes -----------------------------------------------------------------------

    @staticmethod
    def _stage(stage: str) -> dict[str, Any]:
        closed = {"closedwon": "1.0", "closedlost": "0.0"}
        metadata = {
            "isClosed": "true" if stage in closed else "false",
            "probability": closed.get(stage, "0.2"),
        }
        return {"id": stage, "label": stage, "metadata": metadata}

    def _account(self, call: Call) -> Reply:
        return Reply(200, {"portalId": PORTAL_ID})

    def _pipelines(self, call: Call) -> Reply:
        results = [
            {"id": pid, "label": pid, "stages": [self._stage(s) for s in stages]}
            for pid, stages in self.pipelines.items()
        ]
        return Reply(200, {"results": results})

    def _property(self, call: Call, kind: str, name: str) -> Reply:
        if name not in self.unique.get(kind, set()):
            return error(404, "OBJECT_NOT_FOUND", f"Unable to find property {name}")
        return Reply(200, {"name": name, "type": "string", "hasUniqueValue": True})

    def _upsert(self, call: Call, kind: str) -> Reply:
        results = []
        for item in call.json()["inputs"]:
            prop, value = item["idProperty"], str(item["id"])
            if prop not in self.unique.get(kind, set()):
                return error(400, "VALIDATION_ERROR", f"{prop} is not a unique property")
            object_id = self._find(kind, prop, value)
            new = object_id is None
            if object_id is None:
                object_id = self._insert(kind, {**item["properties"], prop: value})
            else:
                self.objects[kind][object_id].update(item["properties"])
            results.append(self._public(kind, object_id, new=new))
        return Reply(200, {"status": "COMPLETE", "results": results})

    def _create(self, call: Call, kind: str) -> Reply:
        if kind not in self.objects:
            return self.not_found(call)
        data = call.json()
        properties = data.get("properties") or {}
        if kind in ("notes", "tasks") and "hs_timestamp" not in properties:
            return error(400, "VALIDATION_ERROR", "hs_timestamp is required")
        for prop in self.unique.get(kind, set()):
            existing = properties.get(prop) and self._find(kind, prop, properties[prop])
            if existing:
                return error(409, "CONFLICT", f"Object already exists. Existing ID: {existing}")
        object_id = self._insert(kind, properties)
        failed = self._link(kind, object_id, data.get("associations") or [])
        if failed is not None:
            del self.objects[kind][object_id]
            return failed
        return Reply(201, self._public(kind, object_id))

    def _read(self, call: Call, kind: str, value: str) -> Reply:
        if kind not in self.objects:
            return self.not_found(call)
        prop = call.param("idProperty")
        object_id = self._find(kind, prop, value) if prop else value
        if object_id is None or object_id not in self.objects[kind]:
            return self.not_found(call)
        return Reply(200, self._public(kind, object_id))

    def _batch_read(self, call: Call, kind: str) -> Reply:
        ids = [str(i["id"]) for i in call.json()["inputs"]]
        results = [self._public(kind, i) for i in ids if i in self.objects[kind]]
        return Reply(200, {"status": "COMPLETE", "results": results})

    def _search(self, call: Call, kind: str) -> Reply:
        [group] = call.json()["filterGroups"]
        results = [
            self._public(kind, object_id)
            for object_id, properties in self.objects[kind].items()
            if self.searchable(object_id)
            and all(properties.get(f["propertyName"]) == f["value"] for f in group["filters"])
        ]
        return Reply(200, {"total": len(results), "results": results})

    def _associate(self, call: Call, kind: str, object_id: str, to: str, to_id: str) -> Reply:
        if object_id not in self.objects[kind] or to_id not in self.objects[to]:
            return self.not_found(call)
        self.associations.add((kind, object_id, to, to_id))
        self.associations.add((to, to_id, kind, object_id))
        return Reply(200, {"status": "COMPLETE", "results": []})

    def _associated(self, call: Call, kind: str, object_id: str, to: str) -> Reply:
        results = [
            {
                "toObjectId": int(t_id),
                "associationTypes": [
                    {
                        "category": "HUBSPOT_DEFINED",
                        "typeId": ASSOCIATION_IDS.get((to, kind)),
                        "label": None,
                    }
                ],
            }
            for (f, f_id, t, t_id) in sorted(self.associations)
            if (f, f_id, t) == (kind, object_id, to)
        ]
        return Reply(200, {"results": results})

    # --- for tests ----------------------------------------------------------------------

    def add_deal(self, **properties: Any) -> str:
        """A deal as a salesperson makes it in HubSpot's UI; its id."""
        with self.lock:
            return self._insert("deals", properties)

    # --- for assertions ---------------------------------------------------------------

    def of(self, kind: str) -> list[dict[str, Any]]:
        return list(self.objects[kind].values())

    def linked(self, kind: str, object_id: str, to: str) -> list[str]:
        return [
            t_id
            for (f, f_id, t, t_id) in self.associations
            if (f, f_id, t) == (kind, object_id, to)
        ]
