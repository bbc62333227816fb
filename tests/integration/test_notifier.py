"""The notifier as a real process on the real broker: employees hear back by mail (a
real SMTP relay on loopback) and in Slack (a stateful fake of chat.postMessage).

Events are produced as the other services would, each to partition 0 of its topic, so
that a later "marker" case on the same partitions shows that everything before it has
been handled: tests wait on that mail instead of sleeping."""

from __future__ import annotations

import re
import smtplib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer

from schemas import (
    Classification,
    Kind,
    NotificationPreference,
    OutcomeStatus,
    RoutedSignal,
    new_signal_id,
    topics,
)
from services.common.processes import terminate
from tests.integration.conftest import EMPLOYEE_DOMAIN, NOTIFY_FROM, PUBLIC_URL, SIGNAL_ADDRESS
from tests.support.broker import own_broker
from tests.support.builders import build_delivered, build_outcome, build_routed, build_signal
from tests.support.http_recorder import Recorder
from tests.support.mail_sink import MailSink
from tests.support.services import Services, service_env, wait_for
from tests.support.slack_fake import SlackFake

pytestmark = pytest.mark.integration

SLACK_TOKEN = "xoxb-integration-test-token-0123"
SLACK_CHANNEL = "C0REPORTS"


@pytest.fixture(scope="module")
def sink() -> Iterator[MailSink]:
    relay = MailSink().start()
    yield relay
    relay.stop()


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackFake]:
    fake = SlackFake(SLACK_TOKEN, {SLACK_CHANNEL})
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker of this module's own: the session's connectors would deliver the routed
    events produced here, and race the deliveries these tests produce."""
    with own_broker(tmp_path_factory.mktemp("notifier-broker")) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="module")
def notifier(
    own_kafka: str, sink: MailSink, slack: SlackFake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    var_dir = tmp_path_factory.mktemp("notifier-var")
    env = service_env(
        own_kafka,
        var_dir,
        {
            "ANTENNA_NOTIFY_SMTP_HOST": "127.0.0.1",
            "ANTENNA_NOTIFY_SMTP_PORT": str(sink.port),
            "ANTENNA_NOTIFY_FROM": NOTIFY_FROM,
            "ANTENNA_PUBLIC_URL": PUBLIC_URL,
            "ANTENNA_SLACK_BOT_TOKEN": SLACK_TOKEN,
            "ANTENNA_SLACK_API_URL": slack.url,
            "ANTENNA_NOTIFY_RETRY_BASE_DELAY_S": "0.2",
            "ANTENNA_NOTIFY_RETRY_MAX_DELAY_S": "1",
            "ANTENNA_NOTIFY_SMTP_TIMEOUT_S": "5",
        },
    )
    services = Services(env, var_dir)
    services.start("notifier")
    yield services
    services.stop()


@pytest.fixture(scope="module")
def producer(own_kafka: str) -> Iterator[KafkaProducer]:
    client = KafkaProducer(bootstrap_servers=own_kafka, acks="all")
    yield client
    client.close()


def _send(producer: KafkaProducer, topic: str, key: str, value: bytes | None) -> None:
    producer.send(topic, key=key.encode(), value=value, partition=0).get(timeout=10)


def _address() -> str:
    return f"employee-{uuid.uuid4().hex[:12]}@bank.example.com"


def _case(
    email: str | None = None,
    *,
    language: str = "en",
    destination: str = "servicedesk",
    **signal: Any,
) -> RoutedSignal:
    built = build_signal(
        reporter={
            "employee_id": signal.pop("employee_id", f"E-{uuid.uuid4().hex[:8]}"),
            "name": "Sanne de Vries",
            "email": email,
        },
        customer={"name": "Jan Klant", "phone": "+31 6 11112222", "email": "jan@klant.example"},
        **signal,
    )
    classification = Classification(
        kind=Kind.complaint if destination == "servicedesk" else Kind.opportunity,
        confidence=0.9,
        language=language,
        classifier_version="test-1",
    )
    return build_routed(
        built,
        classification=classification,
        destination={"name": destination},
        routed_at=datetime.now(UTC),
    )


def _report(producer: KafkaProducer, routed: RoutedSignal, record: str | None) -> None:
    """The case's routed event, then (with a record id) its delivery, as the processor
    and the connectors publish them."""
    case_id = routed.signal.signal_id
    topic = topics.ROUTED_BY_DESTINATION[routed.destination.name]
    _send(producer, topic, case_id, routed.model_dump_json().encode())
    if record is not None:
        _delivered(producer, case_id, record)


def _delivered(producer: KafkaProducer, case_id: str, record: str) -> None:
    value = build_delivered(case_id, record).model_dump_json().encode()
    _send(producer, topics.DELIVERED, case_id, value)


def _outcome(
    producer: KafkaProducer, case_id: str, status: OutcomeStatus, at: datetime, record: str
) -> None:
    value = build_outcome(case_id, status, at, record).model_dump_json().encode()
    _send(producer, topics.OUTCOMES, case_id, value)


def _marker(producer: KafkaProducer, sink: MailSink) -> None:
    """A case of its own after everything produced so far (partition 0 of the routed and
    delivered topics): once its mail is there, everything before it has been handled."""
    email = _address()
    _report(producer, _case(email), record="1")
    sink.wait_for(lambda m: m["To"] == email)


def _plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def test_a_mailed_complaint_is_answered_in_its_thread_with_the_ticket(
    pipeline: Services, recorder: Recorder, mail_relay: MailSink
) -> None:
    """Real parts end to end on the session's pipeline: mail in over SMTP, processor,
    connector (webhook desk), notifier, mail out through the relay, threaded under the
    employee's own mail."""
    employee = f"sanne-{uuid.uuid4().hex[:12]}@{EMPLOYEE_DOMAIN}"
    original = EmailMessage()
    original["From"] = f"Sanne de Vries <{employee}>"
    original["To"] = SIGNAL_ADDRESS
    original["Subject"] = "Klant boos over geweigerde pinpas"
    original["Message-ID"] = message_id = f"<{uuid.uuid4().hex}@{EMPLOYEE_DOMAIN}>"
    original.set_content(
        "Mijn buurvrouw is woedend: haar pinpas is deze week drie keer geweigerd bij de "
        f"kassa en niemand belt haar terug. [{new_signal_id()}]\n"
    )
    with smtplib.SMTP("127.0.0.1", int(pipeline.env["ANTENNA_SMTP_PORT"]), timeout=30) as smtp:
        smtp.send_message(original)
    [answer] = mail_relay.wait_for(lambda m: m["To"] == employee, timeout_s=90)

    assert answer["In-Reply-To"] == message_id
    assert answer["References"] == message_id
    assert answer["Subject"] == "Re: Klant boos over geweigerde pinpas"
    assert answer["From"] == NOTIFY_FROM
    assert answer["Auto-Submitted"] == "auto-generated"
    [ticket] = [r.json() for r in recorder.received("/desk") if employee in r.body.decode()]
    text, html = _plain(answer), _html(answer)
    assert "Bedankt voor je melding" in text  # Dutch, as the mail was
    status = f"{PUBLIC_URL}/report/status/{ticket['signal']['signal_id']}?lang=nl"
    assert status in text
    assert f'href="{status}"' in html
    assert "ticket EXT-" in text and "ticket EXT-" in html


