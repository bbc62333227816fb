"""What a notice says, in Dutch or English, and its forms for mail (plain text and HTML),
Slack and Teams. Pure.

A notice names the record, its link and the status page; nothing about the customer: no
name, phone or address, and not the report's text either (a chat reply sits where the
employee wrote it)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from schemas import OutcomeStatus
from services.notifier.cases import Notice, NoticeKind

STATUS_PAGE_PATH = "/report/status"  # ingest's status page (services/ingest/api/routes/status.py)
PREFERENCES_PAGE_PATH = "/report/preferences"

_TEXT = {
    "en": {
        "hello": "Hello {name},",
        "hello_anonymous": "Hello,",
        "ticket": "ticket",
        "lead": "lead",
        "desk": "the service desk",
        "crm": "sales",
        "recorded_desk": "Thanks for your report. It is now {record} at the service desk.",
        "recorded_desk_unnumbered": "Thanks for your report. It has been passed to the "
        "service desk.",
        "recorded_crm": "Thanks for your tip. Sales have it as {record}.",
        "recorded_crm_unnumbered": "Thanks for your tip. It has been passed to sales.",
        "joined": "A colleague had already reported this: you are the {ordinal} to report it.",
        "joined_is": "It is {record}.",
        "joined_with": "It is with {team}.",
        "resolved": "{Record}, from your report, has been resolved.",
        "closed": "{Record}, from your report, has been closed.",
        "resolved_unnumbered": "The service desk has resolved the case you reported.",
        "closed_unnumbered": "The service desk has closed the case you reported.",
        "won": "Good news: {record}, from your tip, has been won.",
        "won_unnumbered": "Good news: sales won the lead from your tip.",
        "subject_recorded": "Your report is {record}",
        "subject_recorded_unnumbered": "Your report has been passed on",
        "subject_joined": "Already reported: {record}",
        "subject_joined_unnumbered": "Already reported by a colleague",
        "subject_resolved": "{Record} resolved",
        "subject_closed": "{Record} closed",
        "subject_won": "{Record} won",
        "subject_done_unnumbered": "The case you reported is done",
        "open_record": "Open {record}",
        "status": "Where it stands",
        "footer": "You receive this because you reported it through Antenna. Rather not hear back?",
        "preferences": "Change your preferences",
    },
    "nl": {
        "hello": "Hoi {name},",
        "hello_anonymous": "Hoi,",
        "ticket": "ticket",
        "lead": "lead",
        "desk": "de servicedesk",
        "crm": "sales",
        "recorded_desk": "Bedankt voor je melding. Die is nu {record} bij de servicedesk.",
        "recorded_desk_unnumbered": "Bedankt voor je melding. Die is doorgezet naar de "
        "servicedesk.",
        "recorded_crm": "Bedankt voor je tip. Sales heeft die nu als {record}.",
        "recorded_crm_unnumbered": "Bedankt voor je tip. Die is doorgezet naar sales.",
        "joined": "Een collega had dit al gemeld: jij bent de {ordinal} die het meldt.",
        "joined_is": "Het is {record}.",
        "joined_with": "Het ligt bij {team}.",
        "resolved": "{Record}, van jouw melding, is opgelost.",
        "closed": "{Record}, van jouw melding, is gesloten.",
        "resolved_unnumbered": "De servicedesk heeft de zaak die je meldde opgelost.",
        "closed_unnumbered": "De servicedesk heeft de zaak die je meldde gesloten.",
        "won": "Goed nieuws: {record}, van jouw tip, is binnengehaald.",
        "won_unnumbered": "Goed nieuws: sales heeft de lead van jouw tip binnengehaald.",
        "subject_recorded": "Je melding is {record}",
        "subject_recorded_unnumbered": "Je melding is doorgezet",
        "subject_joined": "Al gemeld: {record}",
        "subject_joined_unnumbered": "Al gemeld door een collega",
        "subject_resolved": "{Record} opgelost",
        "subject_closed": "{Record} gesloten",
        "subject_won": "{Record} binnengehaald",
        "subject_done_unnumbered": "De zaak die je meldde is afgerond",
        "open_record": "Open {record}",
        "status": "Hoe het ervoor staat",
        "footer": "Je krijgt dit bericht omdat je dit via Antenna meldde. Liever geen berichten?",
        "preferences": "Pas je voorkeuren aan",
    },
}


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Wording:
    language: str
    subject: str
    greeting: str
    sentence: str
    record: Link | None  # the ticket or lead itself, when the destination gave a link
    status: Link
    preferences: Link
    footer: str


def ordinal(n: int, language: str) -> str:
    """3rd, 11th, 22nd; in Dutch 3e."""
    if language == "nl":
        return f"{n}e"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def record_name(record_id: str | None, destination: str, language: str) -> str | None:
    """ "ticket #4711", "lead #88", "ticket SUP-12"; None when the record has no number."""
    if record_id is None:
        return None
    noun = _TEXT[language]["lead" if destination == "crm" else "ticket"]
    return f"{noun} #{record_id}" if record_id.isdigit() else f"{noun} {record_id}"


def status_url(public_url: str, signal_id: str, language: str) -> str:
    return f"{public_url}{STATUS_PAGE_PATH}/{quote(signal_id, safe='')}?lang={language}"


def _web_link(url: str | None) -> str | None:
    """Only http(s) links are passed on: a destination's URL is not ours to trust."""
    return url if url and url.startswith(("http://", "https://")) else None


