"""The triage page (/triage) as HTML, in English and Dutch, and the operator's same-case
forms on the status page. No JavaScript: one form per signal, one button per choice.
Every value that reaches the HTML is escaped here. Pure, like page.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final
from urllib.parse import quote

from schemas import Category, RoutedSignal, Urgency, Verdict
from services.ingest.forms.i18n import DEFAULT
from services.ingest.forms.page import language_switch, layout
from services.ingest.insight_view import names

TRIAGE_PATH: Final = "/triage"
CASE_PATH: Final = "/triage/case"
STATUS_PATH: Final = "/report/status"
MAX_SHOWN_CHARS: Final = 4000  # of a report's text on the page; the label keeps it whole

LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "title": "Triage",
        "intro": (
            "Signals the classifier could not place. One click sends a signal on and "
            "teaches the classifier: the choice becomes a label for the next training."
        ),
        "waiting": "{count} waiting, oldest first.",
        "waiting_more": "{count} waiting; the oldest {shown} are shown.",
        "none_waiting": "Nothing waiting in triage.",
        "dropped": (
            "{count} older signals no longer fit this view (more than {limit} waiting); "
            "they are still on signals.triage."
        ),
        "guess": "The classifier: {kind} ({confidence}%), {category}, urgency {urgency}",
        "why": "Why",
        "category": "Category",
        "urgency": "Urgency",
        "choice_servicedesk": "Complaint → service desk",
        "choice_crm": "Opportunity → CRM",
        "choice_none": "Other → no destination",
        "status": "Status",
        "duplicates": "Recent duplicates",
        "duplicates_help": (
            "Dedupe joined these reports to an earlier case. If one is about something "
            "else, it becomes a case of its own and goes where the rules send it."
        ),
        "this_report": "This report",
        "joined_case": "Joined the case of",
        "not_known": "(no longer in this view)",
        "not_same": "Not the same case",
        "same_case": "Same case as another signal",
        "same_case_help": (
            "The reference of the other signal. This report stays where it is; later "
            "reports like it join the other's case."
        ),
        "other_signal": "Other signal's reference",
        "same": "Same case",
        "corrections": "Dedupe",
        "done_servicedesk": "Sent to the service desk and recorded as a complaint.",
        "done_crm": "Sent to the CRM and recorded as an opportunity.",
        "done_none": "Recorded as other: it goes nowhere.",
        "done_not_same_case": (
            "Recorded: not the same case. The report becomes a case of its own in a moment."
        ),
        "done_same_case": "Recorded: the same case. Later reports like it join that case.",
        "already_title": "Already decided",
        "already_body": (
            "This signal was already sent to {destination} as {kind}; that decision stands."
        ),
        "unknown_title": "Not in this view",
        "unknown_body": (
            "This signal is not known here (any more). It may have been decided already, "
            "or be too old for this view."
        ),
        "not_in_case_title": "Not in that case",
        "not_in_case_body": "This report is not a duplicate in that case (any more).",
        "unavailable_title": "Not done, please try again",
        "unavailable_body": "Nothing was changed: press the button again in a moment.",
        "forbidden_title": "For operators only",
        "forbidden_body": (
            "Triage is for the people who route signals (ANTENNA_OPERATORS). Ask your "
            "administrator if you need it."
        ),
        "invalid_title": "This form could not be read",
        "invalid_body": "Open the triage page and use its buttons.",
        "csrf_title": "This form has expired",
        "csrf_body": "Open the triage page again and press the button there.",
        "open_status": "Its status",
        "kind_complaint": "a complaint",
        "kind_opportunity": "an opportunity",
        "kind_other": "other",
        "the_servicedesk": "the service desk",
        "the_crm": "the CRM",
        "urgency_low": "low",
        "urgency_normal": "normal",
        "urgency_high": "high",
    },
    "nl": {
        "title": "Triage",
        "intro": (
            "Signalen die de classifier niet kon plaatsen. Met één klik stuur je een "
            "signaal door en leer je de classifier: je keuze wordt een label voor de "
            "volgende training."
        ),
        "waiting": "{count} wachtend, oudste eerst.",
        "waiting_more": "{count} wachtend; de oudste {shown} staan hier.",
        "none_waiting": "Er wacht niets in triage.",
        "dropped": (
            "{count} oudere signalen passen niet meer in dit overzicht (meer dan {limit} "
            "wachtend); ze staan nog op signals.triage."
        ),
        "guess": "De classifier: {kind} ({confidence}%), {category}, urgentie {urgency}",
        "why": "Waarom",
        "category": "Categorie",
        "urgency": "Urgentie",
        "choice_servicedesk": "Klacht → servicedesk",
        "choice_crm": "Kans → CRM",
        "choice_none": "Overig → nergens heen",
        "status": "Status",
        "duplicates": "Recente dubbele meldingen",
        "duplicates_help": (
            "Dedupe voegde deze meldingen bij een eerdere melding. Gaat er een over iets "
            "anders, dan wordt hij een eigen melding en gaat hij waar de regels hem "
            "heen sturen."
        ),
        "this_report": "Deze melding",
        "joined_case": "Toegevoegd aan de melding van",
        "not_known": "(niet meer in dit overzicht)",
        "not_same": "Niet dezelfde melding",
        "same_case": "Dezelfde melding als een ander signaal",
        "same_case_help": (
            "Het kenmerk van het andere signaal. Deze melding blijft waar hij is; latere "
            "meldingen die erop lijken, gaan naar de melding van het andere signaal."
        ),
        "other_signal": "Kenmerk van het andere signaal",
        "same": "Dezelfde melding",
        "corrections": "Dedupe",
        "done_servicedesk": "Doorgestuurd naar de servicedesk en vastgelegd als klacht.",
        "done_crm": "Doorgestuurd naar het CRM en vastgelegd als kans.",
        "done_none": "Vastgelegd als overig: hij gaat nergens heen.",
        "done_not_same_case": (
            "Vastgelegd: niet dezelfde melding. De melding wordt zo een eigen melding."
        ),
        "done_same_case": (
            "Vastgelegd: dezelfde melding. Latere meldingen die erop lijken, gaan daarheen."
        ),
        "already_title": "Al beslist",
        "already_body": (
            "Dit signaal is al als {kind} naar {destination} gestuurd; die beslissing blijft staan."
        ),
        "unknown_title": "Niet in dit overzicht",
        "unknown_body": (
            "Dit signaal is hier niet (meer) bekend. Misschien is er al over beslist, of "
            "is het te oud voor dit overzicht."
        ),
        "not_in_case_title": "Niet in die melding",
        "not_in_case_body": "Deze melding is (niet meer) toegevoegd aan die melding.",
        "unavailable_title": "Niet gelukt, probeer het opnieuw",
        "unavailable_body": "Er is niets veranderd: druk zo nog eens op de knop.",
        "forbidden_title": "Alleen voor beheerders",
        "forbidden_body": (
            "Triage is voor wie signalen doorstuurt (ANTENNA_OPERATORS). Vraag je "
            "beheerder als je erbij moet."
        ),
        "invalid_title": "Dit formulier kon niet worden gelezen",
        "invalid_body": "Open de triagepagina en gebruik de knoppen daar.",
        "csrf_title": "Dit formulier is verlopen",
        "csrf_body": "Open de triagepagina opnieuw en druk daar op de knop.",
        "open_status": "De status",
        "kind_complaint": "klacht",
        "kind_opportunity": "kans",
        "kind_other": "overig",
        "the_servicedesk": "de servicedesk",
        "the_crm": "het CRM",
        "urgency_low": "laag",
        "urgency_normal": "normaal",
        "urgency_high": "hoog",
    },
}
TIME_FORMAT: Final = "%Y-%m-%d %H:%M UTC"


def words(language: str) -> dict[str, str]:
    return LABELS.get(language, LABELS[DEFAULT])


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def triage_href(language: str) -> str:
    return f"{TRIAGE_PATH}?lang={quote(language)}"


def _status_href(signal_id: str, language: str) -> str:
    return f"{STATUS_PATH}/{quote(signal_id, safe='')}?lang={quote(language)}"


@dataclass(frozen=True)
class Form:
    """What every form on the page carries: a CSRF token for the operator, its nonce."""

    csrf_token: str
    nonce: str
    language: str

    def hidden(self, **fields: str) -> str:
        values = {
            "csrf_token": self.csrf_token,
            "nonce": self.nonce,
            "lang": self.language,
            **fields,
        }
        return "".join(
            f'<input type="hidden" name="{_e(name)}" value="{_e(value)}">'
            for name, value in values.items()
        )


@dataclass(frozen=True)
class Banner:
    """A line above the list: ``kind`` saved, warn or error; ``key`` names the words."""

    kind: str
    key: str
    signal_id: str | None = None
    destination: str | None = None
    label_kind: str | None = None


def _shown_text(routed: RoutedSignal) -> str:
    signal = routed.signal
    text = f"{signal.subject}\n\n{signal.text}" if signal.subject else signal.text
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1] + "…"


def _options(values: Sequence[str], chosen: str, label: dict[str, str]) -> str:
    return "".join(
        f'<option value="{_e(value)}"{" selected" if value == chosen else ""}>'
        f"{_e(label.get(value, value))}</option>"
        for value in values
    )


def _meta(routed: RoutedSignal, language: str) -> str:
    signal = routed.signal
    t, n = words(language), names(language)
    return (
        f'<p class="meta"><time datetime="{_e(signal.received_at.isoformat())}">'
        f"{_e(signal.received_at.strftime(TIME_FORMAT))}</time> · "
        f"{_e(n.get(signal.channel.value, signal.channel.value))} · "
        f'<a href="{_e(_status_href(signal.signal_id, language))}">{_e(t["status"])}: '
        f"<code>{_e(signal.signal_id)}</code></a></p>"
    )


def _text(routed: RoutedSignal) -> str:
    spoken = routed.classification.language or routed.signal.language or ""
    lang = f' lang="{_e(spoken)}"' if spoken in ("nl", "en") else ""
    return f'<blockquote class="text"{lang}>{_e(_shown_text(routed))}</blockquote>'


def render_item(routed: RoutedSignal, form: Form) -> str:
    """One waiting signal: its text, the classifier's guess and reasons, the buttons."""
    language = form.language
    t, n = words(language), names(language)
    guess = routed.classification
    signal_id = routed.signal.signal_id
    urgencies = {u.value: t[f"urgency_{u.value}"] for u in Urgency}
    reasons = "".join(f"<li>{_e(reason)}</li>" for reason in guess.reasons)
    why = (
        f'<details><summary>{_e(t["why"])}</summary><ul class="reasons">{reasons}</ul></details>'
        if reasons
        else ""
    )
    line = t["guess"].format(
        kind=t[f"kind_{guess.kind.value}"],
        confidence=round(guess.confidence * 100),
        category=n.get(guess.category.value, guess.category.value),
        urgency=urgencies[guess.urgency.value],
    )
    buttons = "".join(
        f'<button type="submit" name="choice" value="{choice}">{_e(t[f"choice_{choice}"])}</button>'
        for choice in ("servicedesk", "crm", "none")
    )
    categories = [c.value for c in Category]
    return f"""<article class="item" id="item-{_e(signal_id)}">
{_meta(routed, language)}
{_text(routed)}
<p class="guess">{_e(line)}</p>
{why}
<form method="post" action="{TRIAGE_PATH}" accept-charset="utf-8">
{form.hidden(signal_id=signal_id)}
<div class="pair">
<div><label for="category-{_e(signal_id)}">{_e(t["category"])}</label>
<select id="category-{_e(signal_id)}" name="category">\
{_options(categories, guess.category.value, n)}</select></div>
<div><label for="urgency-{_e(signal_id)}">{_e(t["urgency"])}</label>
<select id="urgency-{_e(signal_id)}" name="urgency">\
{_options(list(urgencies), guess.urgency.value, urgencies)}</select></div>
</div>
<div class="choices">{buttons}</div>
</form>
</article>"""


