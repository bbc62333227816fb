"""`antenna up`: the whole system on one machine. Starts the embedded broker (unless
KAFKA_BOOTSTRAP_SERVERS points elsewhere), creates the topics, then runs ingest,
processor and connectors as child processes until Ctrl-C or SIGTERM. A service that
dies is started again after a backoff; the broker, and the data it holds in memory,
stays until Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from services.common.broker import EMBEDDED_BROKER_ENV, EmbeddedBroker, free_port
from services.common.kafka import ensure_topics
from services.common.processes import (
    NotReady,
    RestartBackoff,
    Supervisor,
    healthy,
    wait_for_http,
    worker_ready,
)
from services.common.settings import CommonSettings, KafkaSecurityProtocol
from services.connectors.app import build_connectors
from services.connectors.settings import ConnectorSettings
from services.connectors.startup import check_connectors
from services.ingest.settings import IngestSettings
from services.insight.settings import InsightSettings
from services.notifier.settings import NotifierSettings
from services.processor.settings import ProcessorSettings

SERVICES = ("ingest", "processor", "connectors", "notifier", "insight")
DEFAULT_BROKER_PORT = 9092
BOOTSTRAP_VARIABLES = ("KAFKA_BOOTSTRAP_SERVERS", "ANTENNA_KAFKA_BOOTSTRAP_SERVERS")
RESTART_BACKOFF = RestartBackoff(first_s=1.0, max_s=30.0, stable_s=60.0)


@dataclass(frozen=True)
class Paths:
    var: Path

    @property
    def api_key(self) -> Path:
        return self.var / "dev-api-key"

    @property
    def report_login(self) -> Path:
        return self.var / "dev-report-login"

    @property
    def bootstrap(self) -> Path:
        return self.var / "run" / "bootstrap"

    def log(self, name: str) -> Path:
        return self.var / "log" / f"{name}.log"


def dev_secret(path: Path, make: Callable[[], str]) -> str:
    """A development secret: reused from ``path``, or generated there (mode 0600)."""
    if path.exists():
        return path.read_text().strip()
    value = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value


def external_broker() -> bool:
    return any(name in os.environ for name in BOOTSTRAP_VARIABLES)


def resolve_bootstrap(settings: CommonSettings) -> str:
    """For CLI helpers: the environment, else the broker a running `antenna up` wrote down."""
    if external_broker():
        return settings.kafka_bootstrap_servers
    path = Paths(settings.var_dir).bootstrap
    return path.read_text().strip() if path.exists() else settings.kafka_bootstrap_servers


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def up() -> int:
    embedded = not external_broker()
    if embedded:
        for name, value in EMBEDDED_BROKER_ENV.items():
            os.environ.setdefault(name, value)
    settings = CommonSettings()
    if embedded and settings.kafka_security_protocol is not KafkaSecurityProtocol.PLAINTEXT:
        print(
            f"ANTENNA_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} needs "
            "KAFKA_BOOTSTRAP_SERVERS: the embedded broker speaks PLAINTEXT only.",
            file=sys.stderr,
        )
        return 2
    paths = Paths(settings.var_dir)
    if not os.environ.get("ANTENNA_API_KEYS"):
        os.environ["ANTENNA_API_KEYS"] = dev_secret(
            paths.api_key, lambda: secrets.token_urlsafe(32)
        )
        print(f"Development API key: {os.environ['ANTENNA_API_KEYS']}  (saved in {paths.api_key})")
    if not os.environ.get("ANTENNA_REPORT_USERS") and not os.environ.get(
        "ANTENNA_REPORT_TRUSTED_USER_HEADER"
    ):
        login = dev_secret(paths.report_login, lambda: f"employee:{secrets.token_urlsafe(12)}")
        os.environ["ANTENNA_REPORT_USERS"] = login
        print(f"Report page login: {login}  (saved in {paths.report_login})")
        if not os.environ.get("ANTENNA_OPERATORS"):
            # On a development machine the one login may also see /insight and every status.
            os.environ["ANTENNA_OPERATORS"] = login.partition(":")[0]
    # Validate every service's configuration before starting anything.
    ingest, processor, connectors = IngestSettings(), ProcessorSettings(), ConnectorSettings()
    notifier, insight = NotifierSettings(), InsightSettings()
    check_connectors(build_connectors(connectors))  # credentials too, not only their shape
    env = dict(os.environ)
    broker: EmbeddedBroker | None = None
    supervisor = Supervisor(RESTART_BACKOFF)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        if embedded:
            port = DEFAULT_BROKER_PORT if _port_free(DEFAULT_BROKER_PORT) else free_port()
            broker = EmbeddedBroker(paths.log("broker"), port=port)
            bootstrap = broker.start()
            paths.bootstrap.parent.mkdir(parents=True, exist_ok=True)
            paths.bootstrap.write_text(bootstrap + "\n")
            env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
            settings = settings.model_copy(update={"kafka_bootstrap_servers": bootstrap})
        bootstrap = settings.kafka_bootstrap_servers
        ensure_topics(settings)
        for name in SERVICES:
            supervisor.start(
                name, [sys.executable, "-m", "services.cli", name], paths.log(name), env
            )
        api = f"http://{ingest.api_host}:{ingest.api_port}"
        p_host, p_port = processor.processor_metrics_host, processor.processor_metrics_port
        c_host, c_port = connectors.connectors_metrics_host, connectors.connectors_metrics_port
        n_host, n_port = notifier.notifier_metrics_host, notifier.notifier_metrics_port
        i_host, i_port = insight.insight_metrics_host, insight.insight_metrics_port
        print(
            "Starting: broker up; waiting for ingest, processor, connectors, notifier and "
            "insight...",
            flush=True,
        )
        waits = [
            ("ingest", f"{api}/healthz", healthy, 30.0),
            ("processor", f"http://{p_host}:{p_port}/", worker_ready, 90.0) if p_port else None,
            ("connectors", f"http://{c_host}:{c_port}/", worker_ready, 90.0) if c_port else None,
            ("notifier", f"http://{n_host}:{n_port}/", worker_ready, 90.0) if n_port else None,
            ("insight", f"http://{i_host}:{i_port}/", worker_ready, 90.0) if i_port else None,
        ]  # a worker whose metrics are switched off (port 0) cannot be asked
        for name, url, ready, timeout_s in filter(None, waits):
            try:
                # A service that cannot start at all is a configuration problem: stop.
                wait_for_http(
                    name, supervisor.process(name), url, ready, paths.log(name), timeout_s
                )
            except NotReady as exc:
                print(exc, file=sys.stderr)
                return 1
        print(f"Kafka:    {bootstrap}{' (embedded, in memory)' if broker else ''}")
        print(f"API:      {api}  (POST /v1/signals, GET /healthz, /readyz)")
        print(f"Report:   {api}/report  (the page employees use)")
        print(f"Insight:  {api}/insight  (for ANTENNA_OPERATORS: what the programme achieves)")
        smtp = f"{ingest.smtp_host}:{ingest.smtp_port}"
        print(f"SMTP:     {smtp}  (mail to a signal address becomes a signal)")
        print(
            f"Metrics:  {api}/metrics (ingest), http://{p_host}:{p_port}/ (processor), "
            f"http://{c_host}:{c_port}/ (connectors), http://{n_host}:{n_port}/ (notifier), "
            f"http://{i_host}:{i_port}/ (insight)"
        )
        for name, dest in connectors.destinations().items():
            print(f"Delivery: {name} -> {dest.connector}")
        print(f"Outbox:   {settings.var_dir / 'outbox'}/<destination>.jsonl")
        print(f"Logs:     {paths.log('*')}")
        print("Try `antenna send` in another terminal. Ctrl-C stops everything.", flush=True)
        while True:  # from here on a service that dies is restarted; only a signal stops
            supervisor.check()
            time.sleep(0.2)
    except _Stop:
        print("Stopping...", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop()
        if broker is not None:
            broker.stop()
            paths.bootstrap.unlink(missing_ok=True)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        return s.connect_ex(("127.0.0.1", port)) != 0
