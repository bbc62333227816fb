"""The report page (GET/POST /report) for employees, and POST /v1/forms/{form_id} for
third-party form tools. Both hand a SignalSubmission to ``intake.accept``, the one path to
signals.raw: success only after the broker acknowledged.

The page is HTML without JavaScript and answers every failure with a page of its own (a
broker outage is a 503 page that keeps what was typed); the form endpoint answers JSON and
problem+json like /v1/signals."""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError

from schemas import Reporter
from services.common.kafka import BrokerUnavailable
from services.common.logging import fields as log_fields
from services.ingest.api.deps import ClientDep, IdempotencyDep, PublisherDep, SettingsDep
from services.ingest.api.pages import (
    csrf_signer,
    fresh_form,
    html_page,
    page_language,
    refusal,
    signed_in,
)
from services.ingest.api.problems import RETRY_AFTER_S, problem
from services.ingest.api.routes.signals import Accepted
from services.ingest.forms import (
    FLAT_FIELDS,
    MEDIA_URLENCODED,
    AttachmentTooLarge,
    FieldError,
    FormInvalid,
    UnsupportedMediaType,
    build_submission,
    media_type,
    parse_body,
    parse_urlencoded,
)
from services.ingest.forms.csrf import new_nonce
from services.ingest.forms.page import (
    REPORT_PATH,
    render_confirmation,
    render_form,
)
from services.ingest.idempotency import KeyReused
from services.ingest.intake import accept
from services.ingest.submission import SignalSubmission

router = APIRouter()
log = logging.getLogger(__name__)

PAGE_SOURCE: Final = "report-page"
# What the page's own form sends besides csrf_token, nonce and lang. The reporter is the
# signed-in employee, never a posted field.
PAGE_FIELDS: Final = (
    "text",
    "hint",
    "customer_name",
    "customer_email",
    "customer_phone",
    "consent",
    "callback_window",
    "reporter_department",
)
FORM_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


# ---------------------------------------------------------------------------- the page


def _email_or_none(user: str) -> str | None:
    """The signed-in name as the reporter's e-mail when it is one (SSO proxies send it)."""
    if "@" not in user:
        return None
    try:
        return str(Reporter(email=user).email)
    except ValidationError:
        return None


@router.get(REPORT_PATH, response_class=HTMLResponse, include_in_schema=False)
async def report_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    language = page_language(request)
    employee = signed_in(request, settings, language)
    if isinstance(employee, HTMLResponse):
        return employee
    token, nonce = fresh_form(request, employee.user)
    page = render_form(language=language, user=employee.user, csrf_token=token, nonce=nonce)
    return html_page(page)


@router.post(REPORT_PATH, response_class=HTMLResponse, include_in_schema=False)
async def submit_report(
    request: Request,
    settings: SettingsDep,
    publisher: PublisherDep,
    idempotency: IdempotencyDep,
) -> HTMLResponse:
    language = page_language(request)
    employee = signed_in(request, settings, language)
    if isinstance(employee, HTMLResponse):
        return employee
    if media_type(request.headers.get("content-type")) != MEDIA_URLENCODED:
        return refusal(language, 415, "unsupported", fresh_link=True)
    try:
        posted = parse_urlencoded(await request.body())
    except FormInvalid:
        return refusal(language, 400, "unsupported", fresh_link=True)
    language = page_language(request, posted)

    signer = csrf_signer(request)
    nonce = posted.get("nonce", "")
    if not signer.verify(posted.get("csrf_token"), employee.user, nonce):
        log.info("report page: CSRF token refused")
        return refusal(language, 403, "csrf", fresh_link=True)

    values = {name: posted.get(name, "") for name in PAGE_FIELDS}

    def again(status: int, nonce: str, **kwargs: Any) -> HTMLResponse:
        """The form once more, with what was typed and a fresh token."""
        page = render_form(
            language=language,
            user=employee.user,
            csrf_token=signer.issue(employee.user, nonce),
            nonce=nonce,
            values=values,
            **kwargs,
        )
        headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
        return html_page(page, status, headers)

    submitted: dict[str, str | None] = {
        **values,
        "reporter_id": employee.user,
        "reporter_email": _email_or_none(employee.user),
        "language": language,  # a hint for the classifier's language detection
    }
    try:
        submission = build_submission(submitted)
    except FormInvalid as exc:
        log.info("report page: invalid form", extra=log_fields(fields=",".join(exc.fields)))
        errors: dict[str, str] = {}
        for error in exc.errors:
            errors.setdefault(error.field, error.code)
        return again(422, nonce, errors=errors)
    try:
        accepted = await accept(
            submission,
            source=PAGE_SOURCE,
            publisher=publisher,
            idempotency=idempotency,
            idempotency_key=nonce,  # a double-submitted form is one signal
            fingerprint=_fingerprint(submission),
        )
    except KeyReused:
        # Sent before with other content (back button, edit, send): a new form, new key.
        return again(409, new_nonce(), notice="error_reused")
    except BrokerUnavailable:
        # Nothing was accepted. The same nonce keeps the retry idempotent.
        return again(
            503,
            nonce,
            notice="unavailable_body",
            notice_title="unavailable_title",
            notice_kind="warn",
        )
    return html_page(render_confirmation(language=language, signal_id=accepted.signal_id))