def word(notice: Notice, public_url: str) -> Wording:
    report = notice.report
    language = report.language if report.language in _TEXT else "en"
    t = _TEXT[language]
    desk = notice.destination != "crm"
    name = record_name(notice.record.id, notice.destination, language)
    if notice.kind is NoticeKind.recorded:
        key = "recorded_desk" if desk else "recorded_crm"
        sentence = t[key if name else f"{key}_unnumbered"].format(record=name)
        subject = t["subject_recorded" if name else "subject_recorded_unnumbered"]
    elif notice.kind is NoticeKind.joined:
        sentence = t["joined"].format(ordinal=ordinal(report.ordinal, language))
        tail = t["joined_is"] if name else t["joined_with"]
        sentence += " " + tail.format(record=name, team=t["desk" if desk else "crm"])
        subject = t["subject_joined" if name else "subject_joined_unnumbered"]
    else:
        if notice.kind is NoticeKind.won:
            key = "won"
        else:
            key = "closed" if notice.status is OutcomeStatus.closed else "resolved"
        sentence = t[key if name else f"{key}_unnumbered"]
        subject = t[f"subject_{key}" if name else "subject_done_unnumbered"]
    capital = name[:1].upper() + name[1:] if name else None
    record_url = _web_link(notice.record.url)
    record_label = t["open_record"].format(record=name or t["ticket" if desk else "lead"])
    reporter = report.reporter.name
    return Wording(
        language=language,
        subject=subject.format(record=name, Record=capital),
        greeting=t["hello"].format(name=reporter) if reporter else t["hello_anonymous"],
        sentence=sentence.format(record=name, Record=capital),
        record=Link(record_label, record_url) if record_url else None,
        status=Link(t["status"], status_url(public_url, report.signal_id, language)),
        preferences=Link(t["preferences"], f"{public_url}{PREFERENCES_PAGE_PATH}"),
        footer=t["footer"],
    )


def _links(w: Wording) -> list[Link]:
    return [link for link in (w.record, w.status) if link is not None]


def plain_text(w: Wording) -> str:
    lines = [w.greeting, "", w.sentence, ""]
    lines += [f"{link.label}: {link.url}" for link in _links(w)]
    lines += ["", "-- ", f"{w.footer} {w.preferences.label}: {w.preferences.url}"]
    return "\n".join(lines) + "\n"


def html_text(w: Wording) -> str:
    links = "".join(
        f'<p><a href="{escape(link.url)}">{escape(link.label)}</a></p>' for link in _links(w)
    )
    return (
        f'<!DOCTYPE html><html lang="{w.language}"><body>'
        f"<p>{escape(w.greeting)}</p><p>{escape(w.sentence)}</p>{links}"
        f'<p style="color:#666;font-size:small">{escape(w.footer)} '
        f'<a href="{escape(w.preferences.url)}">{escape(w.preferences.label)}</a></p>'
        "</body></html>\n"
    )


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn: &, < and > are control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(w: Wording) -> str:
    links = " · ".join(f"<{link.url}|{_slack_escape(link.label)}>" for link in _links(w))
    return f"{_slack_escape(w.sentence)}\n{links}"


def teams_text(w: Wording) -> str:
    # An incoming webhook posts in a channel: the greeting says whom it is for.
    links = " · ".join(f"[{link.label}]({link.url})" for link in _links(w))
    return f"{w.greeting} {w.sentence}\n\n{links}"
