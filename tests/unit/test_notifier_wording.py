"""What a notice says, in Dutch and English, and in each medium's form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import Channel, OutcomeStatus, Reporter
from services.notifier.cases import Notice, NoticeKind, Record, Report
from services.notifier.wording import (
    html_text,
    ordinal,
    plain_text,
    record_name,
    slack_text,
    teams_text,
    word,
)

PUBLIC = "https://antenna.example.com"
AT = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
SIGNAL = "01JD6W2Q7X5N6G2M3K4P5R6S7T"


def notice(
    kind: NoticeKind,
    language: str = "en",
    *,
    record_id: str | None = "4711",
    url: str | None = "https://rt.example.com/Ticket/Display.html?id=4711",
    destination: str = "servicedesk",
    ordinal: int = 1,
    status: OutcomeStatus | None = None,
    name: str | None = "Sanne",
) -> Notice:
    report = Report(
        signal_id=SIGNAL,
        ordinal=ordinal,
        reporter=Reporter(employee_id="E-1", name=name, email="sanne@bank.example.com"),
        channel=Channel.email,
        language=language,
        reported_at=AT,
    )
    return Notice(
        kind, report, SIGNAL, destination, Record(id=record_id, url=url, at=AT), AT, status
    )


CASES: list[tuple[dict[str, Any], str, str, str]] = [
    (
        {"kind": NoticeKind.recorded},
        "en",
        "Your report is ticket #4711",
        "Thanks for your report. It is now ticket #4711 at the service desk.",
    ),
    (
        {"kind": NoticeKind.recorded},
        "nl",
        "Je melding is ticket #4711",
        "Bedankt voor je melding. Die is nu ticket #4711 bij de servicedesk.",
    ),
    (
        {"kind": NoticeKind.recorded, "destination": "crm", "record_id": "88"},
        "en",
        "Your report is lead #88",
        "Thanks for your tip. Sales have it as lead #88.",
    ),
    (
        {"kind": NoticeKind.recorded, "destination": "crm", "record_id": "88"},
        "nl",
        "Je melding is lead #88",
        "Bedankt voor je tip. Sales heeft die nu als lead #88.",
    ),
    (
        {"kind": NoticeKind.joined, "ordinal": 3},
        "en",
        "Already reported: ticket #4711",
        "A colleague had already reported this: you are the 3rd to report it. It is ticket #4711.",
    ),
    (
        {"kind": NoticeKind.joined, "ordinal": 3},
        "nl",
        "Al gemeld: ticket #4711",
        "Een collega had dit al gemeld: jij bent de 3e die het meldt. Het is ticket #4711.",
    ),
    (
        {"kind": NoticeKind.resolved, "status": OutcomeStatus.resolved},
        "en",
        "Ticket #4711 resolved",
        "Ticket #4711, from your report, has been resolved.",
    ),
    (
        {"kind": NoticeKind.resolved, "status": OutcomeStatus.closed},
        "nl",
        "Ticket #4711 gesloten",
        "Ticket #4711, van jouw melding, is gesloten.",
    ),
    (
        {"kind": NoticeKind.won, "destination": "crm", "record_id": "88"},
        "en",
        "Lead #88 won",
        "Good news: lead #88, from your tip, has been won.",
    ),
    (
        {"kind": NoticeKind.won, "destination": "crm", "record_id": "88"},
        "nl",
        "Lead #88 binnengehaald",
        "Goed nieuws: lead #88, van jouw tip, is binnengehaald.",
    ),
    (
        {"kind": NoticeKind.joined, "ordinal": 2, "record_id": None},
        "en",
        "Already reported by a colleague",
        "A colleague had already reported this: you are the 2nd to report it. "
        "It is with the service desk.",
    ),
    (
        {"kind": NoticeKind.recorded, "record_id": None},
        "nl",
        "Je melding is doorgezet",
        "Bedankt voor je melding. Die is doorgezet naar de servicedesk.",
    ),
]


@pytest.mark.parametrize(("given", "language", "subject", "sentence"), CASES)
def test_each_notice_in_each_language(
    given: dict[str, Any], language: str, subject: str, sentence: str
) -> None:
    options = dict(given)
    w = word(notice(options.pop("kind"), language, **options), PUBLIC)
    assert (w.language, w.subject, w.sentence) == (language, subject, sentence)


@pytest.mark.parametrize(
    ("n", "en", "nl"),
    [(1, "1st", "1e"), (2, "2nd", "2e"), (3, "3rd", "3e"), (4, "4th", "4e"), (11, "11th", "11e"),
     (12, "12th", "12e"), (13, "13th", "13e"), (21, "21st", "21e"), (102, "102nd", "102e")],
)  # fmt: skip
def test_ordinals(n: int, en: str, nl: str) -> None:
    assert (ordinal(n, "en"), ordinal(n, "nl")) == (en, nl)


def test_a_record_without_a_number_is_named_by_its_key() -> None:
    assert record_name("SUP-12", "servicedesk", "en") == "ticket SUP-12"
    assert record_name(None, "crm", "nl") is None


def test_an_unknown_language_is_answered_in_english() -> None:
    assert word(notice(NoticeKind.recorded, "de"), PUBLIC).language == "en"


def test_the_mail_links_the_record_the_status_page_and_the_preferences() -> None:
    w = word(notice(NoticeKind.recorded, "nl"), PUBLIC)
    status = f"{PUBLIC}/report/status/{SIGNAL}?lang=nl"
    text = plain_text(w)
    assert text.startswith("Hoi Sanne,\n")
    assert f"Hoe het ervoor staat: {status}" in text
    assert "Open ticket #4711: https://rt.example.com/Ticket/Display.html?id=4711" in text
    assert f"{PUBLIC}/report/preferences" in text
    html = html_text(w)
    assert f'<a href="{status}">Hoe het ervoor staat</a>' in html
    assert '<html lang="nl">' in html


def test_html_escapes_what_comes_from_outside() -> None:
    w = word(notice(NoticeKind.recorded, name="<b>Sanne</b>", record_id="4<7>"), PUBLIC)
    html = html_text(w)
    assert "<b>Sanne</b>" not in html and "&lt;b&gt;Sanne&lt;/b&gt;" in html
    assert "ticket 4&lt;7&gt;" in html


def test_a_record_link_that_is_not_http_is_left_out() -> None:
    w = word(notice(NoticeKind.recorded, url="javascript:alert(1)"), PUBLIC)
    assert w.record is None
    assert "javascript" not in plain_text(w) + html_text(w) + slack_text(w)


def test_chat_texts_carry_links_but_nothing_about_the_customer_or_the_report() -> None:
    w = word(notice(NoticeKind.joined, ordinal=2), PUBLIC)
    slack = slack_text(w)
    assert slack.startswith("A colleague had already reported this")
    assert f"<{PUBLIC}/report/status/{SIGNAL}?lang=en|Where it stands>" in slack
    assert "Sanne" not in slack  # a thread is not addressed by name
    teams = teams_text(w)
    assert teams.startswith("Hello Sanne, A colleague")  # a channel post says whom it is for
    assert f"[Where it stands]({PUBLIC}/report/status/{SIGNAL}?lang=en)" in teams


def test_slack_control_characters_are_escaped() -> None:
    w = word(notice(NoticeKind.recorded, record_id="<!channel>"), PUBLIC)
    assert "<!channel>" not in slack_text(w)
    assert "&lt;!channel&gt;" in slack_text(w)
