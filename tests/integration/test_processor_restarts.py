"""A processor killed with a backlog, on the real broker: after its restart every report
is routed, none waits for the next restart.

Faust 0.15.3 drops records it has fetched around a rebalance, the first one at start-up
included (services/common/offsets.py); with Faust's own offsets such a report stayed on
signals.raw or the classified topic, uncommitted, until the processor restarted again.
A killed member stays in the group until its session times out, so the restarted one
goes through two rebalances with a backlog in hand: the window is wide."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from services.common.processes import spawn, terminate
from tests.integration.test_judgement import crash_at, killed, report_about, unique_phone
from tests.integration.test_pipeline import for_signal
from tests.support.http_recorder import Recorder
from tests.support.services import Services

ROUNDS = 2
BACKLOG = 40
# Far more than a restart and the old member's session (6 s) take; without own offsets
# a dropped report waits until the next restart, however long that is.
ROUTED_WITHIN_S = 45.0


@contextmanager
def armed_processor(pipeline: Services, point: str) -> Iterator[subprocess.Popen[bytes]]:
    """The processor, armed to kill itself at ``point``, not waited for: with a backlog it
    may die before it says it is ready. Afterwards it runs unarmed again, at once."""
    pipeline.stop("processor")
    env = {**pipeline.env, **crash_at(pipeline, point)}
    worker = spawn(
        [sys.executable, "-m", "services.cli", "processor"], pipeline.log("processor"), env
    )
    try:
        yield worker
    finally:
        terminate(worker)
        pipeline.start("processor")


def test_a_processor_killed_with_a_backlog_routes_every_report_after_its_restart(
    pipeline: Services, recorder: Recorder
) -> None:
    for _ in range(ROUNDS):
        pipeline.stop("processor")
        ids = [report_about(pipeline, unique_phone()) for _ in range(BACKLOG)]
        # Killed right after its first report is handed on, before any commit.
        with armed_processor(pipeline, "judge.handed-on") as worker:
            assert killed(worker)
        # Restarted, unarmed, while the killed member is still in the group.
        deadline = time.monotonic() + ROUTED_WITHIN_S
        unrouted = []
        for signal_id in ids:
            try:
                recorder.wait_for(
                    "/desk", for_signal(signal_id), timeout_s=max(0.1, deadline - time.monotonic())
                )
            except AssertionError:
                unrouted.append(signal_id)
        assert unrouted == [], f"{len(unrouted)} of {BACKLOG} reports not routed"
