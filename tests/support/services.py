"""Run Antenna's services as real processes for integration tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

from services.common.broker import EMBEDDED_BROKER_ENV, EmbeddedBroker, free_port
from services.common.kafka import ensure_topics
from services.common.processes import (
    NotReady,
    healthy,
    spawn,
    terminate,
    wait_for_http,
    worker_ready,
)
from tests.support.kafka import broker_settings

API_KEY = "integration-test-key-0123456789"
WORKER_METRICS_PORTS = {  # where each stream worker serves antenna_worker_ready
    "processor": "ANTENNA_PROCESSOR_METRICS_PORT",
    "connectors": "ANTENNA_CONNECTORS_METRICS_PORT",
    "notifier": "ANTENNA_NOTIFIER_METRICS_PORT",
    "insight": "ANTENNA_INSIGHT_METRICS_PORT",
}
_LIVE: list[Services] = []  # started and not yet stopped, for failure reports
WEBHOOK_SECRET = "integration-webhook-secret-0123456789"
T = TypeVar("T")


def service_env(bootstrap: str, var_dir: Path, extra: Mapping[str, str] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTENNA_")}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "ANTENNA_VAR_DIR": str(var_dir),
            "ANTENNA_API_KEYS": API_KEY,
            "ANTENNA_API_PORT": str(free_port()),
            "ANTENNA_SMTP_PORT": str(free_port()),
            "ANTENNA_PROCESSOR_METRICS_PORT": str(free_port()),
            "ANTENNA_CONNECTORS_METRICS_PORT": str(free_port()),
            "ANTENNA_NOTIFIER_METRICS_PORT": str(free_port()),
            "ANTENNA_INSIGHT_METRICS_PORT": str(free_port()),
            "ANTENNA_KAFKA_SESSION_TIMEOUT_S": "6",
            **EMBEDDED_BROKER_ENV,  # a one-node broker; Tansu's watermark (CommonSettings)
            "ANTENNA_DELIVERY_BASE_DELAY_S": "0.05",
            "ANTENNA_LOG_LEVEL": "INFO",
        }
    )
    env.update(dict(extra))
    return env


@dataclass(eq=False)  # identity: a live set of running stacks
class Services:
    env: dict[str, str]
    var_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.env['ANTENNA_API_PORT']}"

    def start(self, *names: str) -> None:
        if self not in _LIVE:
            _LIVE.append(self)
        for name in names:
            self.procs[name] = spawn(
                [sys.executable, "-m", "services.cli", name], self.log(name), self.env
            )
        for name in names:
            self.wait_until_ready(name)

    def log(self, name: str) -> Path:
        return self.var_dir / "log" / f"{name}.log"

    def wait_until_ready(self, name: str, timeout_s: float = 60) -> None:
        """Until ingest answers, or a worker owns its partitions with its tables restored."""
        if name == "ingest":
            url, ready = f"{self.api}/healthz", healthy
        else:
            url, ready = f"http://127.0.0.1:{self.env[WORKER_METRICS_PORTS[name]]}/", worker_ready
        try:
            wait_for_http(name, self.procs[name], url, ready, self.log(name), timeout_s)
        except NotReady as exc:
            raise AssertionError(str(exc)) from None

    def stop(self, *names: str) -> None:
        for name in names or list(self.procs):
            proc = self.procs.pop(name, None)
            if proc is not None:
                terminate(proc)
        if not self.procs and self in _LIVE:
            _LIVE.remove(self)

    def kill(self, name: str) -> None:
        """SIGKILL: a crash, with no chance to flush, commit or leave the group."""
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait()

    def log_tails(self, lines: int = 40) -> list[tuple[str, str]]:
        tails = []
        for path in sorted((self.var_dir / "log").glob("*.log")):
            text = "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            tails.append((f"{path.stem} log, last {lines} lines", text))
        return tails

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    @contextmanager
    def running_with(self, name: str, env: Mapping[str, str]) -> Iterator[subprocess.Popen[bytes]]:
        """Restart ``name`` with ``env`` added (armed to crash, say) for the block; it
        runs as before afterwards, whether it exited meanwhile or not."""
        saved = dict(self.env)
        self.stop(name)
        self.env.update(env)
        try:
            self.start(name)
            yield self.procs[name]
        finally:
            self.env.clear()
            self.env.update(saved)
            self.stop(name)
            self.start(name)

    def post(self, body: dict[str, object], **headers: str) -> httpx.Response:
        return httpx.post(
            f"{self.api}/v1/signals",
            json=body,
            headers={"Authorization": f"Bearer {API_KEY}", **headers},
            timeout=30,
        )


def live_services() -> list[Services]:
    return list(_LIVE)


@contextmanager
def stack_on_own_broker(var_dir: Path, extra: Mapping[str, str], *names: str) -> Iterator[Services]:
    """``names`` (default: ingest, processor and connectors) on an embedded broker of
    their own, configured by ``extra`` (e.g. a connector): their consumer groups must not
    meet the session pipeline's."""
    broker = EmbeddedBroker(var_dir / "broker.log")
    bootstrap = broker.start()
    try:
        ensure_topics(broker_settings(bootstrap, topic_partitions=3))
        services = Services(service_env(bootstrap, var_dir, extra), var_dir)
        try:
            services.start(*(names or ("ingest", "processor", "connectors")))
            yield services
        finally:
            services.stop()
    finally:
        broker.stop()


def wait_for(check: Callable[[], T], what: str, timeout_s: float = 60) -> T:
    """``check()``'s first truthy answer; AssertionError saying ``what`` is missing if none
    comes within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout_s}s")