def test_a_ticket_is_mailed_once_however_often_its_events_come(
    notifier: Services, sink: MailSink, producer: KafkaProducer
) -> None:
    email = _address()
    routed = _case(email, language="nl")
    _report(producer, routed, record="4711")
    [mail] = sink.wait_for(lambda m: m["To"] == email)
    assert mail["Subject"] == "Je melding is ticket #4711"
    assert "Bedankt voor je melding. Die is nu ticket #4711 bij de servicedesk." in _plain(mail)
    assert "https://rt.example.com/Ticket/Display.html?id=4711" in _plain(mail)
    assert mail["In-Reply-To"] is None  # reported by API: nothing to thread under

    # At-least-once upstream: the same events again, while the notifier runs ...
    _report(producer, routed, record="4711")
    _marker(producer, sink)
    # ... and while it is down: the ledger is restored from its changelog.
    notifier.stop("notifier")
    _report(producer, routed, record="4711")
    notifier.start("notifier")
    _marker(producer, sink)
    assert len(sink.to(email)) == 1


@contextmanager
def _relay_down(notifier: Services, sink: MailSink, producer: KafkaProducer) -> Iterator[str]:
    """The relay is down while a ticket's mail comes due; yields the employee's address
    once the notifier waits for the relay, which is up again after the block."""
    sink.stop()
    try:
        email = _address()
        _report(producer, _case(email), record="5150")
        _wait_until_paused(notifier, "email")
        yield email
    finally:
        sink.start()


def _mailed_once(sink: MailSink, producer: KafkaProducer, email: str) -> None:
    [mail] = sink.wait_for(lambda m: m["To"] == email)
    assert "ticket #5150" in _plain(mail)
    _marker(producer, sink)
    assert len(sink.to(email)) == 1


def test_a_relay_that_is_down_holds_the_mail_until_it_is_back(
    notifier: Services, sink: MailSink, producer: KafkaProducer
) -> None:
    with _relay_down(notifier, sink, producer) as email:
        pass
    _mailed_once(sink, producer, email)


def test_a_notifier_stopped_while_its_relay_is_down_sends_the_mail_after_its_restart(
    notifier: Services, sink: MailSink, producer: KafkaProducer
) -> None:
    with _relay_down(notifier, sink, producer) as email:
        # The waiting notice is let go, not held: the stop does not wait for the relay.
        assert terminate(notifier.procs.pop("notifier")) == 0
    notifier.start("notifier")
    _mailed_once(sink, producer, email)


