"""The connector plugin contract. One class per target system, registered under the
``antenna.connectors`` entry point group; the core never imports a vendor module."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from schemas import RoutedSignal
from services.connectors.records import (
    CaseRecords,
    Entry,
    MemoryRecords,
    Record,
    Slot,
    known_record,
    write_once,
)


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


class NotYet(DeliveryError):
    """The target works, but this signal must wait: a create whose answer was lost may not
    be searchable yet, or another attempt is still writing. The signal waits (up to the
    retry horizon) without pausing the destination or counting as a bad payload."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message, retryable=True, retry_after_s=retry_after_s)


class CaseNotDelivered(NotYet):
    """A duplicate's case has no ticket or record yet; the case's own delivery may still
    be under way."""

    def __init__(self, message: str = "the case's ticket does not exist yet") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class ConnectorContext:
    destination: str  # servicedesk, crm, ...
    var_dir: Path
    # Which record holds each case (services/connectors/records.py). The connectors
    # service passes a changelog-backed one; elsewhere (tests, config checks) it is kept
    # in memory.
    records: CaseRecords = field(default=None)  # type: ignore[assignment]
    # How long a connector remembers what it delivered (ANTENNA_DEDUPE_WINDOW_DAYS).
    dedupe_window: timedelta = timedelta(days=14)

    def __post_init__(self) -> None:
        if self.records is None:
            object.__setattr__(self, "records", MemoryRecords(self.destination))


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

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Check the target before the first signal: reachable, and the credentials
        accepted. Raise StartupError with a message an operator can act on."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class StartupError(Exception):
    """A connector cannot work with its configuration (wrong credentials, a missing
    custom field or pipeline). The message says what to fix; it never holds a secret."""


@dataclass(frozen=True)
class Ticket:
    id: str
    url: str | None = None


class TicketConnector(Connector):
    """The service-desk capability. A new case opens a ticket that carries the case's id
    (the signal_id of its first report); a duplicate adds a note to its case's ticket.
    The case -> record mapping (``context.records``) is asked first; the desk itself is
    asked by the case id only when an earlier attempt may have written (or the mapping
    is not durable), so a redelivery changes nothing."""

    async def deliver(self, routed: RoutedSignal) -> Delivered:
        signal_id = routed.signal.signal_id
        records = self.context.records
        if routed.dedupe.duplicate_of is None:
            record = await write_once(
                records,
                Slot(signal_id),
                find=lambda entry: self._find(signal_id),
                create=lambda attempt: self._open(routed),
            )
            return Delivered(record.id, record.url)
        case_id = routed.dedupe.cluster_id
        case = await known_record(records, case_id, lambda entry: self._find(case_id))
        if case is None:
            raise CaseNotDelivered()  # its own delivery may still be under way
        ticket = Ticket(case.id, case.url)

        async def noted(entry: Entry) -> Record | None:
            return case if await self.has_note(ticket, signal_id) else None

        async def add(attempt: object) -> Record:
            await self.add_note(ticket, routed)
            return case

        await write_once(records, Slot(case_id, note=signal_id), find=noted, create=add)
        return Delivered(case.id, case.url)

    async def _find(self, case_id: str) -> Record | None:
        ticket = await self.find_ticket(case_id)
        return Record(ticket.id, ticket.url) if ticket else None

    async def _open(self, routed: RoutedSignal) -> Record:
        ticket = await self.open_ticket(routed)
        return Record(ticket.id, ticket.url)

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
