"""The connector plugin contract. One class per target system, registered under the
``antenna.connectors`` entry point group; the core never imports a vendor module."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ConnectorContext:
    destination: str  # servicedesk, crm, ...
    var_dir: Path


class Connector(ABC):
    name: ClassVar[str]
    config_model: ClassVar[type[ConnectorConfig]]

    def __init__(self, config: ConnectorConfig, context: ConnectorContext) -> None:
        self.config = config
        self.context = context

    @abstractmethod
    async def deliver(self, routed: RoutedSignal) -> Delivered:
        """Hand one routed signal to the target. Must be idempotent per signal_id.
        Raise DeliveryError on failure."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
