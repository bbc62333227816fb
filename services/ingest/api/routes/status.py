"""Where a signal stands: GET /v1/signals/{signal_id} (JSON, API key) and
GET /report/status/{signal_id} (a page for the employee, signed in like the report page,
Dutch or English, no JavaScript).

Both read the app's StatusBook (services.ingest.status), which the status follower fills
from Kafka. An id never seen is a 404: it may still be on its way. Who sees what:

- an employee sees the signals they reported (signed-in name = the reporter's employee id
  or e-mail), never a target system's error text;
- an operator (``ANTENNA_OPERATORS``) sees every signal, with the error text;
- an API client sees the signals posted with its own key (their ``source``), without the
  error text: a key belongs to an integration, not to a person who may read another
  team's records, and ids derived from an Idempotency-Key can be guessed.

Anything else is the same 404 as an unknown id, so that a guess learns nothing."""

from __future__ import annotations

from html import escape
from typing import Annotated, Final
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse
from ulid import ULID

from schemas import DeliveryStatus, OutcomeStatus
from schemas.signal import SignalId
from services.common.outcomes import current_outcome
from services.ingest.api.deps import ClientDep, SettingsDep
from services.ingest.api.pages import (
    fresh_form,
    html_page,
    is_operator,
    page_language,
    signed_in,
)
from services.ingest.api.problems import problem
from services.ingest.forms.page import (
    language_switch,
    layout,
    report_href,
)
from services.ingest.forms.preferences import preferences_href
from services.ingest.status import SignalStatus, StatusBook, Step, status_json, story
from services.ingest.triage_view import Form, render_case_forms

router = APIRouter()

STATUS_PAGE_PATH: Final = "/report/status"
MAX_REASON_CHARS: Final = 200

LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "switch_to": "Nederlands",
        "title": "Status of your report",
        "reference": "Reference",
        "updated": "Last update",
        "refresh": "Look again",
        "another": "Report another",
        "preferences": "Choose what you hear back",
        "unknown_title": "Not known yet",
        "unknown_body": (
            "There is no news about this reference yet. If you just sent it, it is most "
            "likely still on its way: look again in a minute."
        ),
        "invalid_title": "Not a reference",
        "invalid_body": "This is not a valid reference. Check the link you followed.",
        "received": "Received, being processed",
        "received_body": "Your report arrived and is being sorted out.",
        "routed": "Being sent to {destination}",
        "routed_body": "It is on its way; this page shows the ticket as soon as there is one.",
        "waiting": "Waiting for {system}, which is not reachable",
        "waiting_body": (
            "Your report keeps its place in line and goes out as soon as {system} answers "
            "again. You do not need to do anything."
        ),
        "delivered": "Sent to {destination}, {noun} {external_id}",
        "delivered_plain": "Sent to {destination}",
        "open_external": "Open {noun} {external_id}",
        "triage": "Waiting for a colleague to look at it (triage)",
        "triage_body": "It was not clear where it belongs, so a colleague decides.",
        "duplicate": "Already reported by a colleague — added to that case",
        "duplicate_count": "Reported by {count} people so far.",
        "duplicate_note": "Added as a note to {noun} {external_id}.",
        "parked": "Set aside, an operator has been told",
        "parked_body": (
            "It could not be passed on to {system}. An operator has been told and can send "
            "it again."
        ),
        "reason": "Error from {system} (shown to operators only)",
        "key_reused": (
            "This reference was also used for a different report, which was not passed on. "
            "If you sent that one, please report it again."
        ),
        "system_servicedesk": "the service desk",
        "system_crm": "the CRM",
        "system_other": "the target system",
        "the_servicedesk": "the service desk",
        "the_crm": "sales",
        "the_triage": "triage",
        "noun_servicedesk": "ticket",
        "noun_crm": "lead",
        "noun_other": "reference",
        "story": "What happened",
        "step_received": "Received",
        "step_routed": "Sent to {destination} by rule “{rule}”",
        "step_triage": "Put in triage: a colleague decides where it goes",
        "step_joined_case": "Added to a case a colleague had reported: report number {ordinal}",
        "step_recorded": "{Noun} {record} opened at {destination}",
        "step_recorded_plain": "Recorded at {destination}",
        "step_noted": "Added as a note to {noun} {record}",
        "step_waiting": "Waiting for {system}, which was not reachable",
        "step_parked": "Set aside, an operator has been told",
        "step_colleague": "A colleague reported the same (report number {ordinal})",
        "step_opened": "{Noun} {record} opened",
        "step_in_progress": "{Noun} {record} in progress",
        "step_resolved": "{Noun} {record} resolved",
        "step_closed": "{Noun} {record} closed",
        "step_won": "{Noun} {record} won",
        "step_lost": "{Noun} {record} not won",
        "outcome_in_progress": "Being worked on: {noun} {record}",
        "outcome_resolved": "Resolved: {noun} {record}",
        "outcome_closed": "Closed: {noun} {record}",
        "outcome_won": "Won: {noun} {record}",
        "outcome_lost": "Not won: {noun} {record}",
    },
    "nl": {
        "switch_to": "English",
        "title": "Status van je melding",
        "reference": "Kenmerk",
        "updated": "Laatst bijgewerkt",
        "refresh": "Opnieuw bekijken",
        "another": "Nog een melding doen",
        "preferences": "Kies wat je terughoort",
        "unknown_title": "Nog niet bekend",
        "unknown_body": (
            "Er is nog geen nieuws over dit kenmerk. Heb je de melding net verstuurd, dan "
            "is hij waarschijnlijk nog onderweg: kijk over een minuutje opnieuw."
        ),
        "invalid_title": "Geen kenmerk",
        "invalid_body": "Dit is geen geldig kenmerk. Controleer de link die je volgde.",
        "received": "Ontvangen, wordt verwerkt",
        "received_body": "Je melding is binnen en wordt uitgezocht.",
        "routed": "Wordt doorgestuurd naar {destination}",
        "routed_body": "Hij is onderweg; deze pagina toont het ticket zodra dat er is.",
        "waiting": "Wacht op {system}, die niet bereikbaar is",
        "waiting_body": (
            "Je melding houdt haar plek in de rij en gaat door zodra {system} weer "
            "antwoordt. Je hoeft niets te doen."
        ),
        "delivered": "Doorgestuurd naar {destination}, {noun} {external_id}",
        "delivered_plain": "Doorgestuurd naar {destination}",
        "open_external": "Open {noun} {external_id}",
        "triage": "Wacht tot een collega ernaar kijkt (triage)",
        "triage_body": "Het was niet duidelijk waar hij hoort, dus een collega beslist.",
        "duplicate": "Al gemeld door een collega — toegevoegd aan die melding",
        "duplicate_count": "Inmiddels door {count} mensen gemeld.",
        "duplicate_note": "Als notitie toegevoegd aan {noun} {external_id}.",
        "parked": "Apart gezet, een beheerder is ingelicht",
        "parked_body": (
            "Hij kon niet worden doorgestuurd naar {system}. Een beheerder is ingelicht en "
            "kan hem opnieuw versturen."
        ),
        "reason": "Foutmelding van {system} (alleen voor beheerders)",
        "key_reused": (
            "Dit kenmerk is ook gebruikt voor een andere melding, die niet is doorgestuurd. "
            "Heb jij die verstuurd, meld hem dan opnieuw."
        ),
        "system_servicedesk": "de servicedesk",
        "system_crm": "het CRM",
        "system_other": "het doelsysteem",
        "the_servicedesk": "de servicedesk",
        "the_crm": "sales",
        "the_triage": "triage",
        "noun_servicedesk": "ticket",
        "noun_crm": "lead",
        "noun_other": "kenmerk",
        "story": "Wat er gebeurde",
        "step_received": "Ontvangen",
        "step_routed": "Doorgestuurd naar {destination} door regel “{rule}”",
        "step_triage": "In triage gezet: een collega beslist waar hij heen gaat",
        "step_joined_case": "Toegevoegd aan de melding van een collega: melding nummer {ordinal}",
        "step_recorded": "{Noun} {record} aangemaakt bij {destination}",
        "step_recorded_plain": "Vastgelegd bij {destination}",
        "step_noted": "Als notitie toegevoegd aan {noun} {record}",
        "step_waiting": "Wachtte op {system}, die niet bereikbaar was",
        "step_parked": "Apart gezet, een beheerder is ingelicht",
        "step_colleague": "Een collega meldde hetzelfde (melding nummer {ordinal})",
        "step_opened": "{Noun} {record} geopend",
        "step_in_progress": "{Noun} {record} in behandeling",
        "step_resolved": "{Noun} {record} opgelost",
        "step_closed": "{Noun} {record} gesloten",
        "step_won": "{Noun} {record} gewonnen",
        "step_lost": "{Noun} {record} niet gewonnen",
        "outcome_in_progress": "In behandeling: {noun} {record}",
        "outcome_resolved": "Opgelost: {noun} {record}",
        "outcome_closed": "Gesloten: {noun} {record}",
        "outcome_won": "Gewonnen: {noun} {record}",
        "outcome_lost": "Niet gewonnen: {noun} {record}",
    },
}


def get_status_book(request: Request) -> StatusBook:
    book: StatusBook = request.app.state.status_book
    return book


def _is_ulid(value: str) -> bool:
    try:
        ULID.from_str(value)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------ JSON