def test_resolved_is_told_once_and_a_late_in_progress_changes_nothing(
    notifier: Services, sink: MailSink, producer: KafkaProducer
) -> None:
    email = _address()
    routed = _case(email)
    case_id = routed.signal.signal_id
    _report(producer, routed, record="808")
    sink.wait_for(lambda m: m["To"] == email)
    resolved_at = datetime.now(UTC)
    _outcome(producer, case_id, OutcomeStatus.resolved, resolved_at, "808")
    [_, resolved] = sink.wait_for(lambda m: m["To"] == email, count=2)
    assert resolved["Subject"] == "Ticket #808 resolved"
    assert "Ticket #808, from your report, has been resolved." in _plain(resolved)

    # Late and repeated: an older "in progress", the same resolution again.
    _outcome(producer, case_id, OutcomeStatus.in_progress, resolved_at - timedelta(hours=1), "808")
    _outcome(producer, case_id, OutcomeStatus.resolved, resolved_at, "808")
    _marker(producer, sink)
    assert len(sink.to(email)) == 2


def test_an_employee_who_opted_out_hears_nothing(
    notifier: Services, sink: MailSink, producer: KafkaProducer
) -> None:
    email = _address()
    preference = NotificationPreference(
        employee_id=email, notify=False, updated_at=datetime.now(UTC)
    )
    before = _opted_out(notifier)
    _send(producer, topics.PREFERENCES, email, preference.model_dump_json().encode())
    wait_for(lambda: _opted_out(notifier) > before, "the opt-out read")
    _report(producer, _case(email, employee_id=email), record="99")
    _marker(producer, sink)
    assert sink.to(email) == []


def test_a_slack_report_is_answered_in_its_thread_despite_a_rate_limit(
    notifier: Services, slack: SlackFake, producer: KafkaProducer
) -> None:
    thread = "1712345678.000100"
    routed = _case(
        None,
        channel="chat",
        employee_id="slack:T0BANK:U0SANNE",
        text="@antenna the customer Jan Klant says his card was declined three times",
        metadata={
            "platform": "slack",
            "slack_kind": "event",
            "slack_team_id": "T0BANK",
            "slack_channel_id": SLACK_CHANNEL,
            "slack_ts": thread,
        },
    )
    slack.rate_limit(1, retry_after_s=1)
    _report(producer, routed, record="2024")
    slack.wait_for(lambda c: c.body.get("thread_ts") == thread and c.status == 200)
    calls = [c for c in slack.calls.all() if c.body.get("thread_ts") == thread]
    assert [c.status for c in calls] == [429, 200]
    assert calls[0].answer == {"ok": False, "error": "ratelimited"}
    assert calls[1].headers["authorization"] == f"Bearer {SLACK_TOKEN}"
    [message] = slack.messages(SLACK_CHANNEL, thread_ts=thread)
    assert "ticket #2024" in message["text"]
    assert f"{PUBLIC_URL}/report/status/{routed.signal.signal_id}?lang=en" in message["text"]
    for personal in ("Jan Klant", "+31 6 11112222", "jan@klant.example", "Sanne"):
        assert personal not in message["text"]


def _metrics(services: Services) -> str:
    port = services.env["ANTENNA_NOTIFIER_METRICS_PORT"]
    return httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text


def _opted_out(services: Services) -> float:
    for line in _metrics(services).splitlines():
        if line.startswith("antenna_notifier_opted_out_employees "):
            return float(line.split()[1])
    return 0.0


def _wait_until_paused(services: Services, channel: str) -> None:
    paused = f'antenna_notifier_channel_paused{{channel="{channel}"}} 1.0'
    wait_for(lambda: paused in _metrics(services), f"the {channel} channel paused")


PAGE_LOGIN = ("sanne-page", "sanne-page-password-0123")


@pytest.fixture(scope="module")
def ingest(own_kafka: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Ingest on the notifier's broker, for the preferences page."""
    var_dir = tmp_path_factory.mktemp("preferences-ingest")
    env = service_env(own_kafka, var_dir, {"ANTENNA_REPORT_USERS": ":".join(PAGE_LOGIN)})
    services = Services(env, var_dir)
    services.start("ingest")
    yield services
    services.stop()


def _choose(ingest: Services, notify: str) -> None:
    """What the employee does on /report/preferences: open it, choose, save."""
    url = f"{ingest.api}/report/preferences"
    with httpx.Client(auth=PAGE_LOGIN, timeout=30) as browser:
        form = browser.get(url)
        hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.text))
        saved = browser.post(url, data={**hidden, "notify": notify})
    assert saved.status_code == 200, saved.text
    assert "Saved." in saved.text


def test_the_preferences_page_opts_out_and_back_in_and_the_notifier_honours_it(
    ingest: Services, notifier: Services, sink: MailSink, producer: KafkaProducer
) -> None:
    """End to end: the page publishes to employees.preferences, the notifier reads it."""
    employee, email = PAGE_LOGIN[0], _address()
    before = _opted_out(notifier)
    _choose(ingest, "no")
    wait_for(lambda: _opted_out(notifier) > before, "the opt-out read by the notifier")
    _report(producer, _case(email, employee_id=employee), record="31")
    _marker(producer, sink)
    assert sink.to(email) == []

    _choose(ingest, "yes")
    wait_for(lambda: _opted_out(notifier) == before, "the opt-in read by the notifier")
    _report(producer, _case(email, employee_id=employee), record="32")
    [mail] = sink.wait_for(lambda m: m["To"] == email)
    assert "ticket #32" in _plain(mail)
