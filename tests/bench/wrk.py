"""Drive an HTTP endpoint with wrk (Debian package `wrk`, installed by
deploy/ci/install-test-tools.sh): POST /v1/signals with a JSON body and a fresh
Idempotency-Key per request, as a form tool posting reports would. A Lua ``done`` hook
prints the figures as one JSON line, so nothing is scraped from wrk's text."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LUA = """
wrk.method = "POST"
wrk.body = %(body)s
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. %(key)s
local threads, counter, prefix = {}, 0, "k"
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  prefix = %(run)s .. "-" .. tostring(tid) .. "-"
end
function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = prefix .. counter
  return wrk.format()
end
function done(summary, latency, requests)
  io.write(string.format(
    'WRK-JSON {"requests": %%d, "duration_us": %%d, "non2xx": %%d, "connect": %%d, ' ..
    '"read": %%d, "write": %%d, "timeout": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int  # non-2xx answers, and connect/read/write errors and timeouts
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid Lua string literal for this text


def run_wrk(
    url: str,
    body: dict[str, Any],
    api_key: str,
    seconds: float,
    connections: int,
    run: str,
    threads: int = 2,
) -> WrkResult:
    """POST ``body`` to ``url`` for ``seconds`` over ``connections`` connections. ``run``
    prefixes the Idempotency-Keys, so that two runs never share one."""
    if not wrk_available():
        raise SystemExit("wrk is not installed: run deploy/ci/install-test-tools.sh as root")
    script = LUA % {
        "body": _lua_string(json.dumps(body)),
        "key": _lua_string(api_key),
        "run": _lua_string(run),
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "post.lua"
        path.write_text(script)
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(path),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        ).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK-JSON "))
    data = json.loads(line.removeprefix("WRK-JSON "))
    errors = sum(data[k] for k in ("non2xx", "connect", "read", "write", "timeout"))
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=errors,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )
