"""create_app(settings): the ingest API. Routes decode a request and hand a Signal to
the publisher; nothing here decides what a signal is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.ingest.api import problems
from services.ingest.api.limits import BodySizeLimit
from services.ingest.api.routes import chat, email, forms, health, signals
from services.ingest.idempotency import IdempotencyCache
from services.ingest.publisher import KafkaSignalPublisher, Publisher
from services.ingest.settings import IngestSettings


def create_app(settings: IngestSettings, publisher: Publisher | None = None) -> FastAPI:
    publisher = publisher or KafkaSignalPublisher(
        settings.bootstrap_list, settings.publish_timeout_s
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        publisher.close()

    app = FastAPI(title="Antenna ingest", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.publisher = publisher
    app.state.idempotency = IdempotencyCache(
        settings.idempotency_cache_size, settings.idempotency_ttl_s
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    problems.install(app)
    app.include_router(health.router)
    app.include_router(signals.router)
    app.include_router(forms.router)
    app.include_router(chat.router)
    app.include_router(email.router)
    return app
