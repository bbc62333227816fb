"""POST /v1/signals, the busiest route: it takes no FastAPI dependencies, no header
parameters and no body parameter, and its endpoint is awaited directly (deps.
DirectJsonKeyedRoute). FastAPI resolves those anew on every request, and on this route
they cost more than everything else it does (tests/bench/bench_ingest.py); the API key
and the content type are checked by the route class before the body is read, the rest
comes from the app's state, and the body is validated from its raw bytes by pydantic
(``model_validate_json``: no ``json.loads`` into dicts that are then validated again). Its
errors are FastAPI's own (RequestValidationError, ``loc`` starting with "body"), so a
client sees the same problem+json as on every other route."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from services.ingest.api.deps import DirectJsonKeyedRoute, keyed_client
from services.ingest.idempotency import KeyReused
from services.ingest.intake import accept
from services.ingest.submission import SignalSubmission

router = APIRouter(route_class=DirectJsonKeyedRoute)
IDEMPOTENCY_KEY = "idempotency-key"
MAX_KEY_LENGTH = 255


class Accepted(BaseModel):
    signal_id: str


# The body as FastAPI would document a SignalSubmission parameter (the route reads it
# itself); the models it refers to are added to the components (``openapi_components``).
_REF = "#/components/schemas/{model}"
REQUEST_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": _REF.format(model="SignalSubmission")}}},
}


def openapi_components() -> dict[str, object]:
    """The JSON Schemas of SignalSubmission and the models it uses, by name."""
    schema = SignalSubmission.model_json_schema(ref_template=_REF)
    return {**schema.pop("$defs", {}), "SignalSubmission": schema}


def _submission(body: bytes) -> SignalSubmission:
    try:
        return SignalSubmission.model_validate_json(body)
    except ValidationError as exc:
        # As FastAPI reports a body parameter's errors: located under "body".
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None


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
        "requestBody": REQUEST_BODY,
        "parameters": [
            _header("Authorization", "Bearer <API key> (or X-API-Key)"),
            _header("X-API-Key", "<API key> (or Authorization: Bearer)"),
            _header(
                "Idempotency-Key",
                "a re-post with the same key and body gets the same signal_id",
                maxLength=MAX_KEY_LENGTH,
            ),
        ],
    },
)
async def submit_signal(request: Request) -> Response:
    body = await request.body()
    submission = _submission(body)  # first, as when FastAPI validated the body
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
            fingerprint=body,
        )
    except KeyReused as exc:
        raise HTTPException(422, str(exc)) from exc
    # Answered directly: response_model documents the answer, and FastAPI would validate
    # this one-field object again on every request. The id is a ULID (base32 letters and
    # digits): nothing in it needs escaping, so the JSON is written without json.dumps.
    return Response(
        b'{"signal_id":"' + accepted.signal_id.encode() + b'"}',
        status_code=202,
        media_type="application/json",
    )


# The route itself, for the app to dispatch directly (services.ingest.api.direct).
[SUBMIT] = [route for route in router.routes if isinstance(route, APIRoute)]
