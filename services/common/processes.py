"""Child processes that never outlive their parent: the embedded broker and the
services that `antenna up` starts, and the supervisor that restarts them."""

from __future__ import annotations

import ctypes
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.common.metrics import WORKER_READY_METRIC

_PR_SET_PDEATHSIG = 1


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _die_with_parent() -> None:
    # Linux: the kernel sends SIGTERM to the child when its parent dies, even by SIGKILL.
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    # A child inherits the blocked-signal mask across exec: see signals_deferred.
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back until the block is done: a stop request that fell
    between starting a child and recording it would leave that child unaccounted for."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def spawn(
    cmd: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session (Ctrl-C reaches only the parent, which stops the
    children in order), with output appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(cmd),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


def terminate(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> int:
    """SIGTERM, then SIGKILL after ``timeout_s``; return the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


class NotReady(Exception):
    """A started service exited, or did not answer as expected in time."""


def wait_for_http(
    name: str,
    proc: subprocess.Popen[bytes],
    url: str,
    ready: Callable[[httpx.Response], bool],
    log_path: Path,
    timeout_s: float = 60.0,
) -> None:
    """Poll ``url`` until ``ready(response)``; NotReady, naming the log, when ``proc``
    exits first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise NotReady(f"{name} exited with code {proc.returncode}; see {log_path}")
        try:
            if ready(httpx.get(url, timeout=1)):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise NotReady(f"{name} not ready at {url} within {timeout_s:.0f}s; see {log_path}")


_WORKER_READY = re.compile(rf"^{WORKER_READY_METRIC}\{{[^}}]*\}} 1\.0$", re.MULTILINE)


def worker_ready(response: httpx.Response) -> bool:
    """For wait_for_http on a stream worker's metrics: it owns its partitions, with its
    tables restored (services.common.faust_app.ReadinessSensor)."""
    return _WORKER_READY.search(response.text) is not None


def healthy(response: httpx.Response) -> bool:
    return response.status_code == 200


@dataclass(frozen=True)
class RestartBackoff:
    """When a dead worker is started again: after ``first_s``, doubling with every death
    that follows soon after a start, up to ``max_s``. A worker that ran ``stable_s`` or
    longer before it died starts over at ``first_s``; ``crash_loop_after`` deaths in a
    row right after a start are reported as a crash loop."""

    first_s: float = 1.0
    max_s: float = 30.0
    stable_s: float = 60.0
    crash_loop_after: int = 3

    def deaths_in_a_row(self, previous: int, ran_s: float) -> int:
        return 1 if ran_s >= self.stable_s else previous + 1

    def delay(self, deaths_in_a_row: int) -> float:
        return float(min(self.max_s, self.first_s * 2 ** max(0, deaths_in_a_row - 1)))


@dataclass(eq=False)
class _Worker:
    cmd: list[str]
    log_path: Path
    env: dict[str, str] | None
    proc: subprocess.Popen[bytes]
    started_at: float
    deaths_in_a_row: int = 0
    restart_at: float | None = None


@dataclass
class Supervisor:
    """Keeps workers running: one that exits is started again after a backoff, and each
    death and restart is reported to ``report`` and written into the worker's own log.
    Call ``check()`` periodically; ``stop()`` ends them all, newest first."""

    backoff: RestartBackoff = field(default_factory=RestartBackoff)
    report: Callable[[str], None] = field(
        default=lambda line: print(line, file=sys.stderr, flush=True)
    )
    clock: Callable[[], float] = time.monotonic
    _workers: dict[str, _Worker] = field(default_factory=dict)

    def start(
        self, name: str, cmd: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with signals_deferred():
            proc = spawn(cmd, log_path, env)
            self._workers[name] = _Worker(
                list(cmd), log_path, dict(env) if env is not None else None, proc, self.clock()
            )
        return proc

    def process(self, name: str) -> subprocess.Popen[bytes]:
        return self._workers[name].proc

    def check(self) -> None:
        for name, worker in self._workers.items():
            now = self.clock()
            if worker.restart_at is None:
                code = worker.proc.poll()
                if code is not None:
                    self._schedule(name, worker, code, now)
            elif now >= worker.restart_at:
                with signals_deferred():
                    worker.proc = spawn(worker.cmd, worker.log_path, worker.env)
                    worker.started_at, worker.restart_at = now, None
                self._tell(name, worker, f"{name} restarted (pid {worker.proc.pid})")

    def _schedule(self, name: str, worker: _Worker, code: int, now: float) -> None:
        ran_s = now - worker.started_at
        worker.deaths_in_a_row = self.backoff.deaths_in_a_row(worker.deaths_in_a_row, ran_s)
        delay = self.backoff.delay(worker.deaths_in_a_row)
        worker.restart_at = now + delay
        line = f"{name} exited with code {code} after {ran_s:.1f}s; restarting in {delay:.0f}s"
        if worker.deaths_in_a_row >= self.backoff.crash_loop_after:
            line = (
                f"{name} keeps exiting right after it starts ({worker.deaths_in_a_row} times "
                f"in a row, last with code {code}); restarting in {delay:.0f}s"
            )
        self._tell(name, worker, f"{line}; see {worker.log_path}")

    def _tell(self, name: str, worker: _Worker, line: str) -> None:
        # The service's log first: whoever reads the console line finds it there too.
        with worker.log_path.open("a") as log:
            log.write(f"antenna up: {line}\n")
        self.report(line)

    def stop(self) -> None:
        for name in reversed(list(self._workers)):
            terminate(self._workers.pop(name).proc)
