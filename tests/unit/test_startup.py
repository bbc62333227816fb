"""Start-up checks: a wrong credential stops the service with the destination's name;
an unreachable target does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import RoutedSignal
from services.connectors.base import (
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Delivered,
    DeliveryError,
    StartupError,
)
from services.connectors.startup import check_connectors


class Checked(Connector):
    name = "checked"
    config_model = ConnectorConfig

    def __init__(self, outcome: Exception | None) -> None:
        super().__init__(ConnectorConfig(), ConnectorContext("crm", Path("unused")))
        self.outcome = outcome
        self.closed = False

    async def start(self) -> None:
        if self.outcome is not None:
            raise self.outcome

    async def deliver(self, routed: RoutedSignal) -> Delivered:
        return Delivered()

    async def close(self) -> None:
        self.closed = True


def test_a_refused_credential_stops_start_up_with_the_destination_named() -> None:
    refused = Checked(StartupError("the CRM refused user 'admin' (HTTP 401)"))
    http_401 = Checked(DeliveryError("HTTP 401: unauthorized", retryable=False))
    fine = Checked(None)
    with pytest.raises(StartupError) as failure:
        check_connectors({"crm": refused, "servicedesk": http_401, "other": fine})
    assert str(failure.value) == (
        "crm connector checked: the CRM refused user 'admin' (HTTP 401); "
        "servicedesk connector checked: HTTP 401: unauthorized"
    )
    assert refused.closed and http_401.closed and fine.closed


def test_an_unreachable_target_only_delays_deliveries() -> None:
    down = Checked(DeliveryError("connection failed", retryable=True))
    check_connectors({"crm": down})
    assert down.closed
