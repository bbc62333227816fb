from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.common.open_cases import OutcomeWatchSettings
from services.common.settings import CommonSettings
from services.connectors.retry import HOUR, RetryPolicy


class DestinationSettings(BaseModel):
    """Which connector serves a destination, plus that connector's own options.

    ``ANTENNA_SERVICEDESK__CONNECTOR=webhook``, ``ANTENNA_SERVICEDESK__URL=...`` and
    ``ANTENNA_SERVICEDESK__SECRET=...`` become ``connector="webhook"`` and the options
    ``{"url": ..., "secret": ...}``, validated by the webhook plugin's config model."""

    model_config = ConfigDict(extra="allow")
    connector: str = "outbox"

    @property
    def options(self) -> dict[str, Any]:
        # Empty values (`ANTENNA_CRM__URL=` in compose) mean "not set".
        return {k: v for k, v in (self.model_extra or {}).items() if v not in ("", None)}


class ConnectorSettings(CommonSettings, OutcomeWatchSettings):
    servicedesk: DestinationSettings = Field(default_factory=DestinationSettings)
    crm: DestinationSettings = Field(default_factory=DestinationSettings)
    # Attempts before a signal is set aside when it fails while other signals to its
    # destination are delivered (a bad payload), or when its connector raises something
    # unexpected. An unreachable destination is waited for instead (the horizon).
    delivery_max_attempts: int = Field(default=5, ge=1)
    delivery_base_delay_s: float = Field(default=0.5, gt=0)
    delivery_max_delay_s: float = Field(default=30.0, gt=0)
    delivery_max_retry_after_s: float = Field(default=300.0, gt=0)
    # How long a signal waits for a paused destination before it is parked as failed.
    delivery_horizon_hours: float = Field(default=72.0, gt=0)
    # How often a waiting signal is announced again on signals.delivered (retrying).
    delivery_status_interval_s: float = Field(default=300.0, gt=0)
    # Shared with the processor: how long the ledger and the outbox remember a delivery.
    dedupe_window_days: float = Field(default=14, gt=0)
    # Deliveries the ledger remembers at most (the most recent; waiting ones always), and
    # as many case -> record entries inside the window (records.py; pending ones always).
    delivery_ledger_max_entries: int = Field(default=20_000, ge=100)
    connectors_metrics_host: str = "127.0.0.1"
    connectors_metrics_port: int = 9102

    def destinations(self) -> dict[str, DestinationSettings]:
        return {"servicedesk": self.servicedesk, "crm": self.crm}

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            base_delay_s=self.delivery_base_delay_s,
            max_delay_s=self.delivery_max_delay_s,
            max_retry_after_s=self.delivery_max_retry_after_s,
            horizon_s=self.delivery_horizon_hours * HOUR,
            suspect_attempts=self.delivery_max_attempts,
            announce_every_s=self.delivery_status_interval_s,
        )
