"""`antenna ingest`: run the API with uvicorn, and the SMTP listener in the same process."""

import uvicorn
from fastapi import FastAPI

from services.common.gc_tuning import tune_gc
from services.common.logging import configure
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings


def serve(app: FastAPI, settings: IngestSettings) -> None:
    """Serve ``app`` as ingest is served (the benchmark serves its bare endpoint here too,
    so that both are measured with the same server and process settings: the garbage
    collector's too, which ingest tuned and the bare endpoint once did not)."""
    tune_gc()
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


def main() -> None:
    settings = IngestSettings()
    configure("ingest", settings.log_level)
    app = create_app(settings, smtp=True, follow_status=True)
    serve(app, settings)