@router.get(
    "/v1/signals/{signal_id}",
    responses={401: {}, 404: {}, 422: {}},
    summary="Where a signal stands",
)
async def signal_status(
    request: Request,
    client: ClientDep,
    signal_id: Annotated[SignalId, Path()],
) -> JSONResponse:
    """received -> routed | triage | duplicate -> delivered | failed | dead; ``outcome``
    (the case's record at its destination: opened ... resolved, won); ``story``: each step
    with its time."""
    book = get_status_book(request)
    status = book.get(signal_id.upper())
    if status is None or client not in status.clients:
        return problem(404, "Not found", "unknown signal (it may still be on its way)")
    case = book.get(status.duplicate_of) if status.duplicate_of else None
    return JSONResponse(
        status_json(status.without_error_text(), case.without_error_text() if case else None)
    )


# ------------------------------------------------------------------------------ page


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def status_href(signal_id: str, language: str) -> str:
    return f"{STATUS_PAGE_PATH}/{quote(signal_id, safe='')}?lang={quote(language)}"


def _layout(language: str, signal_id: str, title: str, content: str) -> str:
    switch = language_switch(language, lambda other: status_href(signal_id, other))
    return layout(language, title, content, switch)


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links: a target system's answer must not become a javascript: link."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def _short(reason: str | None) -> str | None:
    if not reason:
        return None
    reason = " ".join(reason.split())
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"


def describe(
    status: SignalStatus, language: str, original: SignalStatus | None = None
) -> tuple[str, list[str], str]:
    """(headline, paragraphs, css class) in plain words; ``original`` is the first report
    of a duplicate's case, when known. Plain text: the caller escapes. A target system's
    error text is shown only when ``status`` still carries it (operators)."""
    t = LABELS.get(language, LABELS["en"])
    name = status.destination or ""
    destination = t.get(f"the_{name}", name)
    system = t.get(f"system_{name}", t["system_other"])
    noun = t.get(f"noun_{name}", t["noun_other"])
    delivery = status.delivery
    lines: list[str] = [t["key_reused"]] if status.key_reused else []

    if status.routing == "duplicate":
        if status.reporters_count and status.reporters_count > 1:
            lines.append(t["duplicate_count"].format(count=status.reporters_count))
        # The case's own ticket when known, else what the note was filed under.
        candidates = (original.delivery if original else None, delivery)
        case = next((d for d in candidates if d and d.status is DeliveryStatus.delivered), None)
        if case is not None and case.external_id:
            lines.append(t["duplicate_note"].format(noun=noun, external_id=case.external_id))
        return t["duplicate"], lines, "done"

    current = current_outcome(status.outcomes)
    if current is not None and current.status is not OutcomeStatus.opened:
        headline = t[f"outcome_{current.status.value}"].format(noun=noun, record=current.record_id)
        return headline, lines, "done"
    if delivery is not None and delivery.status is DeliveryStatus.delivered:
        if delivery.external_id:
            headline = t["delivered"].format(
                destination=destination, noun=noun, external_id=delivery.external_id
            )
        else:
            headline = t["delivered_plain"].format(destination=destination)
        return headline, lines, "done"
    if delivery is not None and delivery.status in (DeliveryStatus.failed, DeliveryStatus.dead):
        lines.append(t["parked_body"].format(system=system))
        reason = _short(delivery.error)
        if reason:
            lines.append(f"{t['reason'].format(system=system)}: {reason}")
        return t["parked"], lines, "error"
    if delivery is not None and delivery.status is DeliveryStatus.retrying:
        lines.append(t["waiting_body"].format(system=system))
        return t["waiting"].format(system=system), lines, "warn"
    if status.routing == "triage":
        return t["triage"], [*lines, t["triage_body"]], ""
    if status.routing == "routed":
        lines.append(t["routed_body"])
        return t["routed"].format(destination=destination), lines, ""
    return t["received"], [*lines, t["received_body"]], ""


TIME_FORMAT: Final = "%Y-%m-%d %H:%M UTC"


def step_text(step: Step, status: SignalStatus, language: str) -> str:
    """One step of the story in plain words (the caller escapes)."""
    t = LABELS.get(language, LABELS["en"])
    name = step.destination or status.destination or ""
    noun = t.get(f"noun_{name}", t["noun_other"])
    words = {
        "destination": t.get(f"the_{name}", name),
        "system": t.get(f"system_{name}", t["system_other"]),
        "rule": step.rule_id or "",
        "ordinal": step.ordinal or "",
        "noun": noun,
        "Noun": noun[:1].upper() + noun[1:],
        "record": step.record_id or "",
    }
    if step.kind == "outcome":
        return t[f"step_{step.status}"].format(**words).strip()
    if step.kind == "recorded" and not step.record_id:
        return t["step_recorded_plain"].format(**words)
    return t[f"step_{step.kind}"].format(**words).strip()


