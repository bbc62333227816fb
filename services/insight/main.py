"""`antenna insight`: run the insight worker."""

from services.common.faust_app import run_worker
from services.insight.app import create_app
from services.insight.settings import InsightSettings


def main() -> None:
    settings = InsightSettings()
    run_worker(
        create_app(settings),
        settings,
        settings.insight_metrics_host,
        settings.insight_metrics_port,
    )
