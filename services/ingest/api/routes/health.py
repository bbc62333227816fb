"""Health and metrics: the only endpoints without authentication."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.ingest.api.deps import PublisherDep
from services.ingest.api.problems import problem

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(publisher: PublisherDep) -> dict[str, str] | Response:
    if await publisher.ready():
        return {"status": "ready"}
    return problem(503, "Broker unreachable", headers={"Retry-After": "5"})


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