def render_story(steps: list[Step], status: SignalStatus, language: str) -> str:
    if not steps:
        return ""
    t = LABELS.get(language, LABELS["en"])
    items = "".join(
        f'<li><time datetime="{_e(step.at.isoformat())}">{_e(step.at.strftime(TIME_FORMAT))}'
        f"</time>{_e(step_text(step, status, language))}</li>"
        for step in steps
    )
    return f'<h2>{_e(t["story"])}</h2>\n<ol class="story" id="story">{items}</ol>'


def render_status(
    *,
    language: str,
    status: SignalStatus,
    original: SignalStatus | None = None,
    operator_forms: str = "",
) -> str:
    """``operator_forms``: the same-case corrections an operator may make (HTML)."""
    t = LABELS.get(language, LABELS["en"])
    headline, lines, kind = describe(status, language, original)
    paragraphs = "\n".join(f"<p>{_e(line)}</p>" for line in lines)
    delivery = status.delivery
    link = ""
    url = _safe_url(delivery.external_url) if delivery else None
    if delivery is not None and url and delivery.status is DeliveryStatus.delivered:
        noun = t.get(f"noun_{status.destination}", t["noun_other"])
        text = t["open_external"].format(noun=noun, external_id=delivery.external_id or "")
        link = f'<a class="link" href="{_e(url)}" rel="noreferrer">{_e(text.strip())}</a>'
    heading_class = f' class="{kind}"' if kind == "done" else ""
    banner = (
        f'<div class="banner {kind}" role="status"><strong>{_e(headline)}</strong></div>'
        if kind in ("error", "warn")
        else f'<h2{heading_class} id="state">{_e(headline)}</h2>'
    )
    updated = status.updated_at.strftime(TIME_FORMAT)
    content = f"""<h1>{_e(t["title"])}</h1>
<p class="ref">{_e(t["reference"])}<code id="signal-id">{_e(status.signal_id)}</code></p>
{banner}
{paragraphs}
{link}
{render_story(story(status, original), status, language)}
{operator_forms}
<p class="help">{_e(t["updated"])}: {_e(updated)}</p>
<a class="button" href="{_e(status_href(status.signal_id, language))}">{_e(t["refresh"])}</a>
<a class="link" href="{_e(report_href(language))}">{_e(t["another"])}</a>
<a class="link" href="{_e(preferences_href(language))}">{_e(t["preferences"])}</a>"""
    return _layout(language, status.signal_id, t["title"], content)


def render_unknown(*, language: str, signal_id: str, valid: bool) -> str:
    t = LABELS.get(language, LABELS["en"])
    title = t["unknown_title"] if valid else t["invalid_title"]
    body = t["unknown_body"] if valid else t["invalid_body"]
    refresh = (
        f'<a class="button" href="{_e(status_href(signal_id, language))}">{_e(t["refresh"])}</a>'
        if valid
        else ""
    )
    reference = (
        f'<p class="ref">{_e(t["reference"])}<code id="signal-id">{_e(signal_id)}</code></p>'
        if valid
        else ""
    )
    content = f"""<h1>{_e(title)}</h1>
{reference}
<p>{_e(body)}</p>
{refresh}
<a class="link" href="{_e(report_href(language))}">{_e(t["another"])}</a>"""
    return _layout(language, signal_id if valid else "", title, content)


@router.get(STATUS_PAGE_PATH + "/{signal_id}", response_class=HTMLResponse, include_in_schema=False)
async def status_page(request: Request, signal_id: str, settings: SettingsDep) -> HTMLResponse:
    language = page_language(request)
    employee = signed_in(request, settings, language)
    if isinstance(employee, HTMLResponse):
        return employee
    if not _is_ulid(signal_id):
        return html_page(render_unknown(language=language, signal_id=signal_id, valid=False), 422)
    signal_id = signal_id.upper()
    book = get_status_book(request)
    status = book.get(signal_id)
    user = employee.user.strip().lower()
    operator = is_operator(settings, employee)
    if status is None or not (operator or user in status.reporters):
        return html_page(render_unknown(language=language, signal_id=signal_id, valid=True), 404)
    forms = ""
    if operator:
        token, nonce = fresh_form(request, employee.user)
        form = Form(token, nonce, language)
        forms = render_case_forms(signal_id=signal_id, duplicate_of=status.duplicate_of, form=form)
    else:
        status = status.without_error_text()
    original = book.get(status.duplicate_of) if status.duplicate_of else None
    page = render_status(language=language, status=status, original=original, operator_forms=forms)
    return html_page(page)
