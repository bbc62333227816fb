"""A stateful fake of Jira Service Management Cloud (servicedeskapi + the platform search),
for the jira_servicedesk connector.

Checked against the models and calls generated from Atlassian's OpenAPI documents in
MrRefactoring/jira.js @ef1506e:
- src/serviceDesk/models/requestCreate.ts: `POST /rest/servicedeskapi/request` takes
  `serviceDeskId`, `requestTypeId`, `requestFieldValues` (a map of Jira field ids),
  `raiseOnBehalfOf`, `requestParticipants`;
- src/serviceDesk/models/customerRequest.ts and customerRequestLink.ts: the answer carries
  `issueId`, `issueKey`, `requestTypeId`, `serviceDeskId`, `requestFieldValues[]`,
  `currentStatus` and `_links{self, web, agent, jiraRest}`;
- src/serviceDesk/models/commentCreate.ts, comment.ts, parameters/getRequestComments.ts:
  `POST /rest/servicedeskapi/request/{issueIdOrKey}/comment` `{body, public}` and
  `GET ...?public=&internal=&start=&limit=` (default limit 50) answering a page
  `{size, start, limit, isLastPage, values}`;
- src/cloud/api/issueSearch.ts and models/searchAndReconcileRequest.ts / ...Results.ts:
  `POST /rest/api/3/search/jql` `{jql, fields, maxResults, nextPageToken,
  reconcileIssues}` -> `{issues, nextPageToken, isLast}`, "Recent updates might not be
  immediately visible"; `reconcileIssues` (ids) makes those issues visible at once.
- The rate limiting and auth pages cited in ../shared/research/vendor-apis.md section 4:
  Basic `email:api_token`, 429 with `Retry-After` and `RateLimit-Reason`.

Error bodies follow the two families: servicedeskapi answers `{"errorMessage"}`, the
platform API `{"errorMessages": [], "errors": {}}`. A field the request type does not show
is refused with the platform's wording ("cannot be set. It is not on the appropriate
screen, or unknown."), as users report it (tenable/integration-jira-cloud#37).

Not modelled: JQL beyond `labels = "..."`, pagination of search results, workflows and
statuses, SLAs, customers and organisations (`raiseOnBehalfOf` is accepted and ignored),
attachments, Atlassian Document Format, the per-issue write limit, and the points-based
quota (a test injects ``rate_limited()``)."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

from tests.support.vendor_fake import Call, Reply, VendorFake

PRIORITIES = {"Highest", "High", "Medium", "Low", "Lowest"}
LABEL_QUERY = re.compile(r'labels\s*=\s*"([^"\\]*)"')
ACCOUNT_ID = "5b10ac8d82e05b22cc7d4ef5"


def _date() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"iso8601": now.isoformat(), "epochMillis": int(now.timestamp() * 1000)}


def rate_limited(retry_after_s: int, reason: str = "jira-burst-based") -> Reply:
    """Jira Cloud's answer over a rate limit: 429, when to try again, and which limit."""
    return Reply(429, headers={"Retry-After": str(retry_after_s), "RateLimit-Reason": reason})


def _desk_error(status: int, message: str) -> Reply:
    return Reply(status, {"errorMessage": message, "i18nErrorMessage": None})


