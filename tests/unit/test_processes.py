"""Waiting for a started service: ready, exited, or out of time, with its log named."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from services.common.broker import free_port
from services.common.processes import NotReady, spawn, terminate, wait_for_http, worker_ready

METRICS = """# HELP antenna_worker_ready 1 while ...
# TYPE antenna_worker_ready gauge
antenna_worker_ready{{app="antenna-processor"}} {value}
antenna_worker_readiness_checks_total 1.0
"""


def _response(text: str) -> httpx.Response:
    return httpx.Response(200, text=text)


def test_worker_ready_reads_the_gauge() -> None:
    assert worker_ready(_response(METRICS.format(value="1.0")))
    assert not worker_ready(_response(METRICS.format(value="0.0")))
    assert not worker_ready(_response("antenna_worker_ready 1.0\n"))  # unlabelled: not ours
    assert not worker_ready(_response(""))


def test_a_service_that_exits_is_named_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "quitter.log"
    proc = spawn([sys.executable, "-c", "raise SystemExit(3)"], log)
    with pytest.raises(NotReady, match=rf"quitter exited with code 3; see {log}"):
        wait_for_http("quitter", proc, f"http://127.0.0.1:{free_port()}/", worker_ready, log)


def test_a_service_that_never_answers_times_out(tmp_path: Path) -> None:
    log = tmp_path / "sleeper.log"
    proc = spawn([sys.executable, "-c", "import time; time.sleep(30)"], log)
    try:
        with pytest.raises(NotReady, match=r"sleeper not ready at .* within 1s"):
            url = f"http://127.0.0.1:{free_port()}/"
            wait_for_http("sleeper", proc, url, worker_ready, log, timeout_s=1)
    finally:
        terminate(proc)
