"""create_app(settings): the ingest API. Routes decode a request and hand a Signal to
the publisher; nothing here decides what a signal is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.ingest.api import problems
from services.ingest.api.limits import BodySizeLimit
from services.ingest.api.routes import chat, email, forms, health, signals
from services.ingest.email.smtp import SmtpServer
from services.ingest.idempotency import IdempotencyCache
from services.ingest.publisher import KafkaSignalPublisher, Publisher
from services.ingest.settings import IngestSettings


def create_app(
    settings: IngestSettings, publisher: Publisher | None = None, *, smtp: bool = False
) -> FastAPI:
    """``smtp=True`` also runs the SMTP listener (services.ingest.email.smtp) for the
    app's lifetime, on the same event loop, publisher and idempotency cache."""
    publisher = publisher or KafkaSignalPublisher(
        settings.bootstrap_list, settings.publish_timeout_s
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        listener = SmtpServer(settings, publisher, app.state.idempotency) if smtp else None
        if listener is not None:
            await listener.start()  # a taken port fails the start-up, loudly
        try:
            yield
        finally:
            if listener is not None:
                await listener.stop()
            publisher.close()

    app = FastAPI(title="Antenna ingest", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.publisher = publisher
    app.state.idempotency = IdempotencyCache(
        settings.idempotency_cache_size, settings.idempotency_ttl_s
    )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        larger={"/v1/email/": settings.max_email_bytes, "/v1/forms/": settings.max_form_bytes},
    )
    problems.install(app)
    app.include_router(health.router)
    app.include_router(signals.router)
    app.include_router(forms.router)
    app.include_router(chat.router)
    app.include_router(email.router)
    return app
