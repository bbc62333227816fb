"""The triage page: GET /triage lists the signals waiting in triage for the operators
(``ANTENNA_OPERATORS``, signed in like the report page); POST /triage is one click on one
of them; POST /triage/case is a same-case correction (from /triage or a status page).
Everyone else gets 403. No JavaScript; a CSRF token like the report form's.

A click publishes, in this order and each acknowledged by the broker (acks=all), the
RoutedSignal to the destination's topic (the connectors deliver it like any routed
signal, exactly once by their ledger) and the Label on signals.labels; only then does the
page say it is done. A broker that does not acknowledge gets a 503 page and the item
stays: the next click writes the same records again (the routed signal first, so that a
label never names a signal that was not sent)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Final, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from schemas import Verdict, topics
from services.common.kafka import BrokerUnavailable
from services.common.logging import fields
from services.ingest import metrics
from services.ingest.api.deps import PublisherDep, SettingsDep
from services.ingest.api.pages import (
    Refused,
    csrf_signer,
    fresh_form,
    html_page,
    is_operator,
    page_language,
    refusal,
    sign_in,
)
from services.ingest.api.problems import RETRY_AFTER_S
from services.ingest.forms import MEDIA_URLENCODED, FormInvalid, media_type, parse_urlencoded
from services.ingest.forms.auth import Employee
from services.ingest.triage import (
    AlreadyDecided,
    ChoiceInvalid,
    TriageBook,
    correction,
    decide,
    read_choice,
    read_correction,
)
from services.ingest.triage_view import (
    CASE_PATH,
    TRIAGE_PATH,
    Banner,
    Form,
    render_refusal,
    render_triage,
)

router = APIRouter()
log = logging.getLogger(__name__)
T = TypeVar("T")

PAGE_SIZE: Final = 50  # waiting signals on one page, oldest first
DUPLICATES_SHOWN: Final = 10


def triage_book(request: Request) -> TriageBook:
    book: TriageBook = request.app.state.triage
    return book


def operator(request: Request, settings: SettingsDep, language: str) -> Employee | HTMLResponse:
    """The signed-in operator, or the page that says why not (403 for employees)."""
    employee = sign_in(request, settings)
    if isinstance(employee, Refused):
        return refusal(language, employee.status, employee.reason, headers=employee.headers)
    if not is_operator(settings, employee):
        return html_page(render_refusal(language=language, name="forbidden"), 403)
    return employee


def _page(request: Request, employee: Employee, language: str, banner: Banner | None = None) -> str:
    book = triage_book(request)
    token, nonce = fresh_form(request, employee.user)
    return render_triage(
        language=language,
        waiting=book.waiting(PAGE_SIZE),
        waiting_count=book.waiting_count,
        dropped=book.dropped,
        max_waiting=book.max_waiting,
        duplicates=book.recent_duplicates(DUPLICATES_SHOWN),
        form=Form(token, nonce, language),
        banner=banner,
    )


def _answer(
    request: Request, employee: Employee, language: str, banner: Banner, status: int = 200
) -> HTMLResponse:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return html_page(_page(request, employee, language, banner), status, headers)


@router.get(TRIAGE_PATH, response_class=HTMLResponse, include_in_schema=False)
async def triage_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    language = page_language(request)
    employee = operator(request, settings, language)
    if isinstance(employee, HTMLResponse):
        return employee
    return html_page(_page(request, employee, language))


async def _posted(
    request: Request, settings: SettingsDep, read: Callable[[Mapping[str, str]], T]
) -> tuple[Employee, T, str] | HTMLResponse:
    """The operator, what the form says (``read``) and its language; or the refusal (not
    an operator, not a form of ours, CSRF)."""
    language = page_language(request)
    employee = operator(request, settings, language)
    if isinstance(employee, HTMLResponse):
        return employee
    if media_type(request.headers.get("content-type")) != MEDIA_URLENCODED:
        return html_page(render_refusal(language=language, name="invalid"), 415)
    try:
        posted = parse_urlencoded(await request.body())
    except FormInvalid:
        return html_page(render_refusal(language=language, name="invalid"), 400)
    language = page_language(request, posted)
    if not csrf_signer(request).verify(
        posted.get("csrf_token"), employee.user, posted.get("nonce", "")
    ):
        log.info("triage page: CSRF token refused")
        return html_page(render_refusal(language=language, name="csrf"), 403)
    try:
        return employee, read(posted), language
    except ChoiceInvalid:
        return html_page(render_refusal(language=language, name="invalid"), 422)


@router.post(TRIAGE_PATH, response_class=HTMLResponse, include_in_schema=False)
async def decide_signal(
    request: Request, settings: SettingsDep, publisher: PublisherDep
) -> HTMLResponse:
    answer = await _posted(request, settings, read_choice)
    if isinstance(answer, HTMLResponse):
        return answer
    employee, choice, language = answer
    book = triage_book(request)
    item = book.report(choice.signal_id)
    earlier = book.label(choice.signal_id)
    if item is None or (earlier is None and not book.is_waiting(choice.signal_id)):
        return _answer(request, employee, language, Banner("warn", "unknown"), 404)
    try:
        decided = decide(item, choice, employee.user, datetime.now(UTC), earlier)
    except AlreadyDecided as exc:
        banner = Banner(
            "warn",
            "already",
            choice.signal_id,
            destination=exc.label.destination,
            label_kind=exc.label.kind.value,
        )
        return _answer(request, employee, language, banner, 409)
    label, routed = decided.label, decided.routed
    try:
        if routed is not None:  # first: a label never names a signal that was not sent
            topic = topics.ROUTED_BY_DESTINATION[routed.destination.name]
            await publisher.publish_record(
                topic, routed.signal.signal_id, routed.model_dump_json().encode()
            )
        await publisher.publish_record(
            topics.LABELS, label.label_id, label.model_dump_json().encode()
        )
    except BrokerUnavailable:
        return _answer(request, employee, language, Banner("warn", "unavailable"), 503)
    book.decided(label, routed)
    if not decided.again:
        metrics.LABELS_RECORDED.labels(label.kind.value).inc()
    log.info(
        "triage decision",
        extra=fields(
            signal_id=label.signal_id,
            kind=label.kind.value,
            destination=label.destination,
            again=decided.again,
        ),
    )
    return _answer(
        request, employee, language, Banner("saved", f"done_{choice.button}", label.signal_id)
    )


@router.post(CASE_PATH, response_class=HTMLResponse, include_in_schema=False)
async def correct_case(
    request: Request, settings: SettingsDep, publisher: PublisherDep
) -> HTMLResponse:
    answer = await _posted(request, settings, read_correction)
    if isinstance(answer, HTMLResponse):
        return answer
    employee, chosen, language = answer
    book = triage_book(request)
    report = book.report(chosen.signal_id)
    if report is None:
        return _answer(request, employee, language, Banner("warn", "unknown"), 404)
    if chosen.verdict is Verdict.not_same_case and (
        report.dedupe.duplicate_of is None or report.dedupe.cluster_id != chosen.other_signal_id
    ):
        return _answer(request, employee, language, Banner("warn", "not_in_case"), 409)
    case = correction(
        chosen,
        report,
        book.report(chosen.other_signal_id),
        employee.user,
        datetime.now(UTC),
    )
    try:
        await publisher.publish_record(
            topics.CASE_CORRECTIONS, case.correction_id, case.model_dump_json().encode()
        )
    except BrokerUnavailable:
        return _answer(request, employee, language, Banner("warn", "unavailable"), 503)
    metrics.CASE_CORRECTIONS.labels(case.verdict.value).inc()
    log.info(
        "case correction",
        extra=fields(
            signal_id=case.signal_id,
            other_signal_id=case.other_signal_id,
            verdict=case.verdict.value,
        ),
    )
    banner = Banner("saved", f"done_{case.verdict.value}", case.signal_id)
    return _answer(request, employee, language, banner)
