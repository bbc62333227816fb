"""Where an employee hears back, and the mail that answers their own."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from typing import Any

import pytest

from schemas import Channel, Reporter
from services.notifier.addressing import (
    MailTo,
    Medium,
    SlackTo,
    TeamsTo,
    address,
    mail,
    medium,
)
from services.notifier.cases import Notice, NoticeKind, Record, Report
from services.notifier.wording import word

AT = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
ALL = frozenset(Medium)
EMAIL = "sanne@bank.example.com"


def report(
    channel: Channel = Channel.email,
    *,
    email: str | None = EMAIL,
    employee_id: str | None = "E-1",
    subject: str | None = None,
    language: str = "en",
    **reply_path: str,
) -> Report:
    return Report(
        signal_id="01JD6W2Q7X5N6G2M3K4P5R6S7T",
        ordinal=1,
        reporter=Reporter(employee_id=employee_id, name="Sanne", email=email),
        channel=channel,
        language=language,
        subject=subject,
        reply_path=reply_path,
        reported_at=AT,
    )


SLACK_EVENT: dict[str, Any] = {
    "platform": "slack",
    "slack_channel_id": "C0REPORTS",
    "slack_ts": "1712345678.000200",
}


def test_a_slack_message_is_answered_in_its_thread() -> None:
    to = address(report(Channel.chat, email=None, **SLACK_EVENT), ALL)
    assert to == SlackTo("C0REPORTS", "1712345678.000200")
    assert medium(to) is Medium.slack


def test_a_reply_inside_a_thread_is_answered_under_the_threads_parent() -> None:
    path = {**SLACK_EVENT, "slack_thread_ts": "1712345600.000100"}
    assert address(report(Channel.chat, **path), ALL) == SlackTo("C0REPORTS", "1712345600.000100")


def test_a_slash_command_is_answered_in_a_direct_message() -> None:
    r = report(Channel.chat, employee_id="slack:T0BANK:U0SANNE", platform="slack")
    assert address(r, ALL) == SlackTo("U0SANNE")


def test_slack_without_a_bot_token_falls_back_to_mail_or_to_nothing() -> None:
    without_slack = ALL - {Medium.slack}
    assert address(report(Channel.chat, **SLACK_EVENT), without_slack) == MailTo(EMAIL)
    assert address(report(Channel.chat, email=None, **SLACK_EVENT), without_slack) is None


def test_teams_goes_to_the_webhook_or_falls_back_to_mail() -> None:
    r = report(Channel.chat, platform="teams")
    assert address(r, ALL) == TeamsTo()
    assert address(r, ALL - {Medium.teams}) == MailTo(EMAIL)


def test_a_mailed_report_is_answered_in_its_thread() -> None:
    r = report(subject="Pinpas geweigerd", message_id="<abc@bank.example.com>")
    assert address(r, ALL) == MailTo(EMAIL, "<abc@bank.example.com>", "Pinpas geweigerd")


@pytest.mark.parametrize("channel", [Channel.form, Channel.api])
def test_other_reports_get_a_mail_of_their_own(channel: Channel) -> None:
    assert address(report(channel, message_id="<ignored@x>"), ALL) == MailTo(EMAIL)


def test_no_address_no_medium_is_no_way() -> None:
    assert address(report(email=None), ALL) is None
    assert address(report(), frozenset()) is None


def _notice(r: Report) -> Notice:
    record = Record(id="4711", url="https://rt.example.com/4711", at=AT)
    return Notice(NoticeKind.recorded, r, r.signal_id, "servicedesk", record, AT)


def _mail(r: Report) -> Any:
    n = _notice(r)
    to = address(r, ALL)
    assert isinstance(to, MailTo)
    raw = bytes(mail(n, word(n, "https://antenna.example.com"), to, "Antenna <a@n.example>", AT))
    return message_from_bytes(raw, policy=policy.default)


def test_the_answer_threads_under_the_original_mail() -> None:
    m = _mail(report(subject="Pinpas geweigerd", language="nl", message_id="<abc@bank.example>"))
    assert m["In-Reply-To"] == m["References"] == "<abc@bank.example>"
    assert m["Subject"] == "Re: Pinpas geweigerd"
    assert m["To"] == EMAIL
    assert m["Auto-Submitted"] == "auto-generated"
    assert m["Content-Language"] == "nl"
    assert m.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in m.iter_parts()] == ["text/plain", "text/html"]
    assert "ticket #4711" in m.get_body(("plain",)).get_content()


def test_a_message_id_without_brackets_and_a_reply_subject_are_kept_tidy() -> None:
    m = _mail(report(subject="RE: pinpas\n weer", message_id=" abc@bank.example "))
    assert m["In-Reply-To"] == "<abc@bank.example>"
    assert m["Subject"] == "RE: pinpas weer"


def test_without_an_original_the_mail_has_its_own_subject_and_no_thread() -> None:
    m = _mail(report(Channel.form))
    assert m["Subject"] == "Your report is ticket #4711"
    assert m["In-Reply-To"] is None and m["References"] is None


def test_the_same_notice_is_the_same_message_id() -> None:
    r = report(Channel.form)
    first, again = _mail(r), _mail(r)
    assert first["Message-ID"] == again["Message-ID"] == f"<{r.signal_id}.recorded@n.example>"
