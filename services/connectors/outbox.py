"""The embedded default connector: one JSON line per delivered signal in
``<var>/outbox/<destination>.jsonl``. Idempotent: a signal_id already in the file is
not written again, also across restarts."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from schemas import RoutedSignal
from services.connectors.base import Connector, ConnectorConfig, ConnectorContext, Delivered


class OutboxConfig(ConnectorConfig):
    directory: Path | None = None  # default: <var>/outbox


class OutboxConnector(Connector):
    name = "outbox"
    config_model = OutboxConfig

    def __init__(self, config: OutboxConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        directory = config.directory or context.var_dir / "outbox"
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{context.destination}.jsonl"
        self._torn = False
        self._written = self._load_ids()
        self._lock = asyncio.Lock()

    def _load_ids(self) -> set[str]:
        """The signal_ids already in the file. A crash can leave a torn last line (even
        half a UTF-8 character): it is skipped, and the next record starts on a new line."""
        if not self.path.exists():
            return set()
        data = self.path.read_bytes()
        self._torn = bool(data) and not data.endswith(b"\n")
        ids = set()
        for line in data.decode("utf-8", "replace").splitlines():
            try:
                ids.add(json.loads(line)["signal_id"])
            except (ValueError, KeyError, TypeError):
                continue
        return ids

    async def deliver(self, routed: RoutedSignal) -> Delivered:
        signal_id = routed.signal.signal_id
        async with self._lock:
            if signal_id not in self._written:
                line = json.dumps(
                    {"signal_id": signal_id, "routed": routed.model_dump(mode="json")},
                    ensure_ascii=False,
                )
                await asyncio.to_thread(self._append, line)
                self._written.add(signal_id)
        return Delivered(external_id=signal_id, external_url=self.path.resolve().as_uri())

    def _append(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(("\n" if self._torn else "") + line + "\n")
            self._torn = False
            out.flush()
            os.fsync(out.fileno())
