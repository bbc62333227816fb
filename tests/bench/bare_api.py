"""The ingest benchmark's baseline: a bare FastAPI endpoint at the same path, served by
the same code with the same settings as ingest (services.ingest.main.serve), that reads
nothing and publishes nothing. `python -m tests.bench.bare_api` with ingest's
environment (ANTENNA_API_PORT and the rest)."""

from __future__ import annotations

from fastapi import FastAPI

from services.ingest.main import serve
from services.ingest.settings import IngestSettings

app = FastAPI(title="bare")


@app.post("/v1/signals", status_code=202)
async def submit() -> dict[str, str]:
    return {"signal_id": "01JBARE0000000000000000000"}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    serve(app, IngestSettings())