def render_duplicate(report: RoutedSignal, case: RoutedSignal | None, form: Form) -> str:
    """A colleague's report that dedupe joined to a case, beside the case's first report,
    with the "not the same case" button."""
    t = words(form.language)
    case_id = report.dedupe.cluster_id
    first = (
        _text(case)
        if case is not None
        else f'<p class="meta"><code>{_e(case_id)}</code> {_e(t["not_known"])}</p>'
    )
    return f"""<article class="item" id="duplicate-{_e(report.signal.signal_id)}">
{_meta(report, form.language)}
<p class="who">{_e(t["this_report"])}</p>
{_text(report)}
<p class="who">{_e(t["joined_case"])} <code>{_e(case_id)}</code></p>
{first}
{not_same_form(report.signal.signal_id, case_id, form)}
</article>"""


def not_same_form(signal_id: str, case_id: str, form: Form) -> str:
    t = words(form.language)
    hidden = form.hidden(
        signal_id=signal_id, other_signal_id=case_id, verdict=Verdict.not_same_case.value
    )
    return (
        f'<form method="post" action="{CASE_PATH}" accept-charset="utf-8">{hidden}'
        f'<button type="submit" class="secondary">{_e(t["not_same"])}</button></form>'
    )


def same_case_form(signal_id: str, form: Form) -> str:
    t = words(form.language)
    hidden = form.hidden(signal_id=signal_id, verdict=Verdict.same_case.value)
    return f"""<form method="post" action="{CASE_PATH}" accept-charset="utf-8">{hidden}
<div class="field"><label for="other_signal_id">{_e(t["other_signal"])}</label>
<p class="help">{_e(t["same_case_help"])}</p>
<input type="text" id="other_signal_id" name="other_signal_id" maxlength="26" \
autocomplete="off" spellcheck="false" pattern="[0-9A-Za-z]{{26}}" required></div>
<button type="submit" class="secondary">{_e(t["same"])}</button></form>"""


