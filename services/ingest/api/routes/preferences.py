"""/report/preferences: the employee sees and changes what Antenna tells them, and
whether /insight may name them. Signed in like the report page; a CSRF token like the
report form's; no JavaScript.

A choice is a NotificationPreference on the compacted topic employees.preferences, keyed
by the signed-in name (``preference_key``: as the notifier looks it up, by the reporter's
employee id or e-mail). "Saved" is said only after the broker acknowledged it (acks=all);
a broker that does not answer gets a 503 page that keeps the choice for another try. The
page shows what this ingest read back from the topic, or, just after a save, what was
saved (another replica catches up within a second or so)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from schemas import NotificationPreference, topics
from schemas.preference import preference_key
from services.common.kafka import BrokerUnavailable
from services.common.logging import fields
from services.common.preferences import PreferenceBook
from services.ingest.api.deps import PublisherDep, SettingsDep
from services.ingest.api.pages import (
    csrf_signer,
    fresh_form,
    html_page,
    page_language,
    refusal,
    signed_in,
)
from services.ingest.api.problems import RETRY_AFTER_S
from services.ingest.forms import MEDIA_URLENCODED, FormInvalid, media_type, parse_urlencoded
from services.ingest.forms.preferences import (
    PREFERENCES_PATH,
    ChoiceInvalid,
    read_choice,
    render_preferences,
)

router = APIRouter()
log = logging.getLogger(__name__)


def _book(request: Request) -> PreferenceBook:
    book: PreferenceBook = request.app.state.preferences
    return book


@router.get(PREFERENCES_PATH, response_class=HTMLResponse, include_in_schema=False)
async def preferences_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    language = page_language(request)
    employee = signed_in(request, settings, language)
    if isinstance(employee, HTMLResponse):
        return employee
    current = _book(request).get(employee.user)
    token, nonce = fresh_form(request, employee.user)
    page = render_preferences(
        language=language,
        user=employee.user,
        csrf_token=token,
        nonce=nonce,
        notify=current.notify if current else True,
        credit=bool(current and current.credit_name),
        name=(current.credit_name if current else None) or "",
    )
    return html_page(page)


@router.post(PREFERENCES_PATH, response_class=HTMLResponse, include_in_schema=False)
async def save_preferences(
    request: Request, settings: SettingsDep, publisher: PublisherDep
) -> HTMLResponse:
    language = page_language(request)
    employee = signed_in(request, settings, language)
    if isinstance(employee, HTMLResponse):
        return employee
    if media_type(request.headers.get("content-type")) != MEDIA_URLENCODED:
        return refusal(language, 415, "unsupported")
    try:
        posted = parse_urlencoded(await request.body())
    except FormInvalid:
        return refusal(language, 400, "unsupported")
    language = page_language(request, posted)
    signer = csrf_signer(request)
    if not signer.verify(posted.get("csrf_token"), employee.user, posted.get("nonce", "")):
        log.info("preferences page: CSRF token refused")
        return refusal(language, 403, "csrf")

    def page(
        status: int,
        *,
        notify: bool,
        credit: bool,
        name: str,
        errors: dict[str, str] | None = None,
        saved: bool = False,
    ) -> HTMLResponse:
        token, nonce = fresh_form(request, employee.user)
        body = render_preferences(
            language=language,
            user=employee.user,
            csrf_token=token,
            nonce=nonce,
            notify=notify,
            credit=credit,
            name=name,
            errors=errors,
            saved=saved,
            unavailable=status == 503,
        )
        headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
        return html_page(body, status, headers)

    def again(status: int, errors: dict[str, str] | None = None) -> HTMLResponse:
        """What was posted, shown again: it is not saved."""
        return page(
            status,
            notify=posted.get("notify") != "no",
            credit=posted.get("credit") == "yes",
            name=posted.get("credit_name", "")[:200],
            errors=errors,
        )

    try:
        choice = read_choice(posted)
    except ChoiceInvalid as exc:
        return again(422, exc.fields)
    key = preference_key(employee.user)
    preference = NotificationPreference(
        employee_id=key,
        notify=choice.notify,
        credit_name=choice.credit_name,
        updated_at=datetime.now(UTC),
    )
    try:
        await publisher.publish_record(
            topics.PREFERENCES, key, preference.model_dump_json().encode()
        )
    except BrokerUnavailable:
        return again(503)
    _book(request).set(key, preference)  # this replica shows it at once
    log.info(
        "preferences saved",
        extra=fields(notify=choice.notify, credited=choice.credit_name is not None),
    )
    return page(
        200,
        saved=True,
        notify=choice.notify,
        credit=choice.credit_name is not None,
        name=choice.credit_name or "",
    )
