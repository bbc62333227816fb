"""The report page's words in English and Dutch, and which language a request gets.

Order of choice: an explicit ``?lang=nl|en`` (the page's language switch), else the
browser's Accept-Language with its q-values, else English. Pure."""

from __future__ import annotations

from typing import Final

SUPPORTED: Final = ("en", "nl")
DEFAULT: Final = "en"
MAX_ACCEPT_LANGUAGE_ENTRIES: Final = 32  # a longer header is someone else's problem

LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "language_name": "English",
        "title": "Report a signal",
        "intro": "Heard something a customer needs? Tell us in a few words.",
        "switch_to": "Nederlands",
        "signed_in_as": "Signed in as",
        "optional": "optional",
        "text": "What did you hear?",
        "text_help": "In your own words: who, what happened, what they would like.",
        "hint": "Is it a…",
        "hint_complaint": "Complaint",
        "hint_opportunity": "Opportunity",
        "hint_unsure": "Not sure",
        "customer": "The customer",
        "customer_name": "Name",
        "customer_email": "E-mail",
        "customer_phone": "Phone",
        "consent": "The customer agreed to be contacted",
        "callback_window": "When to call back",
        "callback_window_placeholder": "e.g. tomorrow morning",
        "reporter": "You",
        "reporter_id": "Your login",
        "reporter_department": "Department",
        "submit": "Send report",
        "errors_banner": "Not sent yet: please check the fields marked below.",
        "error_required": "Please describe what you heard.",
        "error_email": "This e-mail address does not look right.",
        "error_too_long": "This is too long.",
        "error_choice": "Choose one of the options.",
        "error_invalid": "This value is not valid.",
        "error_reused": (
            "This form was already sent with other content. Check it and press "
            "“Send report” to make a new report."
        ),
        "done_title": "Thank you, your report was received",
        "done_body": "The right team will pick it up. Keep the reference if you want to ask.",
        "done_reference": "Reference",
        "done_status": "Follow its status",
        "done_another": "Report another",
        "unavailable_title": "Not saved, please try again",
        "unavailable_body": (
            "Your report could not be saved just now. Your text is still below: "
            "press “Send report” again in a moment."
        ),
        "csrf_title": "This form has expired",
        "csrf_body": (
            "For your safety a form is valid for two hours and only for the person who "
            "opened it. Open a fresh form and send your report again."
        ),
        "open_fresh": "Open a fresh form",
        "not_configured_title": "Report page not configured",
        "not_configured_body": "Ask your administrator to set up sign-in for this page.",
        "unauthorized_title": "Sign-in needed",
        "unauthorized_body": "Sign in with your employee account to report a signal.",
        "throttled_title": "Too many sign-in attempts",
        "throttled_body": (
            "Sign-in is paused for this device after too many wrong passwords. "
            "Try again later, or ask your administrator for help."
        ),
        "unsupported_title": "This form could not be read",
        "unsupported_body": "Open the report page and send the form from there.",
    },
    "nl": {
        "language_name": "Nederlands",
        "title": "Signaal melden",
        "intro": "Iets gehoord waar een klant mee geholpen is? Vertel het in een paar woorden.",
        "switch_to": "English",
        "signed_in_as": "Ingelogd als",
        "optional": "optioneel",
        "text": "Wat heb je gehoord?",
        "text_help": "In je eigen woorden: wie, wat er gebeurde, wat de klant graag wil.",
        "hint": "Is het een…",
        "hint_complaint": "Klacht",
        "hint_opportunity": "Kans",
        "hint_unsure": "Weet ik niet",
        "customer": "De klant",
        "customer_name": "Naam",
        "customer_email": "E-mail",
        "customer_phone": "Telefoon",
        "consent": "De klant vindt het goed om benaderd te worden",
        "callback_window": "Wanneer terugbellen",
        "callback_window_placeholder": "bijv. morgenochtend",
        "reporter": "Jij",
        "reporter_id": "Jouw login",
        "reporter_department": "Afdeling",
        "submit": "Melding versturen",
        "errors_banner": "Nog niet verstuurd: controleer de gemarkeerde velden.",
        "error_required": "Beschrijf wat je hebt gehoord.",
        "error_email": "Dit e-mailadres lijkt niet te kloppen.",
        "error_too_long": "Dit is te lang.",
        "error_choice": "Kies een van de opties.",
        "error_invalid": "Deze waarde is niet geldig.",
        "error_reused": (
            "Dit formulier is al verstuurd met andere inhoud. Controleer het en druk op "
            "„Melding versturen” voor een nieuwe melding."
        ),
        "done_title": "Bedankt, je melding is ontvangen",
        "done_body": "Het juiste team pakt hem op. Bewaar het kenmerk als je iets wilt navragen.",
        "done_reference": "Kenmerk",
        "done_status": "Status volgen",
        "done_another": "Nog een melding doen",
        "unavailable_title": "Niet opgeslagen, probeer het opnieuw",
        "unavailable_body": (
            "Je melding kon nu niet worden opgeslagen. Je tekst staat hieronder nog: "
            "druk zo meteen opnieuw op „Melding versturen”."
        ),
        "csrf_title": "Dit formulier is verlopen",
        "csrf_body": (
            "Voor je veiligheid is een formulier twee uur geldig en alleen voor wie het "
            "opende. Open een nieuw formulier en verstuur je melding opnieuw."
        ),
        "open_fresh": "Nieuw formulier openen",
        "not_configured_title": "Meldpagina niet ingesteld",
        "not_configured_body": "Vraag je beheerder om het inloggen voor deze pagina in te stellen.",
        "unauthorized_title": "Inloggen nodig",
        "unauthorized_body": "Log in met je medewerkersaccount om een signaal te melden.",
        "throttled_title": "Te vaak geprobeerd in te loggen",
        "throttled_body": (
            "Inloggen is op dit apparaat even gepauzeerd na te veel verkeerde wachtwoorden. "
            "Probeer het later opnieuw, of vraag je beheerder om hulp."
        ),
        "unsupported_title": "Dit formulier kon niet worden gelezen",
        "unsupported_body": "Open de meldpagina en verstuur het formulier daarvandaan.",
    },
}


