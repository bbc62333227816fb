"""`antenna ingest`: run the API with uvicorn, and the SMTP listener in the same process."""

import uvicorn

from services.common.logging import configure
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings


def main() -> None:
    settings = IngestSettings()
    configure("ingest", settings.log_level)
    uvicorn.run(
        create_app(settings, smtp=True, follow_status=True),
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
