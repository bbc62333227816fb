"""The programme's insight: GET /insight (a page) and GET /v1/insight (JSON), in Dutch
and English, from the latest summary the insight app published (services.ingest.insight).

Who may read it: the operators (``ANTENNA_OPERATORS``), signed in like the report page;
for the JSON also a client with one of ``ANTENNA_INSIGHT_API_KEYS`` (a BI tool, a
board-report script). Not the keys in ``ANTENNA_API_KEYS``: those belong to integrations
that post signals (form tools, mail gateways), are spread widely and say nothing about
who reads. An employee who is not an operator is refused (403): the page names
colleagues who opted in and shows each department's participation, which is the
programme team's business."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from services.common.preferences import PreferenceBook
from services.ingest.api.deps import SettingsDep, key_matches, presented_key
from services.ingest.api.pages import (
    Refused,
    html_page,
    is_operator,
    page_language,
    refusal,
    sign_in,
)
from services.ingest.api.problems import RETRY_AFTER_S, problem
from services.ingest.insight import InsightBook, as_json
from services.ingest.insight_view import INSIGHT_PATH, names, render_insight, render_message

router = APIRouter()

REFUSED_TITLES: Final = {
    "throttled": "Too many sign-in attempts",
    "not_configured": "Sign-in is not configured",
    "unauthorized": "Sign in as an operator, or present an insight API key",
}


def _books(request: Request) -> tuple[InsightBook, PreferenceBook]:
    return request.app.state.insight, request.app.state.preferences


@router.get(INSIGHT_PATH, response_class=HTMLResponse, include_in_schema=False)
async def insight_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    language = page_language(request)
    employee = sign_in(request, settings)
    if isinstance(employee, Refused):
        return refusal(language, employee.status, employee.reason, headers=employee.headers)
    if not is_operator(settings, employee):
        return html_page(render_message(language=language, name="forbidden"), 403)
    insight, preferences = _books(request)
    snapshot = insight.latest
    if snapshot is None:
        page = render_message(language=language, name="empty")
        return html_page(page, 503, {"Retry-After": str(RETRY_AFTER_S)})
    page = render_insight(language=language, snapshot=snapshot, credits=preferences.credits())
    return html_page(page)


@router.get(
    "/v1/insight",
    responses={401: {}, 403: {}, 429: {}, 503: {}},
    summary="The programme's insight (operators, insight API keys)",
)
async def insight_json(request: Request, settings: SettingsDep) -> JSONResponse:
    """Signals per week by channel, kind, category and department; participation per
    department; outcomes and medians; the reports that mattered, naming only employees
    who opted in. ``?lang=nl|en`` (or Accept-Language) picks the language of ``names``."""
    presented = presented_key(
        request.headers.get("authorization"), request.headers.get("x-api-key")
    )
    if presented is not None:
        if not key_matches(presented, settings.insight_api_keys):
            return problem(
                401,
                "Not an insight API key",
                "this key may not read the insight (ANTENNA_INSIGHT_API_KEYS)",
                headers={"WWW-Authenticate": "Bearer"},
            )
    else:
        employee = sign_in(request, settings)
        if isinstance(employee, Refused):
            title = REFUSED_TITLES.get(employee.reason, "Not signed in")
            return problem(employee.status, title, headers=employee.headers)
        if not is_operator(settings, employee):
            return problem(403, "For operators only", "ANTENNA_OPERATORS may read the insight")
    insight, preferences = _books(request)
    snapshot = insight.latest
    if snapshot is None:
        return problem(
            503,
            "No insight yet",
            "the insight service has not published its figures yet",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    language = page_language(request)
    body = {
        "language": language,
        "names": names(language),
        **as_json(snapshot, preferences.credits()),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Vary": "Accept-Language"})
