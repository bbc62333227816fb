"""Waiting for a started service: ready, exited, or out of time, with its log named."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from services.common.broker import free_port
from services.common.processes import (
    NotReady,
    RestartBackoff,
    Supervisor,
    signals_deferred,
    spawn,
    terminate,
    wait_for_http,
    worker_ready,
)

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


# ----------------------------------------------------------------- restarts (antenna up)

QUIT = [sys.executable, "-c", "raise SystemExit(3)"]
SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_restart_backoff_doubles_up_to_its_cap_and_starts_over_after_a_stable_run() -> None:
    backoff = RestartBackoff(first_s=1, max_s=30, stable_s=60)
    deaths, delays = 0, []
    for _ in range(7):
        deaths = backoff.deaths_in_a_row(deaths, ran_s=2)
        delays.append(backoff.delay(deaths))
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.deaths_in_a_row(deaths, ran_s=60) == 1  # it had been running fine


def test_a_dead_worker_is_restarted_after_a_backoff_and_a_crash_loop_is_named(
    tmp_path: Path,
) -> None:
    clock, lines = Clock(), []
    supervisor = Supervisor(RestartBackoff(first_s=1, max_s=30), report=lines.append, clock=clock)
    log = tmp_path / "quitter.log"
    first = supervisor.start("quitter", QUIT, log)
    try:
        first.wait()
        clock.now = 0.5
        supervisor.check()
        assert lines == [f"quitter exited with code 3 after 0.5s; restarting in 1s; see {log}"]
        clock.now = 1.4
        supervisor.check()
        assert supervisor.process("quitter") is first  # not before its time
        clock.now = 1.5
        supervisor.check()
        second = supervisor.process("quitter")
        assert second is not first
        assert lines[-1] == f"quitter restarted (pid {second.pid})"

        second.wait()
        clock.now = 1.6
        supervisor.check()
        assert lines[-1].startswith("quitter exited with code 3 after 0.1s; restarting in 2s")
        clock.now = 3.6
        supervisor.check()
        supervisor.process("quitter").wait()
        clock.now = 3.7
        supervisor.check()
        assert lines[-1] == (
            "quitter keeps exiting right after it starts (3 times in a row, last with code 3); "
            f"restarting in 4s; see {log}"
        )
        written = [line for line in log.read_text().splitlines() if line.startswith("antenna up:")]
        assert written == [f"antenna up: {line}" for line in lines]
    finally:
        supervisor.stop()


def test_stop_ends_every_worker(tmp_path: Path) -> None:
    supervisor = Supervisor(report=lambda line: None)
    procs = [supervisor.start(name, SLEEP, tmp_path / f"{name}.log") for name in ("a", "b")]
    supervisor.check()
    supervisor.stop()
    assert [p.returncode for p in procs] == [-15, -15]


def test_a_child_does_not_inherit_deferred_signals(tmp_path: Path) -> None:
    """Started while Ctrl-C and SIGTERM are held back, a child still stops on SIGTERM."""
    with signals_deferred():
        proc = spawn(SLEEP, tmp_path / "child.log")
    assert terminate(proc, timeout_s=10) == -15
