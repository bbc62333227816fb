"""The loop closed with real parts: `antenna up` with Request Tracker as the service desk
and Tryton as the CRM. An employee mails a report over SMTP; a real SMTP relay (aiosmtpd)
receives the "ticket #N" answer threaded under the employee's mail; an agent resolves the
ticket in RT (or sales win the opportunity in Tryton) and the "resolved" ("won") mail
follows within the polling interval, in the same thread."""

from __future__ import annotations

import re
import smtplib
import uuid
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from tests.support.antenna_up import Stack, antenna_up
from tests.support.mail_sink import MailSink
from tests.support.request_tracker import RequestTracker, request_tracker
from tests.support.tryton import Tryton, tryton_server

pytestmark = pytest.mark.e2e

SIGNAL_ADDRESS = "signals@antenna.example.com"
EMPLOYEE_DOMAIN = "bank.example.com"
PUBLIC_URL = "https://antenna.example.com"
NOTIFY_FROM = "Antenna <antenna@notify.example.com>"


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RequestTracker]:
    with request_tracker(tmp_path_factory.mktemp("rt") / "rt") as server:
        yield server


@pytest.fixture(scope="module")
def tryton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tryton]:
    with tryton_server(tmp_path_factory.mktemp("tryton") / "server") as server:
        yield server


@pytest.fixture(scope="module")
def relay() -> Iterator[MailSink]:
    sink = MailSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def stack(
    rt: RequestTracker,
    tryton: Tryton,
    relay: MailSink,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    env = {
        "ANTENNA_SERVICEDESK__CONNECTOR": "request_tracker",
        "ANTENNA_SERVICEDESK__URL": rt.url,
        "ANTENNA_SERVICEDESK__TOKEN": rt.token,
        "ANTENNA_SERVICEDESK__POLL_INTERVAL_S": "1",
        "ANTENNA_CRM__CONNECTOR": "tryton",
        "ANTENNA_CRM__URL": tryton.url,
        "ANTENNA_CRM__DATABASE": tryton.database,
        "ANTENNA_CRM__USER": tryton.user,
        "ANTENNA_CRM__PASSWORD": tryton.password,
        "ANTENNA_CRM__POLL_INTERVAL_S": "1",
        "ANTENNA_SIGNAL_ADDRESSES": SIGNAL_ADDRESS,
        "ANTENNA_ALLOWED_SENDER_DOMAINS": EMPLOYEE_DOMAIN,
        "ANTENNA_NOTIFY_SMTP_HOST": "127.0.0.1",
        "ANTENNA_NOTIFY_SMTP_PORT": str(relay.port),
        "ANTENNA_NOTIFY_FROM": NOTIFY_FROM,
        "ANTENNA_PUBLIC_URL": PUBLIC_URL,
    }
    with antenna_up(tmp_path_factory.mktemp("loop") / "var", env) as running:
        yield running


def _mail_a_report(stack: Stack, subject: str, text: str) -> tuple[str, str]:
    """The employee's own mail to the signal address: (their address, its Message-ID)."""
    employee = f"sanne-{uuid.uuid4().hex[:12]}@{EMPLOYEE_DOMAIN}"
    mail = EmailMessage()
    mail["From"] = f"Sanne de Vries <{employee}>"
    mail["To"] = SIGNAL_ADDRESS
    mail["Subject"] = subject
    mail["Message-ID"] = message_id = f"<{uuid.uuid4().hex}@{EMPLOYEE_DOMAIN}>"
    mail.set_content(f"{text}\n")
    with smtplib.SMTP("127.0.0.1", int(stack.env["ANTENNA_SMTP_PORT"]), timeout=30) as smtp:
        smtp.send_message(mail)
    return employee, message_id


def _plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _case_of(answer: EmailMessage) -> str:
    """The case the answer is about, from its status page link."""
    link = re.search(rf"{re.escape(PUBLIC_URL)}/report/status/([^?\s]+)\?lang=", _plain(answer))
    assert link, _plain(answer)
    return link.group(1)


def _threaded(answer: EmailMessage, message_id: str, subject: str) -> None:
    assert answer["In-Reply-To"] == message_id
    assert answer["References"] == message_id
    assert answer["Subject"] == f"Re: {subject}"
    assert answer["From"] == NOTIFY_FROM


def test_a_mailed_complaint_hears_of_its_rt_ticket_and_of_its_resolution(
    stack: Stack, rt: RequestTracker, relay: MailSink
) -> None:
    subject = f"Customer's card declined again {uuid.uuid4().hex[:6]}"
    employee, message_id = _mail_a_report(
        stack,
        subject,
        "My neighbour is furious: her bank card was declined three times this week at the "
        "till, and nobody calls her back.",
    )

    [opened] = relay.wait_for(lambda m: m["To"] == employee, timeout_s=120)
    _threaded(opened, message_id, subject)
    case = _case_of(opened)
    [ticket] = rt.tickets_for(case)
    assert f"ticket #{ticket}" in _plain(opened)

    rt.set_status(ticket, "resolved")  # an agent resolves it in RT

    [_, resolved] = relay.wait_for(lambda m: m["To"] == employee, count=2, timeout_s=60)
    _threaded(resolved, message_id, subject)
    assert f"Ticket #{ticket}, from your report, has been resolved." in _plain(resolved)


def test_a_mailed_tip_hears_of_its_tryton_opportunity_and_that_it_was_won(
    stack: Stack, tryton: Tryton, relay: MailSink
) -> None:
    subject = f"Buurman wil offerte zonnepanelen {uuid.uuid4().hex[:6]}"
    employee, message_id = _mail_a_report(
        stack,
        subject,
        "Mijn buurman wil graag een offerte voor zonnepanelen en wil morgenochtend gebeld worden.",
    )

    [recorded] = relay.wait_for(lambda m: m["To"] == employee, timeout_s=120)
    _threaded(recorded, message_id, subject)
    [opportunity] = tryton.opportunities(f"antenna-{_case_of(recorded)}")
    lead = f"lead #{opportunity['number']}"
    assert lead in _plain(recorded)  # the Dutch mail names it a lead too

    tryton.win(opportunity["id"])  # sales won it in Tryton

    [_, won] = relay.wait_for(lambda m: m["To"] == employee, count=2, timeout_s=60)
    _threaded(won, message_id, subject)
    assert f"Goed nieuws: {lead}, van jouw tip, is binnengehaald." in _plain(won)
