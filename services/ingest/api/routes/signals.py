"""POST /v1/signals, the busiest route: it takes no FastAPI dependencies and no header
parameters. FastAPI resolves those anew on every request, and on this route they cost
more than everything else it does (tests/bench/bench_ingest.py); the API key and the
content type are checked by the route class before the body is read, and the rest comes
from the app's state."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.ingest.api.deps import JsonKeyedRoute, keyed_client
from services.ingest.idempotency import KeyReused
from services.ingest.intake import accept
from services.ingest.submission import SignalSubmission

router = APIRouter(route_class=JsonKeyedRoute)
IDEMPOTENCY_KEY = "idempotency-key"
MAX_KEY_LENGTH = 255


class Accepted(BaseModel):
    signal_id: str


def _header(name: str, description: str, **schema: object) -> dict[str, object]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


@router.post(
    "/v1/signals",
    status_code=202,
    response_model=Accepted,
    responses={401: {}, 413: {}, 415: {}, 422: {}, 503: {}},
    openapi_extra={
        "parameters": [
            _header("Authorization", "Bearer <API key> (or X-API-Key)"),
            _header("X-API-Key", "<API key> (or Authorization: Bearer)"),
            _header(
                "Idempotency-Key",
                "a re-post with the same key and body gets the same signal_id",
                maxLength=MAX_KEY_LENGTH,
            ),
        ]
    },
)
async def submit_signal(submission: SignalSubmission, request: Request) -> Response:
    idempotency_key = request.headers.get(IDEMPOTENCY_KEY)
    if idempotency_key is not None and len(idempotency_key) > MAX_KEY_LENGTH:
        raise RequestValidationError(
            [
                {
                    "loc": ("header", IDEMPOTENCY_KEY),
                    "msg": f"String should have at most {MAX_KEY_LENGTH} characters",
                    "type": "string_too_long",
                }
            ]
        )
    state = request.app.state
    try:
        accepted = await accept(
            submission,
            source=keyed_client(request),
            publisher=state.publisher,
            idempotency=state.idempotency,
            idempotency_key=idempotency_key,
            fingerprint=await request.body(),
        )
    except KeyReused as exc:
        raise HTTPException(422, str(exc)) from exc
    # Answered directly: response_model documents the answer, and FastAPI would validate
    # this one-field object again on every request.
    return JSONResponse({"signal_id": accepted.signal_id}, status_code=202)
