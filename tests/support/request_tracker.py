"""A throw-away Request Tracker 5 on loopback for integration tests (Debian's
request-tracker5 with SQLite; deploy/ci/install-test-tools.sh installs it)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.broker import free_port

UP_SCRIPT = Path(__file__).with_name("rt-test-up.sh")
RT_SERVER = Path("/usr/share/request-tracker5/libexec/rt-server")


@dataclass(frozen=True)
class RequestTracker:
    url: str
    token: str

    def api(self, path: str, **params: Any) -> Any:
        response = httpx.get(
            f"{self.url}/REST/2.0/{path}",
            params=params,
            headers={"Authorization": f"token {self.token}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def tickets_for(self, case_id: str) -> list[str]:
        found = self.api("tickets", query=f"'CF.{{ExternalID}}' = '{case_id}'")
        return [str(item["id"]) for item in found["items"]]

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self.api(f"ticket/{ticket_id}")
        return data

    def comments(self, ticket_id: str) -> list[str]:
        query = f"ObjectType = 'RT::Ticket' AND ObjectId = {int(ticket_id)} AND Type = 'Comment'"
        found = self.api("transactions", query=query, fields="Data", per_page=100)
        return [str(item.get("Data") or "") for item in found["items"]]

    def set_status(self, ticket_id: str, status: str) -> None:
        """Change a ticket's status, as an agent does in RT's ticket form."""
        response = httpx.put(
            f"{self.url}/REST/2.0/ticket/{int(ticket_id)}",
            json={"Status": status},
            headers={"Authorization": f"token {self.token}"},
            timeout=10,
        )
        response.raise_for_status()

    def content(self, ticket_id: str) -> str:
        """The text of the ticket's first message."""
        attachments = self.api(f"ticket/{ticket_id}/attachments", fields="Content", per_page=1)
        return str(attachments["items"][0]["Content"])  # plain text in listings


@contextmanager
def request_tracker(workdir: Path) -> Iterator[RequestTracker]:
    if not RT_SERVER.exists():
        pytest.skip(
            "Request Tracker 5 absent (Debian: request-tracker5 rt5-db-sqlite rt5-standalone)"
        )
    port = free_port()
    result = subprocess.run(
        [str(UP_SCRIPT), str(workdir), str(port)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"Request Tracker did not start: {result.stderr[-2000:]}")
    pid, token = result.stdout.split()
    try:
        yield RequestTracker(f"http://127.0.0.1:{port}", token)
    finally:
        stop_session(int(pid))
        shutil.rmtree(workdir, ignore_errors=True)


def stop_session(pid: int, timeout_s: float = 15) -> None:
    """Stop a server that leads its own session and is not our child (a set-up script
    started it): SIGTERM to its group, SIGKILL after ``timeout_s``."""
    try:
        os.killpg(pid, signal.SIGTERM)  # rt-server leads its own session
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)