def render_case_forms(*, signal_id: str, duplicate_of: str | None, form: Form) -> str:
    """For an operator on a signal's status page: "not the same case" when it joined a
    case, and "same case as" another signal."""
    t = words(form.language)
    split = not_same_form(signal_id, duplicate_of, form) if duplicate_of else ""
    return f"""<h2>{_e(t["corrections"])}</h2>
{split}
<h3>{_e(t["same_case"])}</h3>
{same_case_form(signal_id, form)}"""


def _banner(banner: Banner | None, language: str) -> str:
    if banner is None:
        return ""
    t = words(language)
    if banner.kind == "saved":
        link = (
            f' <a href="{_e(_status_href(banner.signal_id, language))}">{_e(t["open_status"])}</a>'
            if banner.signal_id
            else ""
        )
        return f'<div class="banner saved" role="status">{_e(t[banner.key])}{link}</div>'
    body = t[f"{banner.key}_body"].format(
        destination=t.get(f"the_{banner.destination}", banner.destination or ""),
        kind=t.get(f"kind_{banner.label_kind}", banner.label_kind or ""),
    )
    return (
        f'<div class="banner {_e(banner.kind)}" role="alert"><strong>'
        f"{_e(t[f'{banner.key}_title'])}</strong><br>{_e(body)}</div>"
    )


