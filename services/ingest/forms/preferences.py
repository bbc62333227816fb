"""The preferences page (/report/preferences) as HTML, in English and Dutch: whether
Antenna tells the employee what became of their reports, and whether the programme's
insight page may name them on the reports that mattered. No JavaScript; every value is
escaped here. Pure, like page.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Final
from urllib.parse import quote

from services.ingest.forms.i18n import DEFAULT
from services.ingest.forms.page import language_switch, layout, report_href

PREFERENCES_PATH: Final = "/report/preferences"
MAX_CREDIT_NAME: Final = 100

LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "title": "What you hear back",
        "intro": (
            "Antenna tells you what became of your reports: the ticket or lead they "
            "became, when a colleague had reported the same, and when it is resolved or "
            "the lead is won. By mail or in the chat where you reported."
        ),
        "notify": "Tell me what became of my reports",
        "notify_yes": "Yes, tell me",
        "notify_no": "No, tell me nothing",
        "credit": "Credit on the programme's insight page",
        "credit_help": (
            "The programme lead shows which reports led to a resolved complaint or a won "
            "lead, with the department. Only if you agree, your name is shown with yours."
        ),
        "credit_yes": "Name me on the reports of mine that mattered",
        "credit_name": "Name to show",
        "credit_name_placeholder": "e.g. Sanne de Vries",
        "save": "Save",
        "saved": "Saved. This is what Antenna does from now on.",
        "error_notify": "Choose one of the options.",
        "error_credit_name": "Type the name to show (at most 100 characters).",
        "errors_banner": "Not saved yet: please check the fields marked below.",
        "unavailable_title": "Not saved, please try again",
        "unavailable_body": (
            "Your choice could not be saved just now. Press “Save” again in a moment."
        ),
        "signed_in_as": "Signed in as",
        "report": "Report a signal",
    },
    "nl": {
        "title": "Wat je terughoort",
        "intro": (
            "Antenna vertelt je wat er van je meldingen is geworden: het ticket of de lead, "
            "of een collega hetzelfde al had gemeld, en wanneer het is opgelost of de lead "
            "is binnengehaald. Per mail of in de chat waar je het meldde."
        ),
        "notify": "Vertel me wat er van mijn meldingen is geworden",
        "notify_yes": "Ja, vertel het me",
        "notify_no": "Nee, vertel me niets",
        "credit": "Vermelding op de inzichtpagina van het programma",
        "credit_help": (
            "De programmaleider laat zien welke meldingen tot een opgeloste klacht of een "
            "gewonnen lead leidden, met de afdeling. Alleen als jij dat wilt, staat je naam "
            "erbij."
        ),
        "credit_yes": "Noem mijn naam bij mijn meldingen die ertoe deden",
        "credit_name": "Naam die getoond wordt",
        "credit_name_placeholder": "bijv. Sanne de Vries",
        "save": "Opslaan",
        "saved": "Opgeslagen. Zo doet Antenna het vanaf nu.",
        "error_notify": "Kies een van de mogelijkheden.",
        "error_credit_name": "Vul de naam in die getoond wordt (hoogstens 100 tekens).",
        "errors_banner": "Nog niet opgeslagen: kijk de gemarkeerde velden na.",
        "unavailable_title": "Niet opgeslagen, probeer het opnieuw",
        "unavailable_body": (
            "Je keuze kon nu even niet worden opgeslagen. Druk zo nog eens op “Opslaan”."
        ),
        "signed_in_as": "Ingelogd als",
        "report": "Een signaal melden",
    },
}


@dataclass(frozen=True)
class Choice:
    """What the form says: hear back or not, and the name to credit (None: not named)."""

    notify: bool = True
    credit_name: str | None = None


class ChoiceInvalid(ValueError):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(", ".join(fields))
        self.fields = fields  # field -> label key of its error


def read_choice(posted: Mapping[str, str]) -> Choice:
    """The employee's choice from the posted form; ChoiceInvalid names the bad fields."""
    errors: dict[str, str] = {}
    notify = posted.get("notify", "")
    if notify not in ("yes", "no"):
        errors["notify"] = "error_notify"
    name = " ".join(posted.get("credit_name", "").split())
    credit = posted.get("credit") == "yes"
    if credit and (not name or len(name) > MAX_CREDIT_NAME or not name.isprintable()):
        errors["credit_name"] = "error_credit_name"
    if errors:
        raise ChoiceInvalid(errors)
    return Choice(notify=notify == "yes", credit_name=name if credit else None)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def preferences_href(language: str) -> str:
    return f"{PREFERENCES_PATH}?lang={quote(language)}"


def render_preferences(
    *,
    language: str,
    user: str,
    csrf_token: str,
    nonce: str,
    notify: bool,
    credit: bool,
    name: str,
    errors: Mapping[str, str] | None = None,
    saved: bool = False,
    unavailable: bool = False,
) -> str:
    """The form: hear back (``notify``), be named (``credit``) as ``name``."""
    t = LABELS.get(language, LABELS[DEFAULT])
    errors = errors or {}
    banner = ""
    if unavailable:
        banner = (
            f'<div class="banner warn" role="alert"><strong>{_e(t["unavailable_title"])}'
            f"</strong><br>{_e(t['unavailable_body'])}</div>"
        )
    elif errors:
        banner = f'<div class="banner error" role="alert">{_e(t["errors_banner"])}</div>'
    elif saved:
        banner = f'<div class="banner saved" role="status">{_e(t["saved"])}</div>'

    def error(name: str) -> str:
        key = errors.get(name)
        return f'<p class="error" id="{name}-error">{_e(t[key])}</p>' if key else ""

    def radio(value: str, label: str, checked: bool) -> str:
        mark = " checked" if checked else ""
        return (
            f'<label class="choice"><input type="radio" name="notify" value="{value}"{mark}> '
            f"{_e(label)}</label>"
        )

    name_error = error("credit_name")
    described = ' aria-invalid="true" aria-describedby="credit_name-error"' if name_error else ""
    content = f"""<h1>{_e(t["title"])}</h1>
<p class="intro">{_e(t["intro"])}</p>
{banner}
<form method="post" action="{PREFERENCES_PATH}" accept-charset="utf-8">
<input type="hidden" name="csrf_token" value="{_e(csrf_token)}">
<input type="hidden" name="nonce" value="{_e(nonce)}">
<input type="hidden" name="lang" value="{_e(language)}">
<fieldset{' class="invalid"' if errors.get("notify") else ""}><legend>{_e(t["notify"])}</legend>
{radio("yes", t["notify_yes"], notify)}
{radio("no", t["notify_no"], not notify)}
{error("notify")}
</fieldset>
<fieldset><legend>{_e(t["credit"])}</legend>
<p class="help">{_e(t["credit_help"])}</p>
<label class="choice"><input type="checkbox" name="credit" value="yes"\
{" checked" if credit else ""}> {_e(t["credit_yes"])}</label>
<div class="field{" invalid" if name_error else ""}">
<label for="credit_name">{_e(t["credit_name"])}</label>
<input type="text" id="credit_name" name="credit_name" value="{_e(name)}" \
maxlength="{MAX_CREDIT_NAME}" autocomplete="name" \
placeholder="{_e(t["credit_name_placeholder"])}"{described}>
{name_error}
</div>
</fieldset>
<button type="submit">{_e(t["save"])}</button>
</form>
<p class="who">{_e(t["signed_in_as"])}: {_e(user)}</p>
<a class="link" href="{_e(report_href(language))}">{_e(t["report"])}</a>"""
    switch = language_switch(language, preferences_href)
    return layout(language, t["title"], content, switch)
