"""The whole pipeline for the end-to-end benchmarks: the embedded broker, ingest,
processor, connectors and notifier as `antenna up` runs them, both destinations on the
webhook connector to a real HTTP receiver on loopback that checks each signature and
notes when each signal arrived. And a load generator that posts at a fixed rate."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from services.common.broker import EmbeddedBroker
from services.common.kafka import ensure_topics
from tests.bench.bench_processor import signals
from tests.support.http_recorder import Request, signed
from tests.support.kafka import broker_settings
from tests.support.services import API_KEY, WEBHOOK_SECRET, Services, service_env

SERVICES = ("ingest", "processor", "connectors", "notifier", "insight")


@dataclass
class Receiver:
    """A desk and a CRM in one: the first delivery of each signal, with its latency from
    ``received_at`` (ingest's clock, the same machine) to its arrival here."""

    arrivals: dict[str, float] = field(default_factory=dict)  # signal_id -> seconds
    arrived: dict[str, float] = field(default_factory=dict)  # signal_id -> epoch seconds
    deliveries: int = 0
    refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request: Request) -> bool:
        arrived = time.time()
        if not signed(request, WEBHOOK_SECRET):
            with self._lock:
                self.refused += 1
            return False
        signal = json.loads(request.body)["signal"]
        received = datetime.fromisoformat(signal["received_at"]).timestamp()
        with self._lock:
            self.deliveries += 1
            self.arrivals.setdefault(signal["signal_id"], arrived - received)
            self.arrived.setdefault(signal["signal_id"], arrived)
        return True

    def reset(self) -> None:
        with self._lock:
            self.arrivals.clear()
            self.arrived.clear()
            self.deliveries = self.refused = 0

    def latencies(self) -> list[float]:
        with self._lock:
            return sorted(self.arrivals.values())

    def arrived_at(self) -> dict[str, float]:
        with self._lock:
            return dict(self.arrived)

    def count(self) -> int:
        with self._lock:
            return len(self.arrivals)

    @contextmanager
    def serving(self) -> Iterator[str]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                ok = receiver.record(Request(self.path, dict(self.headers), body))
                answer = json.dumps({"id": "EXT-1", "url": "http://desk.test/1"}).encode()
                self.send_response(201 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


@contextmanager
def pipeline(
    tmp: Path, receiver: Receiver, log_level: str = "WARNING", env: Mapping[str, str] = {}
) -> Iterator[tuple[Services, int]]:
    """The stack on its own broker, ``env`` added to the services' environment; yields it
    and the broker's pid."""
    with receiver.serving() as url, EmbeddedBroker(tmp / "broker.log") as broker:
        ensure_topics(broker_settings(broker.bootstrap, topic_partitions=3))
        extra = {**webhook_env(url, log_level), **env}
        services = Services(service_env(broker.bootstrap, tmp, extra), tmp)
        services.start(*SERVICES)
        try:
            yield services, broker.pid or 0
        finally:
            services.stop()


def webhook_env(url: str, log_level: str) -> dict[str, str]:
    """Both destinations on the webhook connector to the receiver at ``url``."""
    return {
        "ANTENNA_SERVICEDESK__CONNECTOR": "webhook",
        "ANTENNA_SERVICEDESK__URL": f"{url}/desk",
        "ANTENNA_SERVICEDESK__SECRET": WEBHOOK_SECRET,
        "ANTENNA_CRM__CONNECTOR": "webhook",
        "ANTENNA_CRM__URL": f"{url}/crm",
        "ANTENNA_CRM__SECRET": WEBHOOK_SECRET,
        "ANTENNA_LOG_LEVEL": log_level,  # WARNING: no line per signal at these rates
    }


def reports(n: int, run: str) -> list[dict[str, Any]]:
    """n varied reports (the labelled texts, distinct customers), as a form tool posts."""
    return [
        {
            "text": f"{signal.text} (ref {run}-{i})",  # no two are the same text
            "channel": "api",
            "reporter": {"employee_id": signal.reporter.employee_id},
            "customer": {"phone": signal.customer.phone, "name": f"Jan {surname(run, i)}"}
            if signal.customer and signal.customer.phone
            else None,
        }
        for i, signal in enumerate(signals(n))
    ]


def surname(run: str, i: int) -> str:
    """A surname of letters only, distinct per (run, i): a distinct customer per report
    (digits in a name do not tell customers apart)."""
    n = int.from_bytes(hashlib.blake2b(f"{run}-{i}".encode(), digest_size=8).digest())
    letters = ""
    while len(letters) < 8:
        n, digit = divmod(n, 26)
        letters += chr(ord("a") + digit)
    return letters.capitalize()


RETRIES = 3


@dataclass
class Posted:
    accepted: int = 0
    refused: int = 0
    retried: int = 0
    late_s: float = 0.0  # how far the generator fell behind its schedule, at worst


async def _post_all(
    api: str, bodies: list[dict[str, Any]], run: str, rate: float | None, concurrency: int
) -> Posted:
    posted = Posted()
    limits = httpx.Limits(max_connections=concurrency)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=api, limits=limits, timeout=30) as client:
        gate = asyncio.Semaphore(concurrency)
        start = time.monotonic()

        async def post(i: int, body: dict[str, Any]) -> None:
            key = {**headers, "Idempotency-Key": f"{run}-{i}"}
            async with gate:
                for attempt in range(RETRIES):
                    try:
                        response = await client.post("/v1/signals", json=body, headers=key)
                        break
                    except httpx.TransportError:  # a dropped keep-alive connection, say
                        if attempt == RETRIES - 1:
                            raise
                        posted.retried += 1  # the same key: a retry is never a second signal
            if response.status_code == 202:
                posted.accepted += 1
            else:
                posted.refused += 1

        tasks = []
        for i, body in enumerate(bodies):
            if rate is not None:  # an open loop: on schedule, whatever the answers do
                due = start + i / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                posted.late_s = max(posted.late_s, -delay)
            tasks.append(asyncio.create_task(post(i, body)))
        await asyncio.gather(*tasks)
    return posted


def post(
    api: str, bodies: list[dict[str, Any]], run: str, rate: float | None, concurrency: int = 64
) -> Posted:
    """POST every body to /v1/signals: ``rate`` per second on a fixed schedule, or as fast
    as ``concurrency`` connections go (rate None)."""
    return asyncio.run(_post_all(api, bodies, run, rate, concurrency))


def wait_for_arrivals(receiver: Receiver, at_least: int, quiet_s: float, timeout_s: float) -> int:
    """Until ``at_least`` signals arrived and then nothing more for ``quiet_s``, or the
    timeout; returns how many arrived."""
    deadline = time.monotonic() + timeout_s
    last, last_change = receiver.count(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = receiver.count()
        if now != last:
            last, last_change = now, time.monotonic()
        elif now >= at_least and time.monotonic() - last_change >= quiet_s:
            break
    return receiver.count()
