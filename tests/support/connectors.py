"""Run a connector plugin the way the connectors service does, without a broker: each
delivery builds the connector afresh (a redelivery after a restart) and all of them share
one durable case -> record mapping, a changelog table whose writes are acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas import RoutedSignal
from services.connectors.base import Connector, ConnectorContext, Delivered, DeliveryError
from services.connectors.records import TableRecords
from services.connectors.registry import build
from tests.support.records import DictTable


class Deliveries:
    def __init__(
        self,
        connector: str,
        options: dict[str, Any],
        destination: str = "servicedesk",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name, self.options = connector, options
        self.records = TableRecords(DictTable(), destination, clock=clock)
        self.destination = destination

    def connector(self, **overrides: Any) -> Connector:
        context = ConnectorContext(self.destination, Path("var"), records=self.records)
        return build(self.name, {**self.options, **overrides}, context)

    def _run(self, call: Callable[[Connector], Any], overrides: dict[str, Any]) -> Any:
        async def once() -> Any:
            conn = self.connector(**overrides)
            try:
                return await call(conn)
            finally:
                await conn.close()

        return asyncio.run(once())

    def __call__(self, routed: RoutedSignal, **overrides: Any) -> Delivered:
        delivered: Delivered = self._run(lambda c: c.deliver(routed), overrides)
        return delivered

    def failure(self, routed: RoutedSignal, **overrides: Any) -> DeliveryError:
        """The DeliveryError this delivery raises (AssertionError if it succeeds)."""
        try:
            self(routed, **overrides)
        except DeliveryError as exc:
            return exc
        raise AssertionError("the delivery succeeded")

    def start(self, **overrides: Any) -> None:
        self._run(lambda c: c.start(), overrides)
