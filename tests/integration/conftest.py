from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.common.kafka import ensure_topics
from tests.support.broker import kafka_for_tests
from tests.support.desk import Desk
from tests.support.http_recorder import Recorder
from tests.support.kafka import broker_settings
from tests.support.mail_sink import MailSink
from tests.support.services import WEBHOOK_SECRET, Services, live_services, service_env

SAMPLE_RULES = Path(__file__).parents[2] / "deploy" / "config" / "routing.yaml"
# The pipeline's mail: what its ingest takes as signals, and how its notifier answers.
SIGNAL_ADDRESS = "signals@antenna.example.com"
EMPLOYEE_DOMAIN = "bank.example.com"
PUBLIC_URL = "https://antenna.example.com"
NOTIFY_FROM = "Antenna <antenna@notify.example.com>"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder needs a real broker: `-m integration` selects them.
    (A `pytestmark` in a conftest marks nothing; only test modules' own count.)"""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with kafka_for_tests(tmp_path_factory.mktemp("kafka")) as bootstrap:
        ensure_topics(broker_settings(bootstrap, topic_partitions=3))
        yield bootstrap


@pytest.fixture(scope="module")
def desk() -> Iterator[Desk]:
    """A signed test service desk (webhook) of the module's own."""
    server = Desk(WEBHOOK_SECRET)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


@pytest.fixture(scope="session")
def mail_relay() -> Iterator[MailSink]:
    """The SMTP relay the pipeline's notifier sends through (aiosmtpd on loopback)."""
    relay = MailSink().start()
    yield relay
    relay.stop()


@pytest.fixture(scope="session")
def pipeline(
    kafka: str,
    recorder: Recorder,
    mail_relay: MailSink,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Services]:
    """Ingest, processor, connectors and notifier as real processes on the test broker,
    delivering complaints to <recorder>/desk and opportunities to <recorder>/crm over
    signed webhooks; mail to SIGNAL_ADDRESS from EMPLOYEE_DOMAIN becomes a signal, and
    employees hear back through ``mail_relay``."""
    var_dir: Path = tmp_path_factory.mktemp("var")
    rules = var_dir / "routing.yaml"
    rules.write_text(SAMPLE_RULES.read_text())
    services = Services(
        service_env(
            kafka,
            var_dir,
            {
                "ANTENNA_ROUTING_RULES": str(rules),
                "ANTENNA_RULES_RELOAD_INTERVAL_S": "0.5",
                "ANTENNA_SERVICEDESK__CONNECTOR": "webhook",
                "ANTENNA_SERVICEDESK__URL": f"{recorder.url}/desk",
                "ANTENNA_SERVICEDESK__SECRET": WEBHOOK_SECRET,
                "ANTENNA_CRM__CONNECTOR": "webhook",
                "ANTENNA_CRM__URL": f"{recorder.url}/crm",
                "ANTENNA_CRM__SECRET": WEBHOOK_SECRET,
                "ANTENNA_SIGNAL_ADDRESSES": SIGNAL_ADDRESS,
                "ANTENNA_ALLOWED_SENDER_DOMAINS": EMPLOYEE_DOMAIN,
                "ANTENNA_NOTIFY_SMTP_HOST": "127.0.0.1",
                "ANTENNA_NOTIFY_SMTP_PORT": str(mail_relay.port),
                "ANTENNA_NOTIFY_FROM": NOTIFY_FROM,
                "ANTENNA_PUBLIC_URL": PUBLIC_URL,
            },
        ),
        var_dir,
    )
    services.start("ingest", "processor", "connectors", "notifier")
    yield services
    services.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """A failing test shows the logs of the services it ran against, so a failure on a
    CI machine can be read from its output alone."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for services in live_services():
            report.sections.extend(services.log_tails())
