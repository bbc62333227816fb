"""Helpers for connector tests: run a plugin the way the connectors service does, without
a broker (``Deliveries``: each delivery builds the connector afresh, as after a restart,
and all of them share one durable case -> record mapping), deliver once and close, and
the routed opportunities the CRM tests send."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas import Classification, Dedupe, Destination, Kind, RoutedSignal
from services.connectors.base import Connector, ConnectorContext, Delivered, DeliveryError
from services.connectors.records import TableRecords
from services.connectors.registry import build
from tests.support.builders import build_routed, build_signal
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


def deliver_once(conn: Connector, routed: RoutedSignal) -> Delivered:
    """One delivery with a connector of its own, as after a restart."""

    async def once() -> Delivered:
        try:
            return await conn.deliver(routed)
        finally:
            await conn.close()

    return asyncio.run(once())


def build_lead(
    destination: str = "crm",
    consent: bool = True,
    customer: dict[str, Any] | None = None,
    **signal: Any,
) -> RoutedSignal:
    """A routed opportunity (a complaint when not for the CRM) with a customer and a
    callback window "tomorrow morning"."""
    data: dict[str, Any] = {
        "text": "Her neighbour wants an offer for solar panels and asks to be called.",
        "customer": {
            "name": "Jane van Dijk",
            "email": "jane@example.com",
            "phone": "+31 6 11112222",
            **(customer or {}),
            "consent_to_contact": consent,
        },
        "callback_window": {"text": "tomorrow morning"},
        **signal,
    }
    kind = Kind.opportunity if destination == "crm" else Kind.complaint
    return build_routed(
        build_signal(**data),
        classification=Classification(
            kind=kind,
            confidence=0.93,
            language="en",
            classifier_version="test-1",
            reasons=["lead cue: wants an offer"],
        ),
        destination=Destination(name=destination),
        rule_id="opportunities-to-crm" if destination == "crm" else "complaints-to-servicedesk",
    )


def build_lead_duplicate(first: RoutedSignal, **signal: Any) -> RoutedSignal:
    """A colleague's later report of ``first``'s case."""
    case = first.signal.signal_id
    signal.setdefault("reporter", {"employee_id": "E-2002", "name": "Piet Bakker"})
    again = build_lead(first.destination.name, **signal)
    return again.model_copy(
        update={"dedupe": Dedupe(duplicate_of=case, cluster_id=case, reporters_count=2)}
    )
