"""What a user does: `antenna up`, `antenna send`, find it in the outbox, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.common.broker import free_port

pytestmark = pytest.mark.e2e


def _children(pid: int) -> set[int]:
    """Every descendant of ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_up_send_outbox_and_clean_stop(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ANTENNA_") and k != "KAFKA_BOOTSTRAP_SERVERS"
    }
    port = free_port()
    env.update(
        {
            "ANTENNA_VAR_DIR": str(tmp_path / "var"),
            "ANTENNA_API_PORT": str(port),
            "ANTENNA_SMTP_PORT": str(free_port()),
            "ANTENNA_PROCESSOR_METRICS_PORT": str(free_port()),
            "ANTENNA_CONNECTORS_METRICS_PORT": str(free_port()),
            "ANTENNA_NOTIFIER_METRICS_PORT": str(free_port()),
            "ANTENNA_API_URL": f"http://127.0.0.1:{port}",
            "ANTENNA_KAFKA_SESSION_TIMEOUT_S": "6",
        }
    )
    antenna = [sys.executable, "-m", "services.cli"]
    up = subprocess.Popen(
        [*antenna, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        banner = []
        assert up.stdout is not None
        for line in up.stdout:
            banner.append(line)
            if "Ctrl-C stops everything" in line:
                break
        text = "".join(banner)
        assert "Development API key" in text, text
        assert (tmp_path / "var" / "dev-api-key").read_text().strip() in text
        assert f"http://127.0.0.1:{port}" in text
        family = _children(up.pid)
        assert len(family) >= 4, "broker, ingest, processor and connectors run"

        sent = subprocess.run(
            [*antenna, "send"], env=env, capture_output=True, text=True, timeout=60
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        status, body = sent.stdout.split(" ", 1)
        assert status == "202"
        signal_id = json.loads(body)["signal_id"]

        outbox = tmp_path / "var" / "outbox" / "servicedesk.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if outbox.exists() and signal_id in outbox.read_text():
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"{signal_id} did not reach {outbox}")
        [line] = [json.loads(x) for x in outbox.read_text().splitlines()]
        assert line["routed"]["classification"]["kind"] == "complaint"
    finally:
        up.send_signal(signal.SIGINT)
        assert up.wait(30) == 0
    time.sleep(0.5)
    assert not [pid for pid in family if _alive(pid)], "processes left behind"
