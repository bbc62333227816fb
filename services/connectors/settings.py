from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.common.settings import CommonSettings


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


class ConnectorSettings(CommonSettings):
    servicedesk: DestinationSettings = Field(default_factory=DestinationSettings)
    crm: DestinationSettings = Field(default_factory=DestinationSettings)
    delivery_max_attempts: int = Field(default=5, ge=1)
    delivery_base_delay_s: float = Field(default=0.5, gt=0)
    delivery_max_delay_s: float = Field(default=30.0, gt=0)
    connectors_metrics_host: str = "127.0.0.1"
    connectors_metrics_port: int = 9102

    def destinations(self) -> dict[str, DestinationSettings]:
        return {"servicedesk": self.servicedesk, "crm": self.crm}