def normalise(tag: str | None) -> str | None:
    """``nl-BE`` -> ``nl``; anything unsupported -> None."""
    if not tag:
        return None
    primary = tag.strip().lower().replace("_", "-").split("-", 1)[0]
    return primary if primary in SUPPORTED else None


def parse_accept_language(header: str | None) -> list[tuple[str, float]]:
    """``"nl-NL,nl;q=0.9,en;q=0.8"`` -> [("nl-nl", 1.0), ("nl", 0.9), ("en", 0.8)], best
    first (stable for equal q). Malformed entries and q=0 ("not this one") are dropped."""
    if not header:
        return []
    ranked: list[tuple[str, float]] = []
    for entry in header.split(",")[:MAX_ACCEPT_LANGUAGE_ENTRIES]:
        tag, *params = (part.strip() for part in entry.split(";"))
        if not tag:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = -1.0
        if 0 < quality <= 1:
            ranked.append((tag.lower(), quality))
    ranked.sort(key=lambda item: item[1], reverse=True)  # sort() is stable
    return ranked


def choose_language(requested: str | None, accept_language: str | None) -> str:
    """The explicit switch wins, then the best supported Accept-Language, then English."""
    explicit = normalise(requested)
    if explicit:
        return explicit
    for tag, _quality in parse_accept_language(accept_language):
        if tag == "*":
            return DEFAULT
        chosen = normalise(tag)
        if chosen:
            return chosen
    return DEFAULT


def labels(language: str) -> dict[str, str]:
    return LABELS.get(language, LABELS[DEFAULT])
