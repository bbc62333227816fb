"""Where a notice goes, and the mail it becomes. Pure.

An employee hears back where they reported: in the Slack thread of their message (a DM
for a slash command), in the Teams channel of the configured incoming webhook, or by
e-mail, as a reply to their own mail when they reported by mail. A chat report without
a working chat channel falls back to e-mail when the employee's address is known."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum

from schemas import Channel
from services.notifier.cases import Notice, Report
from services.notifier.wording import Wording, html_text, plain_text


class Medium(StrEnum):
    email = "email"
    slack = "slack"
    teams = "teams"


@dataclass(frozen=True)
class MailTo:
    to: str
    in_reply_to: str | None = None  # the Message-ID of the employee's own mail
    subject: str | None = None  # that mail's subject


@dataclass(frozen=True)
class SlackTo:
    channel: str  # a channel or DM id, or a user id (Slack opens the app's DM)
    thread_ts: str | None = None


@dataclass(frozen=True)
class TeamsTo:
    pass  # the configured incoming webhook's channel


Address = MailTo | SlackTo | TeamsTo


def medium(address: Address) -> Medium:
    if isinstance(address, MailTo):
        return Medium.email
    return Medium.slack if isinstance(address, SlackTo) else Medium.teams


def _slack(report: Report) -> SlackTo | None:
    path = report.reply_path
    channel, ts = path.get("slack_channel_id"), path.get("slack_ts")
    if channel and ts:
        # Reply to the thread's parent: a reply's own ts would start no thread (Slack docs).
        return SlackTo(channel, path.get("slack_thread_ts") or ts)
    # A slash command leaves no message to answer: a DM to the user (slack:<team>:<user>).
    parts = (report.reporter.employee_id or "").split(":")
    if len(parts) == 3 and parts[0] == "slack" and parts[2]:
        return SlackTo(parts[2])
    return None


def address(report: Report, available: frozenset[Medium]) -> Address | None:
    """Where ``report``'s employee hears back through the ``available`` media; None when
    they cannot be reached."""
    platform = report.reply_path.get("platform")
    if report.channel is Channel.chat and platform == "slack" and Medium.slack in available:
        slack = _slack(report)
        if slack is not None:
            return slack
    if report.channel is Channel.chat and platform == "teams" and Medium.teams in available:
        return TeamsTo()
    email = report.reporter.email
    if email and Medium.email in available:
        if report.channel is Channel.email and report.reply_path.get("message_id"):
            return MailTo(email, _angle(report.reply_path["message_id"]), report.subject)
        return MailTo(email)
    return None


def _one_line(value: str) -> str:
    return " ".join(value.split())  # a header value never spans lines


def _angle(message_id: str) -> str:
    message_id = _one_line(message_id)
    return message_id if message_id.startswith("<") else f"<{message_id}>"


def _reply_subject(subject: str) -> str:
    subject = _one_line(subject)
    return subject if subject[:3].lower() == "re:" else f"Re: {subject}"


def mail(notice: Notice, wording: Wording, to: MailTo, sender: str, now: datetime) -> EmailMessage:
    """The mail for ``notice``: plain text and HTML, threaded under the employee's own
    mail when there was one. Its Message-ID is derived from the notice, so a notice sent
    again after a crash is recognisably the same mail."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to.to
    if to.in_reply_to:
        message["Subject"] = _reply_subject(to.subject) if to.subject else wording.subject
        message["In-Reply-To"] = to.in_reply_to
        message["References"] = to.in_reply_to
    else:
        message["Subject"] = wording.subject
    domain = sender.rpartition("@")[2].strip(" >") or "antenna.invalid"
    message["Message-ID"] = f"<{notice.report.signal_id}.{notice.kind.value}@{domain}>"
    message["Date"] = format_datetime(now)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    message.set_content(plain_text(wording))
    message.add_alternative(html_text(wording), subtype="html")
    message["Content-Language"] = wording.language  # after: set_content moves Content-*
    return message