class JiraServiceManagementFake(VendorFake):
    routes = (
        ("GET", r"/rest/api/3/myself", "myself"),
        ("GET", r"/rest/servicedeskapi/servicedesk/([^/]+)/requesttype/([^/]+)", "request_type"),
        ("POST", r"/rest/servicedeskapi/request", "create_request"),
        ("GET", r"/rest/servicedeskapi/request/([^/]+)/comment", "list_comments"),
        ("POST", r"/rest/servicedeskapi/request/([^/]+)/comment", "add_comment"),
        ("POST", r"/rest/api/3/search/jql", "search"),
    )

    def __init__(self, email: str = "antenna@example.com", token: str = "j" * 40) -> None:
        self.email, self.token = email, token
        self.service_desks = {"4": "SUP"}  # id -> project key
        # (desk, request type) -> the fields its form shows; "11" lacks the labels field.
        self.request_types: dict[tuple[str, str], set[str]] = {
            ("4", "10"): {"summary", "description", "labels", "priority"},
            ("4", "12"): {"summary", "description", "labels"},
            ("4", "11"): {"summary", "description"},
        }
        self.issues: dict[str, dict[str, Any]] = {}  # key -> issue
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self._numbers = itertools.count(1)
        super().__init__()

    # --- test controls -----------------------------------------------------------------------

    def issues_labelled(self, label: str) -> list[dict[str, Any]]:
        with self.lock:
            return [i for i in self.issues.values() if label in i["labels"]]

    def internal_comments(self, key: str) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.comments[key] if not c["public"]]

    # --- auth and errors -----------------------------------------------------------------------

    def authorized(self, call: Call) -> bool:
        return call.basic() == (self.email, self.token)

    def unauthorized(self) -> Reply:
        message = "Client must be authenticated to access this resource."
        return Reply(401, {"errorMessages": [message], "errors": {}})

    def not_found(self, call: Call) -> Reply:
        return _desk_error(404, "Request does not exist or you do not have permission to see it.")

    def _issue(self, id_or_key: str) -> dict[str, Any] | None:
        if id_or_key in self.issues:
            return self.issues[id_or_key]
        return next((i for i in self.issues.values() if i["id"] == id_or_key), None)

    # --- routes ----------------------------------------------------------------------------------

    def myself(self, call: Call) -> Reply:
        me = {"accountId": ACCOUNT_ID, "emailAddress": self.email, "displayName": "Antenna"}
        return Reply(200, {**me, "active": True})

    def request_type(self, call: Call, desk: str, request_type: str) -> Reply:
        if (desk, request_type) not in self.request_types:
            return _desk_error(404, "The request type does not exist.")
        return Reply(200, {"id": request_type, "serviceDeskId": desk, "name": "Report"})

    def create_request(self, call: Call) -> Reply:
        body = call.json() or {}
        desk, request_type = str(body.get("serviceDeskId")), str(body.get("requestTypeId"))
        if desk not in self.service_desks:
            return _desk_error(404, f"The service desk {desk} does not exist.")
        shown = self.request_types.get((desk, request_type))
        if shown is None:
            return _desk_error(400, f"The request type {request_type} does not exist.")
        values: dict[str, Any] = body.get("requestFieldValues") or {}
        for field in values:
            if field not in shown:
                return _desk_error(
                    400,
                    f"Field '{field}' cannot be set. It is not on the appropriate screen, "
                    "or unknown.",
                )
        if not values.get("summary"):
            return _desk_error(400, "Summary: You must specify a summary of the issue.")
        labels = values.get("labels") or []
        if any(" " in label for label in labels):
            return _desk_error(400, "Labels: a label cannot contain spaces.")
        priority = values.get("priority")
        if priority is not None and priority.get("name") not in PRIORITIES:
            return _desk_error(400, "Priority: Specify a valid priority.")
        number = next(self._numbers)
        key = f"{self.service_desks[desk]}-{number}"
        issue = {
            "id": str(10000 + number),
            "key": key,
            "serviceDeskId": desk,
            "requestTypeId": request_type,
            "summary": values["summary"],
            "description": values.get("description"),
            "labels": list(labels),
            "priority": (priority or {}).get("name", "Medium"),
        }
        self.issues[key] = issue
        self.comments[key] = []
        self.written(key)
        return Reply(201, self._customer_request(issue, values))

    def _customer_request(self, issue: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        key, desk = issue["key"], issue["serviceDeskId"]
        return {
            "_expands": ["participant", "status", "sla", "requestType", "serviceDesk"],
            "issueId": issue["id"],
            "issueKey": key,
            "summary": issue["summary"],
            "requestTypeId": issue["requestTypeId"],
            "serviceDeskId": desk,
            "createdDate": _date(),
            "reporter": {"accountId": ACCOUNT_ID, "emailAddress": self.email},
            "requestFieldValues": [
                {"fieldId": f, "label": f.capitalize(), "value": v} for f, v in values.items()
            ],
            "currentStatus": {"status": "Waiting for support", "statusCategory": "NEW"},
            "_links": {
                "jiraRest": f"{self.url}/rest/api/2/issue/{issue['id']}",
                "web": f"{self.url}/servicedesk/customer/portal/{desk}/{key}",
                "agent": f"{self.url}/browse/{key}",
                "self": f"{self.url}/rest/servicedeskapi/request/{issue['id']}",
            },
        }

    def add_comment(self, call: Call, id_or_key: str) -> Reply:
        issue = self._issue(id_or_key)
        if issue is None:
            return self.not_found(call)
        body = call.json() or {}
        if not body.get("body"):
            return _desk_error(400, "Comment body cannot be empty.")
        comment = {
            "id": str(next(self._numbers) + 50000),
            "body": body["body"],
            "public": bool(body.get("public", True)),
            "author": {"accountId": ACCOUNT_ID},
            "created": _date(),
        }
        self.comments[issue["key"]].append(comment)
        return Reply(201, comment)

    def list_comments(self, call: Call, id_or_key: str) -> Reply:
        issue = self._issue(id_or_key)
        if issue is None:
            return self.not_found(call)
        public = call.param("public", "true") == "true"
        internal = call.param("internal", "true") == "true"
        chosen = [c for c in self.comments[issue["key"]] if (public if c["public"] else internal)]
        start, limit = int(call.param("start") or 0), int(call.param("limit") or 50)
        page = chosen[start : start + limit]
        return Reply(
            200,
            {
                "size": len(page),
                "start": start,
                "limit": limit,
                "isLastPage": start + limit >= len(chosen),
                "values": page,
            },
        )

    def search(self, call: Call) -> Reply:
        body = call.json() or {}
        match = LABEL_QUERY.fullmatch(str(body.get("jql", "")).strip())
        if match is None:
            message = f'The fake understands only labels = "...": {body.get("jql")!r}'
            return Reply(400, {"errorMessages": [message], "errors": {}})
        reconciled = {str(i) for i in body.get("reconcileIssues") or []}
        found = [
            {
                "id": issue["id"],
                "key": issue["key"],
                "self": f"{self.url}/rest/api/3/issue/{issue['id']}",
                "fields": {"summary": issue["summary"], "labels": issue["labels"]},
            }
            for issue in self.issues.values()
            if match.group(1) in issue["labels"]
            and (self.searchable(issue["key"]) or issue["id"] in reconciled)
        ]
        return Reply(200, {"issues": found, "isLast": True})
