"""What a user does: `antenna up`, `antenna send`, find it in the outbox, Ctrl-C. And
what `antenna up` does when a service dies under it: start it again, keep the broker."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.antenna_up import Stack, antenna_up, descendants
from tests.support.services import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One `antenna up` for this module, on its embedded defaults."""
    with antenna_up(tmp_path_factory.mktemp("up") / "var") as running:
        yield running


COMPLAINT = "My neighbour's bank card has been declined three times this week; she is fed up."


def test_up_prints_where_everything_is_and_send_reaches_the_outbox(stack: Stack) -> None:
    banner = "".join(stack.lines)
    assert "Development API key" in banner, banner
    assert (stack.var / "dev-api-key").read_text().strip() in banner
    assert stack.api in banner
    assert len(descendants(stack.proc.pid)) >= 5, "broker, ingest, processor, connectors, notifier"
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
