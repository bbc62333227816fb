"""Helpers for connector tests: deliver once and close, wait for what a system shows,
and the routed opportunities the CRM tests send."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from schemas import Classification, Dedupe, Destination, Kind, RoutedSignal
from services.connectors.base import Connector, Delivered
from tests.support.builders import build_routed, build_signal

T = TypeVar("T")


def deliver_once(conn: Connector, routed: RoutedSignal) -> Delivered:
    """One delivery with a connector of its own, as after a restart."""

    async def once() -> Delivered:
        try:
            return await conn.deliver(routed)
        finally:
            await conn.close()

    return asyncio.run(once())


def wait_for(check: Callable[[], T], what: str, timeout_s: float = 60) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what} within {timeout_s}s")


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


def build_duplicate(first: RoutedSignal, **signal: Any) -> RoutedSignal:
    """A colleague's later report of ``first``'s case."""
    case = first.signal.signal_id
    signal.setdefault("reporter", {"employee_id": "E-2002", "name": "Piet Bakker"})
    again = build_lead(first.destination.name, **signal)
    return again.model_copy(
        update={"dedupe": Dedupe(duplicate_of=case, cluster_id=case, reporters_count=2)}
    )
