"""`antenna connectors`: run the delivery worker."""

from services.common.faust_app import run_worker
from services.connectors.app import build_connectors, create_app
from services.connectors.settings import ConnectorSettings
from services.connectors.startup import check_connectors


def main() -> None:
    settings = ConnectorSettings()
    # Wrong credentials stop the worker here, before it joins the group (cli.main says why).
    check_connectors(build_connectors(settings))
    run_worker(
        create_app(settings),
        settings,
        settings.connectors_metrics_host,
        settings.connectors_metrics_port,
    )
