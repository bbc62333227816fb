"""Named points where a test makes a worker kill itself, to prove what survives a crash
exactly there. Off unless ``ANTENNA_TEST_CRASH_AT`` names a point. Then, the first time
the worker passes that point (once per var dir: a marker file remembers it), it sends
itself SIGKILL: no flush, no commit, no leaving the group, like a machine losing power.
The restarted worker, with the same settings, passes the point without stopping."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

from services.common.logging import fields

log = logging.getLogger(__name__)


class CrashPoints:
    def __init__(self, armed: str | None, var_dir: Path) -> None:
        self.armed = armed or None
        self.markers = var_dir / "crash-points"

    def __call__(self, name: str) -> None:
        if name != self.armed:
            return
        marker = self.markers / name
        if marker.exists():
            return
        self.markers.mkdir(parents=True, exist_ok=True)
        marker.touch()
        log.warning("test crash point reached: killing this worker", extra=fields(at=name))
        logging.shutdown()
        os.kill(os.getpid(), signal.SIGKILL)
