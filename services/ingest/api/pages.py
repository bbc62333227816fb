"""HTML answers shared by the employee pages (the report page and the status page): the
headers every page carries, short refusal pages, and sign-in: who is asking, or a page
that says why not (404 when sign-in is not set up, 401 with a Basic challenge, 429 with
Retry-After while a client address is paused for guessing passwords)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import HTMLResponse

from services.ingest import metrics
from services.ingest.api.deps import SettingsDep
from services.ingest.forms.auth import (
    Employee,
    NotConfigured,
    Unauthorized,
    authenticate,
    challenge_header,
    presents_basic,
)
from services.ingest.forms.page import page_headers, render_message
from services.ingest.forms.throttle import SignInThrottle

log = logging.getLogger(__name__)


def html_page(
    body: str, status: int = 200, headers: Mapping[str, str] | None = None
) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={**page_headers(), **(headers or {})})


def refusal(
    language: str,
    status: int,
    name: str,
    *,
    fresh_link: bool = False,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A short page in the employee's language: ``<name>_title`` and ``<name>_body``."""
    page = render_message(
        language=language, title_key=f"{name}_title", body_key=f"{name}_body", fresh_link=fresh_link
    )
    return html_page(page, status, headers)


def signed_in(request: Request, settings: SettingsDep, language: str) -> Employee | HTMLResponse:
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    client = request.client.host if request.client else "unknown"  # kept in memory only
    now = time.monotonic()
    if presents_basic(request.headers):
        # While paused, the password is not even checked: a right guess reveals nothing.
        wait = throttle.retry_after(client, now)
        if wait is not None:
            metrics.SIGN_IN_REFUSALS.labels("throttled").inc()
            log.warning("report page sign-in paused after repeated wrong passwords")
            return refusal(language, 429, "throttled", headers={"Retry-After": str(wait)})
    try:
        employee = authenticate(settings, request.headers)
    except NotConfigured:
        return refusal(language, 404, "not_configured")
    except Unauthorized as exc:
        if exc.attempted:
            throttle.failed(client, now)
            metrics.SIGN_IN_REFUSALS.labels("wrong_password").inc()
        challenge = challenge_header() if exc.basic_challenge else None
        return refusal(language, 401, "unauthorized", headers=challenge)
    if employee.method == "basic":
        throttle.succeeded(client)
    return employee
