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
        self._written = self._load_ids()
        self._lock = asyncio.Lock()

    def _load_ids(self) -> set[str]:
        if not self.path.exists():
            return set()
        ids = set()
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    ids.add(json.loads(line)["signal_id"])
                except (ValueError, KeyError):  # a torn last line after a crash
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
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())
