"""HTML answers shared by the employee pages (the report page, the status page, the
preferences and /insight): the headers every page carries, short refusal pages, and
sign-in: who is asking, or why not (404 when sign-in is not set up, 401 with a Basic
challenge, 429 with Retry-After while a client address is paused for guessing
passwords), as a page or, for /v1/insight, as the reason alone."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

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
from services.ingest.forms.csrf import CsrfSigner, new_nonce
from services.ingest.forms.i18n import choose_language
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


@dataclass(frozen=True)
class Refused:
    """Why a sign-in failed: ``reason`` names the page (throttled, not_configured,
    unauthorized); ``headers`` go with the answer (Retry-After, a Basic challenge)."""

    status: int
    reason: str
    headers: dict[str, str] | None = None


def page_language(request: Request, posted: Mapping[str, str] | None = None) -> str:
    """The page's language: a posted form's ``lang``, else ``?lang=``, else the browser's
    Accept-Language (services.ingest.forms.i18n.choose_language)."""
    chosen = (posted or {}).get("lang") or request.query_params.get("lang")
    return choose_language(chosen, request.headers.get("accept-language"))


def csrf_signer(request: Request) -> CsrfSigner:
    """One signer per app for every employee form: the configured secret, or one
    generated for this process."""
    state = request.app.state
    signer: CsrfSigner | None = getattr(state, "report_csrf_signer", None)
    if signer is None:
        signer = CsrfSigner.from_setting(state.settings.csrf_secret)
        state.report_csrf_signer = signer
    return signer


def fresh_form(request: Request, user: str) -> tuple[str, str]:
    """(CSRF token, nonce) for a new form of ``user``'s."""
    nonce = new_nonce()
    return csrf_signer(request).issue(user, nonce), nonce


def sign_in(request: Request, settings: SettingsDep) -> Employee | Refused:
    """The signed-in employee, or why not (for pages and JSON alike)."""
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    client = request.client.host if request.client else "unknown"  # kept in memory only
    now = time.monotonic()
    if presents_basic(request.headers):
        # While paused, the password is not even checked: a right guess reveals nothing.
        wait = throttle.retry_after(client, now)
        if wait is not None:
            metrics.SIGN_IN_REFUSALS.labels("throttled").inc()
            log.warning("report page sign-in paused after repeated wrong passwords")
            return Refused(429, "throttled", {"Retry-After": str(wait)})
    try:
        employee = authenticate(settings, request.headers)
    except NotConfigured:
        return Refused(404, "not_configured")
    except Unauthorized as exc:
        if exc.attempted:
            throttle.failed(client, now)
            metrics.SIGN_IN_REFUSALS.labels("wrong_password").inc()
        return Refused(401, "unauthorized", challenge_header() if exc.basic_challenge else None)
    if employee.method == "basic":
        throttle.succeeded(client)
    return employee


def signed_in(request: Request, settings: SettingsDep, language: str) -> Employee | HTMLResponse:
    employee = sign_in(request, settings)
    if isinstance(employee, Refused):
        return refusal(language, employee.status, employee.reason, headers=employee.headers)
    return employee


def is_operator(settings: SettingsDep, employee: Employee) -> bool:
    """``ANTENNA_OPERATORS`` names the signed-in users who see every signal and /insight."""
    user = employee.user.strip().lower()
    return user in {name.strip().lower() for name in settings.operators}
