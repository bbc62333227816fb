"""`antenna notifier`: run the notification worker."""

from services.common.faust_app import run_worker
from services.notifier.app import create_app
from services.notifier.settings import NotifierSettings


def main() -> None:
    settings = NotifierSettings()
    run_worker(
        create_app(settings),
        settings,
        settings.notifier_metrics_host,
        settings.notifier_metrics_port,
    )