def render_triage(
    *,
    language: str,
    waiting: Sequence[RoutedSignal],
    waiting_count: int,
    dropped: int,
    max_waiting: int,
    duplicates: Sequence[tuple[RoutedSignal, RoutedSignal | None]],
    form: Form,
    banner: Banner | None = None,
) -> str:
    t = words(language)
    if not waiting_count:
        count = t["none_waiting"]
    elif waiting_count > len(waiting):
        count = t["waiting_more"].format(count=waiting_count, shown=len(waiting))
    else:
        count = t["waiting"].format(count=waiting_count)
    dropped_line = (
        f'<div class="banner warn" role="status">'
        f"{_e(t['dropped'].format(count=dropped, limit=max_waiting))}</div>"
        if dropped
        else ""
    )
    items = "\n".join(render_item(routed, form) for routed in waiting)
    recent = ""
    if duplicates:
        recent = (
            f'<h2>{_e(t["duplicates"])}</h2>\n<p class="help">{_e(t["duplicates_help"])}</p>\n'
            + "\n".join(render_duplicate(report, case, form) for report, case in duplicates)
        )
    content = f"""<h1>{_e(t["title"])}</h1>
<p class="intro">{_e(t["intro"])}</p>
{_banner(banner, language)}
{dropped_line}
<p class="count" id="waiting">{_e(count)}</p>
{items}
{recent}"""
    return layout(language, t["title"], content, language_switch(language, triage_href))


def render_refusal(*, language: str, name: str) -> str:
    """A short page: forbidden, invalid, csrf, unknown, already, unavailable."""
    t = words(language)
    content = (
        f"<h1>{_e(t[f'{name}_title'])}</h1>\n<p>{_e(t[f'{name}_body'])}</p>\n"
        f'<a class="button" href="{_e(triage_href(language))}">{_e(t["title"])}</a>'
    )
    return layout(language, t[f"{name}_title"], content, language_switch(language, triage_href))
