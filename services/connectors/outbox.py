"""The embedded default connector: one JSON line per delivered signal in
``<var>/outbox/<destination>.jsonl``; an incident's ticket and notes (signal.source
antenna-incidents) in ``<var>/outbox/incidents/<destination>.jsonl``, apart from the
employees' reports. Idempotent: a delivery already in the file is
not written again, also across restarts, within the dedupe window. A delivery is a
report as a case of its own, or as a note on another case (ledger.delivery_key): a
report split off the case it had joined gets a line of its own after its note.

The file keeps growing (it is the record users read), but what the connector remembers
does not: the ids delivered within the dedupe window (``ANTENNA_DEDUPE_WINDOW_DAYS``),
read back from the end of the file at start, so neither memory nor start-up time grows
with the file. A redelivery older than the window is rare (the ledger forgets it at the
same time) and would add a second line."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas import INCIDENT_SOURCE, RoutedSignal
from services.connectors.base import (
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Delivered,
    DeliveryError,
)
from services.connectors.ledger import delivery_key

BLOCK = 1 << 16
# Lines are appended in time order; a little slack covers clocks of restarted workers.
SLACK_S = 3600.0


def now() -> float:
    return time.time()


class OutboxConfig(ConnectorConfig):
    directory: Path | None = None  # default: <var>/outbox


class OutboxConnector(Connector):
    name = "outbox"
    config_model = OutboxConfig

    def __init__(self, config: OutboxConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        directory = config.directory or context.var_dir / "outbox"
        self.path = directory / f"{context.destination}.jsonl"
        self.incidents_path = directory / "incidents" / f"{context.destination}.jsonl"
        self.window_s = context.dedupe_window.total_seconds()
        self._files = {self.path: _OutboxFile(self.path, self.window_s)}
        self._lock = asyncio.Lock()

    def _file(self, routed: RoutedSignal) -> _OutboxFile:
        path = self.incidents_path if routed.signal.source == INCIDENT_SOURCE else self.path
        if path not in self._files:  # the incidents' file: only once there is an incident
            self._files[path] = _OutboxFile(path, self.window_s)
        return self._files[path]

    async def deliver(self, routed: RoutedSignal) -> Delivered:
        signal_id = routed.signal.signal_id
        key = delivery_key(signal_id, routed.dedupe.cluster_id)
        async with self._lock:
            target = self._file(routed)
            at = now()
            target.forget_old(at)
            if key not in target.written:
                line = json.dumps(
                    {
                        "signal_id": signal_id,
                        "delivered_at": datetime.fromtimestamp(at, UTC).isoformat(),
                        "routed": routed.model_dump(mode="json"),
                    },
                    ensure_ascii=False,
                )
                try:
                    await asyncio.to_thread(target.append, line)
                except OSError as exc:  # a full or read-only disk: wait for it like an outage
                    raise DeliveryError(
                        f"cannot write {target.path}: {exc}", retryable=True
                    ) from exc
                target.written[key] = at
        return Delivered(external_id=signal_id, external_url=target.path.resolve().as_uri())


class _OutboxFile:
    """One outbox file and the deliveries written to it within the window."""

    def __init__(self, path: Path, window_s: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.window_s = window_s
        self.torn = False
        self.written = self._load_ids()  # delivery key -> when, oldest first

    def _load_ids(self) -> OrderedDict[str, float]:
        """The deliveries made within the window, read from the end of the file. A
        crash can leave a torn last line (even half a UTF-8 character): it is skipped,
        and the next record starts on a new line."""
        if not self.path.exists():
            return OrderedDict()
        with self.path.open("rb") as data:
            data.seek(0, os.SEEK_END)
            if data.tell():
                data.seek(-1, os.SEEK_END)
                self.torn = data.read(1) != b"\n"
        cutoff = now() - self.window_s
        newest_first: list[tuple[str, float]] = []
        for line in _lines_backwards(self.path):
            if not line.strip():
                continue
            record = _record(line)
            if record is None:
                continue
            signal_id, at = record
            if at < cutoff - SLACK_S:
                break
            if at >= cutoff:
                newest_first.append((signal_id, at))
        return OrderedDict(reversed(newest_first))

    def forget_old(self, at: float) -> None:
        cutoff = at - self.window_s
        while self.written:
            signal_id, when = next(iter(self.written.items()))
            if when >= cutoff:
                break
            del self.written[signal_id]

    def append(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(("\n" if self.torn else "") + line + "\n")
            self.torn = False
            out.flush()
            os.fsync(out.fileno())


def _lines_backwards(path: Path) -> Iterator[bytes]:
    """The file's lines, last first, read in blocks from the end."""
    with path.open("rb") as data:
        position = data.seek(0, os.SEEK_END)
        rest = b""
        while position > 0:
            step = min(BLOCK, position)
            position -= step
            data.seek(position)
            lines = (data.read(step) + rest).split(b"\n")
            rest = lines[0]
            yield from reversed(lines[1:])
        if rest:
            yield rest


def _record(line: bytes) -> tuple[str, float] | None:
    """A line's delivery key and when it was written (older lines: when it was routed)."""
    try:
        data: Any = json.loads(line.decode("utf-8"))
        signal_id = data["signal_id"]
        stamp = data.get("delivered_at") or data["routed"]["routed_at"]
        at = datetime.fromisoformat(stamp).timestamp()
        case_id = data["routed"]["dedupe"]["cluster_id"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(signal_id, str) or not isinstance(case_id, str):
        return None
    return delivery_key(signal_id, case_id), at
