"""create_app(settings): the ingest API. Routes decode a request and hand a Signal to
the publisher; nothing here decides what a signal is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from services.common.follower import merged
from services.common.preferences import PreferenceBook
from services.ingest.api import problems
from services.ingest.api.direct import DirectRoutesApp
from services.ingest.api.limits import BodySizeLimit
from services.ingest.api.routes import (
    chat,
    email,
    forms,
    health,
    insight,
    outcomes,
    preferences,
    signals,
    status,
    triage,
)
from services.ingest.email.smtp import SmtpServer
from services.ingest.forms.throttle import SignInThrottle, ThrottlePolicy
from services.ingest.idempotency import IdempotencyCache
from services.ingest.insight import InsightBook, follow_programme
from services.ingest.publisher import KafkaSignalPublisher, Publisher
from services.ingest.settings import IngestSettings
from services.ingest.status import StatusBook, StatusFollower
from services.ingest.triage import TriageBook, follow_triage

# The views read back every signal ingest publishes: under load, one fetch round per
# 100 ms carries many records instead of a few (services.common.follower, pace_s). A
# status page is at most that much later; posts are not slowed.
VIEWS_PACE_S = 0.1


def create_app(
    settings: IngestSettings,
    publisher: Publisher | None = None,
    *,
    smtp: bool = False,
    follow_status: bool = False,
) -> FastAPI:
    """``smtp=True`` also runs the SMTP listener (services.ingest.email.smtp) for the
    app's lifetime, on the same event loop, publisher and idempotency cache.
    ``follow_status=True`` also follows the routed and delivered topics into the app's
    StatusBook (services.ingest.status) for GET /v1/signals/{id} and the status page,
    insight.summary and employees.preferences (services.ingest.insight) for /insight and
    /report/preferences, and the routed topics and signals.labels into the TriageBook
    (services.ingest.triage) for /triage."""
    publisher = publisher or KafkaSignalPublisher(
        settings.bootstrap_list,
        settings.publish_timeout_s,
        linger_ms=settings.publish_linger_ms,
        batch_bytes=settings.publish_batch_bytes,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        listener = SmtpServer(settings, publisher, app.state.idempotency) if smtp else None
        if listener is not None:
            await listener.start()  # a taken port fails the start-up, loudly
        # One consumer for the three views: each consumer costs CPU on every fetch round,
        # busy or idle, and the status and triage views read the routed topics alike.
        followers = (
            [
                merged(
                    [
                        StatusFollower(app.state.status_book, settings.bootstrap_list),
                        follow_programme(
                            app.state.insight, app.state.preferences, settings.bootstrap_list
                        ),
                        follow_triage(app.state.triage, settings.bootstrap_list),
                    ],
                    name="ingest-follower",
                    client_id="antenna-ingest-views",
                    pace_s=VIEWS_PACE_S,
                )
            ]
            if follow_status
            else []
        )
        for follower in followers:
            follower.start()  # a daemon thread; waits for the broker, never fails start-up
        try:
            yield
        finally:
            for follower in followers:
                follower.close()
            if listener is not None:
                await listener.stop()
            publisher.close()

    app = DirectRoutesApp(title="Antenna ingest", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.publisher = publisher
    app.state.idempotency = IdempotencyCache(
        settings.idempotency_cache_size, settings.idempotency_ttl_s
    )
    app.state.status_book = StatusBook(settings.status_capacity)
    app.state.insight = InsightBook()
    app.state.preferences = PreferenceBook()
    app.state.triage = TriageBook(settings.triage_max_waiting, settings.triage_recent_reports)
    app.state.sign_in_throttle = SignInThrottle(
        ThrottlePolicy(settings.report_sign_in_max_failures, settings.report_sign_in_window_s)
    )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        larger={"/v1/email/": settings.max_email_bytes, "/v1/forms/": settings.max_form_bytes},
    )
    problems.install(app)
    app.include_router(signals.router)  # first: the busiest route is matched first
    app.add_direct_route(signals.SUBMIT)  # and not through the router at all (api.direct)
    app.include_router(health.router)
    app.include_router(forms.router)
    app.include_router(chat.router)
    app.include_router(email.router)
    app.include_router(status.router)
    app.include_router(outcomes.router)
    app.include_router(preferences.router)
    app.include_router(insight.router)
    app.include_router(triage.router)
    _document_signal_body(app)
    return app


def _document_signal_body(app: FastAPI) -> None:
    """POST /v1/signals reads its body itself (services.ingest.api.routes.signals): add
    the models its documented body refers to, which FastAPI does not know of."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        known = app.openapi_schema is not None
        schema = generate()  # FastAPI's, cached in app.openapi_schema after the first call
        if not known:
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, model in signals.openapi_components().items():
                components.setdefault(name, model)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
