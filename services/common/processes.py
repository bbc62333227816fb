"""Child processes that never outlive their parent: the embedded broker and the
services that `antenna up` starts."""

from __future__ import annotations

import ctypes
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

from services.common.metrics import WORKER_READY_METRIC

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Linux: the kernel sends SIGTERM to the child when its parent dies, even by SIGKILL.
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


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
