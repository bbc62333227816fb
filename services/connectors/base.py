"""The connector plugin contract. One class per target system, registered under the
``antenna.connectors`` entry point group; the core never imports a vendor module."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from schemas import RoutedSignal


class ConnectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Delivered:
    external_id: str | None = None
    external_url: str | None = None


class DeliveryError(Exception):
    """A failed attempt. ``retryable`` says whether another attempt may succeed."""

    def __init__(self, message: str, retryable: bool, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


class UnintelligibleAnswer(DeliveryError):
    """The target answered, but not in a way we understand (an HTML page from a proxy,
    JSON without the fields we need). Final: the signal is parked for an operator."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class CaseNotDelivered(DeliveryError):
    """A duplicate's case has no ticket or record yet; the case's own delivery may still
    be under way. The duplicate waits (up to the retry horizon) without pausing the
    destination: the target itself answers."""

    def __init__(self, message: str = "the case's ticket does not exist yet") -> None:
        super().__init__(message, retryable=True)


@dataclass(frozen=True)
class ConnectorContext:
    destination: str  # servicedesk, crm, ...
    var_dir: Path
    # How long a connector remembers what it delivered (ANTENNA_DEDUPE_WINDOW_DAYS).
    dedupe_window: timedelta = timedelta(days=14)


class Connector(ABC):
    name: ClassVar[str]
    config_model: ClassVar[type[ConnectorConfig]]

    def __init__(self, config: ConnectorConfig, context: ConnectorContext) -> None:
        self.config = config
        self.context = context

    @abstractmethod
    async def deliver(self, routed: RoutedSignal) -> Delivered:
        """Hand one routed signal to the target. Must be idempotent per signal_id.
        Raise DeliveryError on failure: retryable for an outage (connection, timeout,
        5xx, 429), final otherwise. Any other exception is treated as a fault: tried a
        few times, then parked."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


@dataclass(frozen=True)
class Ticket:
    id: str
    url: str | None = None


class TicketConnector(Connector):
    """The service-desk capability. A new case opens a ticket that carries the case's id
    (the signal_id of its first report); a duplicate adds a note to its case's ticket.
    Both look before they write, so a redelivery changes nothing."""

    async def deliver(self, routed: RoutedSignal) -> Delivered:
        signal_id = routed.signal.signal_id
        if routed.dedupe.duplicate_of is None:
            ticket = await self.find_ticket(signal_id) or await self.open_ticket(routed)
            return Delivered(ticket.id, ticket.url)
        case = await self.find_ticket(routed.dedupe.cluster_id)
        if case is None:
            # The case's own delivery may still be under way: try again later.
            raise CaseNotDelivered()
        if not await self.has_note(case, signal_id):
            await self.add_note(case, routed)
        return Delivered(case.id, case.url)

    @abstractmethod
    async def find_ticket(self, case_id: str) -> Ticket | None:
        """The ticket opened for case ``case_id``, if there is one."""

    @abstractmethod
    async def open_ticket(self, routed: RoutedSignal) -> Ticket:
        """Open a ticket for a new case, recording ``routed.signal.signal_id`` as its id."""

    @abstractmethod
    async def has_note(self, ticket: Ticket, signal_id: str) -> bool:
        """Whether the note for duplicate ``signal_id`` is on ``ticket`` already."""

    @abstractmethod
    async def add_note(self, ticket: Ticket, routed: RoutedSignal) -> None:
        """Add duplicate ``routed`` to ``ticket`` as an internal note."""
