"""DirectRoutesApp: a FastAPI app that hands its busiest routes straight to their handler.

Every request through a FastAPI app passes Starlette's error middleware, FastAPI's
telemetry and exit-stack middlewares, the exception middleware (two send wrappers) and the
router, which tries each route in turn. On POST /v1/signals that chain cost about a sixth
of ingest's CPU per request (tests/bench/bench_ingest.py, py-spy). A direct route is
dispatched on (method, path) by the app itself: its handler still runs behind the app's
own middlewares (BodySizeLimit: 413 as before), and its errors still reach the app's
exception handlers (problem+json, as on every other route). What it skips holds nothing
such a route needs: no dependencies (deps.DirectJsonKeyedRoute), no path parameters."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request, Any], Response | Awaitable[Response]]


class DirectRoutesApp(FastAPI):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._direct_routes: list[APIRoute] = []
        self._direct: dict[tuple[str, str], ASGIApp] | None = None

    def add_direct_route(self, route: APIRoute) -> None:
        """Dispatch ``route`` directly. It must have no path parameters; it stays in the
        router too (OpenAPI, and the same answer when a test calls the router itself)."""
        if route.param_convertors:
            raise ValueError(f"{route.path}: a direct route has no path parameters")
        self._direct_routes.append(route)
        self._direct = None

    def handler_for(self, exc: Exception) -> Handler | None:
        """The app's handler for ``exc``, found as Starlette's ExceptionMiddleware finds it:
        by the exception's class, then its base classes."""
        for cls in type(exc).__mro__:
            handler: Handler | None = self.exception_handlers.get(cls)
            if handler is not None:
                return handler
        return None

    def _endpoint(self, route: APIRoute) -> ASGIApp:
        handle = route.get_route_handler()

        async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
            request = Request(scope, receive)
            try:
                response = await handle(request)
            except Exception as exc:
                problem = self.handler_for(exc)
                if problem is None:
                    raise  # uvicorn answers 500, as Starlette's error middleware would
                answer = problem(request, exc)
                response = await answer if inspect.isawaitable(answer) else answer
            await response(scope, receive, send)

        return endpoint

    def _build_direct(self) -> dict[tuple[str, str], ASGIApp]:
        """Each direct route's endpoint inside the app's own middlewares, in the order
        Starlette stacks them (the first added is the outermost)."""
        direct: dict[tuple[str, str], ASGIApp] = {}
        for route in self._direct_routes:
            app = self._endpoint(route)
            for cls, args, kwargs in reversed(self.user_middleware):
                app = cls(app, *args, **kwargs)
            for method in route.methods or ():
                direct[(method, route.path)] = app
        return direct

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.root_path:
            if self._direct is None:
                self._direct = self._build_direct()
            app = self._direct.get((scope["method"], scope["path"]))
            if app is not None:
                scope["app"] = self
                await app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
