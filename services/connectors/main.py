"""`antenna connectors`: run the delivery worker."""

from services.common.faust_app import run_worker
from services.connectors.app import create_app
from services.connectors.settings import ConnectorSettings


def main() -> None:
    settings = ConnectorSettings()
    run_worker(
        create_app(settings),
        settings,
        settings.connectors_metrics_host,
        settings.connectors_metrics_port,
    )
