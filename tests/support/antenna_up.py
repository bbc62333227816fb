"""A real `antenna up` as a subprocess, for end-to-end tests: its console read as it
comes, its services found by process id, and a stop that must leave nothing behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from services.common.broker import free_port
from services.common.processes import worker_ready

ANTENNA = [sys.executable, "-m", "services.cli"]


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    return parents


def descendants(pid: int) -> set[int]:
    """Every descendant of ``pid``, from /proc."""
    parents = _parents()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Stack:
    """A running `antenna up`, its console output read as it comes."""

    def __init__(self, var: Path, extra: Mapping[str, str] = ()) -> None:
        self.var = var
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("ANTENNA_") and k != "KAFKA_BOOTSTRAP_SERVERS"
        }
        port = free_port()
        self.env.update(
            {
                "ANTENNA_VAR_DIR": str(var),
                "ANTENNA_API_PORT": str(port),
                "ANTENNA_SMTP_PORT": str(free_port()),
                "ANTENNA_PROCESSOR_METRICS_PORT": str(free_port()),
                "ANTENNA_CONNECTORS_METRICS_PORT": str(free_port()),
                "ANTENNA_NOTIFIER_METRICS_PORT": str(free_port()),
                "ANTENNA_INSIGHT_METRICS_PORT": str(free_port()),
                "ANTENNA_INSIGHT_PUBLISH_INTERVAL_S": "1",
                "ANTENNA_API_URL": f"http://127.0.0.1:{port}",
                "ANTENNA_KAFKA_SESSION_TIMEOUT_S": "6",
            }
        )
        self.env.update(dict(extra))
        self.api = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self._more = threading.Condition()
        self.proc = subprocess.Popen(
            [*ANTENNA, "up"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._more:
                self.lines.append(line)
                self._more.notify_all()

    def wait_for_line(self, pattern: str, timeout_s: float = 120) -> re.Match[str]:
        """The first console line matching ``pattern``, once `antenna up` prints it."""
        deadline = time.monotonic() + timeout_s
        with self._more:
            while True:
                for line in self.lines:
                    if found := re.search(pattern, line):
                        return found
                left = deadline - time.monotonic()
                assert left > 0, f"no line matching {pattern!r}:\n{''.join(self.lines)}"
                assert self.proc.poll() is None, f"antenna up exited:\n{''.join(self.lines)}"
                self._more.wait(min(left, 1.0))

    def service_pid(self, name: str) -> int:
        # A direct child: a service's own worker processes (forked, so with the same
        # command line) are its children.
        parents = _parents()
        [pid] = [
            p
            for p in descendants(self.proc.pid)
            if parents.get(p) == self.proc.pid and f"services.cli {name}" in _cmdline(p)
        ]
        return pid

    def broker_pid(self) -> int:
        [pid] = [p for p in descendants(self.proc.pid) if "tansu" in _cmdline(p)]
        return pid

    def wait_until_ready(self, worker: str, timeout_s: float = 120) -> None:
        port = self.env[f"ANTENNA_{worker.upper()}_METRICS_PORT"]
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if worker_ready(httpx.get(f"http://127.0.0.1:{port}/", timeout=2)):
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{worker} not ready again in {timeout_s}s"
            time.sleep(0.2)

    def send(self, text: str) -> str:
        sent = subprocess.run(
            [*ANTENNA, "send", "--text", text],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        status, body = sent.stdout.split(" ", 1)
        assert status == "202"
        return str(json.loads(body)["signal_id"])

    def wait_for_delivery(self, signal_id: str, timeout_s: float = 90) -> dict[str, object]:
        outbox = self.var / "outbox" / "servicedesk.jsonl"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if outbox.exists():
                for line in outbox.read_text().splitlines():
                    entry: dict[str, object] = json.loads(line)
                    if signal_id in line:
                        return entry
            time.sleep(0.2)
        pytest.fail(f"{signal_id} did not reach {outbox}")


@contextmanager
def antenna_up(var: Path, extra: Mapping[str, str] = ()) -> Iterator[Stack]:
    """`antenna up` until the block ends; then Ctrl-C must end it with code 0 and leave
    no process behind, restarted ones included."""
    running = Stack(var, extra)
    try:
        running.wait_for_line("Ctrl-C stops everything")
        yield running
    finally:
        family = descendants(running.proc.pid)
        running.proc.send_signal(signal.SIGINT)
        assert running.proc.wait(60) == 0, "".join(running.lines)
        deadline = time.monotonic() + 10
        while (left := [pid for pid in family if _alive(pid)]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, f"processes left behind: {[_cmdline(p) for p in left]}"
