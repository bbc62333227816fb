"""`antenna processor`: run the processor worker."""

from services.common.faust_app import run_worker
from services.processor.app import create_app
from services.processor.settings import ProcessorSettings


def main() -> None:
    settings = ProcessorSettings()
    run_worker(
        create_app(settings),
        settings,
        settings.processor_metrics_host,
        settings.processor_metrics_port,
    )
