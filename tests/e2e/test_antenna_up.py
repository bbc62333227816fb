"""What a user does: `antenna up`, `antenna send`, find it in the outbox, Ctrl-C. And
what `antenna up` does when a service dies under it: start it again, keep the broker."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.common.broker import free_port
from services.common.processes import worker_ready
from tests.support.services import wait_for

pytestmark = pytest.mark.e2e
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


def _children(pid: int) -> set[int]:
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

    def __init__(self, var: Path) -> None:
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
            for p in _children(self.proc.pid)
            if parents.get(p) == self.proc.pid and f"services.cli {name}" in _cmdline(p)
        ]
        return pid

    def broker_pid(self) -> int:
        [pid] = [p for p in _children(self.proc.pid) if "tansu" in _cmdline(p)]
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


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One `antenna up` for this module; stopping it is checked when the module is done:
    Ctrl-C ends it with code 0 and leaves no process behind, restarted ones included."""
    running = Stack(tmp_path_factory.mktemp("up") / "var")
    try:
        running.wait_for_line("Ctrl-C stops everything")
        yield running
    finally:
        family = _children(running.proc.pid)
        running.proc.send_signal(signal.SIGINT)
        assert running.proc.wait(60) == 0, "".join(running.lines)
        deadline = time.monotonic() + 10
        while (left := [pid for pid in family if _alive(pid)]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, f"processes left behind: {[_cmdline(p) for p in left]}"


COMPLAINT = "My neighbour's bank card has been declined three times this week; she is fed up."


def test_up_prints_where_everything_is_and_send_reaches_the_outbox(stack: Stack) -> None:
    banner = "".join(stack.lines)
    assert "Development API key" in banner, banner
    assert (stack.var / "dev-api-key").read_text().strip() in banner
    assert stack.api in banner
    assert len(_children(stack.proc.pid)) >= 5, "broker, ingest, processor, connectors, notifier"
    assert stack.service_pid("notifier")

    signal_id = stack.send(f"{COMPLAINT} [{time.time_ns()}]")
    line = stack.wait_for_delivery(signal_id)
    routed = line["routed"]
    assert isinstance(routed, dict)
    assert routed["classification"]["kind"] == "complaint"


def test_the_development_login_sees_the_story_and_the_insight(stack: Stack) -> None:
    """A newcomer's `antenna send`: its status page tells the story with the record, and
    the development login (an operator under `antenna up`) sees it counted on /insight."""
    assert "/insight" in "".join(stack.lines)
    login = tuple((stack.var / "dev-report-login").read_text().strip().split(":", 1))
    signal_id = stack.send(f"{COMPLAINT} [{time.time_ns()}]")
    stack.wait_for_delivery(signal_id)

    def story_and_count() -> str | None:
        status = httpx.get(f"{stack.api}/report/status/{signal_id}", auth=login, timeout=10)
        insight = httpx.get(f"{stack.api}/v1/insight", auth=login, timeout=10)
        counted = insight.status_code == 200 and insight.json()["outcomes"]["recorded"] >= 1
        return status.text if "opened at the service desk" in status.text and counted else None

    page = wait_for(story_and_count, "the record on the status page and on /insight")
    assert "What happened" in page and "Received" in page


def test_a_killed_processor_is_restarted_and_a_later_signal_is_delivered(stack: Stack) -> None:
    broker, processor = stack.broker_pid(), stack.service_pid("processor")
    os.kill(processor, signal.SIGKILL)

    stack.wait_for_line(r"processor exited with code -9 after [\d.]+s; restarting in \d+s")
    restarted = int(stack.wait_for_line(r"processor restarted \(pid (\d+)\)").group(1))
    assert restarted != processor
    # antenna up tells the console first, then appends to the log: wait for the log.
    log = stack.var / "log" / "processor.log"
    restart_line = f"antenna up: processor restarted (pid {restarted})"
    wait_for(lambda: restart_line in log.read_text(), f"{restart_line!r} in {log}")
    assert "antenna up: processor exited with code -9" in log.read_text()
    stack.wait_until_ready("processor")

    # The stack stayed up around it: the same broker (so its in-memory data), still running.
    assert stack.proc.poll() is None
    assert stack.broker_pid() == broker
    assert stack.service_pid("processor") == restarted
    signal_id = stack.send(f"{COMPLAINT} [{time.time_ns()}]")
    stack.wait_for_delivery(signal_id)
