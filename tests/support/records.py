"""A stand-in for the connectors' changelog table (AckedTable), for tests that need a
durable case -> record mapping without a Faust app."""

from __future__ import annotations

from typing import Any


class DictTable(dict[str, Any]):
    """AckedTable's surface: a write counts only once ``written()`` was awaited."""

    def __init__(self) -> None:
        super().__init__()
        self.acked: dict[str, Any] = {}

    async def written(self) -> None:
        self.acked = dict(self)