def _fingerprint(submission: SignalSubmission) -> bytes:
    """The request's identity for Idempotency-Key reuse: its content, not its encoding
    (a multipart boundary differs on every retry)."""
    return submission.model_dump_json().encode()


# ---------------------------------------------------------------------- form tools

_FORM_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["text"],
    "properties": {name: {"type": "string"} for name in FLAT_FIELDS},
}
_MULTIPART_SCHEMA: Final[dict[str, Any]] = {
    **_FORM_SCHEMA,
    "properties": {
        **_FORM_SCHEMA["properties"],
        "attachment": {
            "type": "string",
            "format": "binary",
            "description": "Any file field: only its name, type and size are kept.",
        },
    },
}


def _invalid(errors: list[FieldError]) -> JSONResponse:
    names = ", ".join(dict.fromkeys(e.field for e in errors))
    log.info("form rejected", extra=log_fields(fields=names))
    return problem(
        422,
        "Invalid signal",
        f"invalid field(s): {names}",
        errors=[{"field": e.field, "message": e.message} for e in errors],
    )


@router.post(
    "/v1/forms/{form_id}",
    status_code=202,
    response_model=Accepted,
    responses={401: {}, 413: {}, 415: {}, 422: {}, 503: {}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": _FORM_SCHEMA},
                "multipart/form-data": {"schema": _MULTIPART_SCHEMA},
                "application/json": {"schema": _FORM_SCHEMA},
            },
        }
    },
)
async def submit_form(
    form_id: str,
    request: Request,
    client: ClientDep,
    settings: SettingsDep,
    publisher: PublisherDep,
    idempotency: IdempotencyDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> Accepted | JSONResponse:
    """A form tool's post: url-encoded, multipart (attachments: metadata only) or JSON."""
    if not FORM_ID.fullmatch(form_id):
        return _invalid([FieldError("form_id", "must match [A-Za-z0-9_-]{1,64}")])
    try:
        form = parse_body(
            request.headers.get("content-type"),
            await request.body(),
            max_attachment_bytes=settings.max_attachment_bytes,
        )
        submission = build_submission(
            form.fields,
            attachments=form.attachments,
            metadata={"form_id": form_id, "client": client},
            allow_nested=form.allow_nested,
        )
    except UnsupportedMediaType:
        return problem(
            415,
            "Unsupported media type",
            "send application/x-www-form-urlencoded, multipart/form-data or application/json",
        )
    except AttachmentTooLarge as exc:
        return problem(
            413,
            "Attachment too large",
            f"each attachment may be at most {exc.limit} bytes",
            errors=[{"field": exc.field, "message": f"over {exc.limit} bytes"}],
        )
    except FormInvalid as exc:
        return _invalid(exc.errors)
    try:
        accepted = await accept(
            submission,
            # Scoped by client: two form tools may both post form "contact" with key "1".
            source=f"form:{form_id}:{client}",
            publisher=publisher,
            idempotency=idempotency,
            idempotency_key=idempotency_key,
            fingerprint=_fingerprint(submission),
        )
    except KeyReused as exc:
        raise HTTPException(422, str(exc)) from exc
    return Accepted(signal_id=accepted.signal_id)
