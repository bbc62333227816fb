"""Forms: the report page and third-party form tools (POST /v1/forms/{form_id}).

This package turns form fields into a ``SignalSubmission`` for ``intake.accept``, the one
path to signals.raw. It decodes the three body types form tools send
(application/x-www-form-urlencoded, multipart/form-data, application/json) with the
standard library, keeps only metadata of attachments (file name, type, size: the bytes
are dropped here and never stored or forwarded), and names each bad field.

The flat field names (``FLAT_FIELDS``) are the contract with form tools; JSON may also use
the nested ``SignalSubmission`` shape (``reporter``, ``customer``, ``metadata``, …).
Unknown fields are refused, as on /v1/signals: a misspelt field must not silently lose
what a customer said."""

from __future__ import annotations

import email.parser
import email.policy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl

from pydantic import ValidationError

from schemas import Attachment, Channel
from services.ingest.submission import SignalSubmission

FLAT_FIELDS: Final = (
    "text",
    "subject",
    "hint",
    "customer_name",
    "customer_email",
    "customer_phone",
    "consent",
    "callback_window",
    "reporter_id",
    "reporter_name",
    "reporter_email",
    "reporter_department",
    "language",
)
# JSON only: the nested SignalSubmission shape.
NESTED_FIELDS: Final = ("reporter", "customer", "attachments", "metadata", "channel")

HINTS: Final = frozenset({"complaint", "opportunity"})
NO_HINT: Final = frozenset({"", "unsure", "not_sure", "not-sure", "not sure", "none", "unknown"})
CONSENT_TRUE: Final = frozenset({"true", "on", "1", "yes"})
CONSENT_FALSE: Final = frozenset({"false", "off", "0", "no", ""})

MAX_FIELDS: Final = 200  # url-encoded pairs or multipart parts in one request

MEDIA_URLENCODED: Final = "application/x-www-form-urlencoded"
MEDIA_MULTIPART: Final = "multipart/form-data"
MEDIA_JSON: Final = "application/json"

# Where a nested error lands when the part came from flat fields.
_FLAT_NAME: Final[dict[tuple[str, ...], str]] = {
    ("reporter",): "reporter_id",
    ("reporter", "employee_id"): "reporter_id",
    ("reporter", "name"): "reporter_name",
    ("reporter", "email"): "reporter_email",
    ("reporter", "department"): "reporter_department",
    ("customer",): "customer_name",
    ("customer", "name"): "customer_name",
    ("customer", "email"): "customer_email",
    ("customer", "phone"): "customer_phone",
    ("customer", "consent_to_contact"): "consent",
    ("callback_window",): "callback_window",
    ("callback_window", "text"): "callback_window",
}


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str
    # required | email | too_long | choice | unknown | invalid: the page translates these.
    code: str = "invalid"


class FormInvalid(ValueError):
    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("invalid field(s): " + ", ".join(self.fields))

    @property
    def fields(self) -> list[str]:
        return list(dict.fromkeys(e.field for e in self.errors))


class UnsupportedMediaType(ValueError):
    """Not one of the three form body types."""


class AttachmentTooLarge(ValueError):
    def __init__(self, field_name: str, limit: int) -> None:
        self.field = field_name
        self.limit = limit
        super().__init__(f"attachment in {field_name!r} is over {limit} bytes")


@dataclass
class FormData:
    fields: dict[str, Any]
    attachments: list[Attachment] = field(default_factory=list)
    allow_nested: bool = False  # JSON bodies may use the nested SignalSubmission shape


def _body_error(message: str) -> FormInvalid:
    return FormInvalid([FieldError("body", message)])


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_urlencoded(body: bytes) -> dict[str, str]:
    """Repeated names: the last value wins (the hidden-input-before-checkbox idiom)."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError as exc:  # UnicodeDecodeError is one, and so is "too many fields"
        raise _body_error(f"not a valid UTF-8 url-encoded form ({type(exc).__name__})") from exc
    return dict(pairs)


def _clean_filename(raw: str, fallback: str) -> str:
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return (name or fallback)[:255]


def parse_multipart(content_type: str, body: bytes, max_attachment_bytes: int) -> FormData:
    """Text parts become fields; parts with a filename become Attachment metadata."""
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        raise _body_error("malformed multipart/form-data body")
    fields: dict[str, str] = {}
    attachments: list[Attachment] = []
    for count, part in enumerate(message.iter_parts()):
        disposition = part.get("content-disposition")
        params: Mapping[str, str] = getattr(disposition, "params", None) or {}
        name = params.get("name")
        if count >= MAX_FIELDS or part.is_multipart() or not name:
            raise _body_error("malformed multipart/form-data part")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if "filename" in params:
            if not data and not params["filename"]:
                continue  # a file input left empty
            if len(data) > max_attachment_bytes:
                raise AttachmentTooLarge(name, max_attachment_bytes)
            declared = part.get("content-type") is not None
            kind = part.get_content_type() if declared else "application/octet-stream"
            attachments.append(
                Attachment(
                    filename=_clean_filename(params["filename"], name),
                    content_type=kind[:255],
                    size=len(data),
                )
            )
            continue  # the bytes go no further than this loop
        try:
            fields[name] = data.decode(part.get_content_charset() or "utf-8")
        except (LookupError, UnicodeDecodeError) as exc:
            raise FormInvalid([FieldError(name, "not valid text in its charset")]) from exc
    return FormData(fields, attachments)


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _body_error("malformed JSON") from exc
    if not isinstance(document, dict):
        raise _body_error("the JSON body must be an object")
    return document


def parse_body(content_type: str | None, body: bytes, *, max_attachment_bytes: int) -> FormData:
    """Decode a form post by its Content-Type; raises UnsupportedMediaType, FormInvalid or
    AttachmentTooLarge."""
    kind = media_type(content_type)
    if kind == MEDIA_URLENCODED:
        return FormData(dict(parse_urlencoded(body)))
    if kind == MEDIA_MULTIPART:
        return parse_multipart(content_type or "", body, max_attachment_bytes)
    if kind == MEDIA_JSON or (kind.startswith("application/") and kind.endswith("+json")):
        return FormData(parse_json(body), allow_nested=True)
    raise UnsupportedMediaType(kind or "none")


def _value(raw: Any) -> Any:
    """Strings are trimmed, line ends normalised, and empty means absent."""
    if isinstance(raw, str):
        raw = raw.replace("\r\n", "\n").strip()
        return raw or None
    return raw


def parse_consent(raw: Any) -> bool | None:
    """True/False, or None when the value means neither."""
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in CONSENT_TRUE:
            return True
        if word in CONSENT_FALSE:
            return False
    return None


def parse_hint(raw: Any) -> str | None:
    """The hint as metadata: complaint or opportunity; None for "not sure"; ValueError
    for anything else."""
    if raw is None:
        return None
    word = raw.strip().lower() if isinstance(raw, str) else None
    if word in HINTS:
        return word
    if word in NO_HINT:
        return None
    raise ValueError("hint must be complaint, opportunity or not_sure")


def _error_code(error_type: str, field_name: str) -> str:
    if error_type in ("missing", "string_too_short"):
        return "required"
    if error_type in ("string_too_long", "too_long"):
        return "too_long"
    if field_name.endswith("email"):
        return "email"
    return "invalid"


def _nested_part(
    key: str,
    fields: Mapping[str, Any],
    flat: Mapping[str, Any],
    flat_names: Sequence[str],
    errors: list[FieldError],
) -> Any:
    """The nested value of ``key`` if the client sent it, else None; both is an error."""
    if key not in fields:
        return None
    if any(flat.get(name) is not None for name in flat_names):
        errors.append(FieldError(key, f"send either {key} or {', '.join(flat_names)}"))
    return fields[key]


def build_submission(
    fields: Mapping[str, Any],
    *,
    attachments: Sequence[Attachment] = (),
    metadata: Mapping[str, str] | None = None,
    allow_nested: bool = False,
) -> SignalSubmission:
    """Validate form fields into a SignalSubmission (channel ``form``) or raise FormInvalid
    naming every bad field. The hint becomes ``metadata["hint"]``; ``metadata`` (e.g. the
    form id) is added last and wins over anything the client sent."""
    allowed = set(FLAT_FIELDS) | (set(NESTED_FIELDS) if allow_nested else set())
    errors = [
        FieldError(name, "unknown field", "unknown") for name in fields if name not in allowed
    ]
    flat = {name: _value(fields.get(name)) for name in FLAT_FIELDS}
    document: dict[str, Any] = {"channel": Channel.form.value}
    for name in ("text", "subject", "language"):
        if flat[name] is not None:
            document[name] = flat[name]

    extra: dict[str, str] = {}
    try:
        hint = parse_hint(flat["hint"])
    except ValueError as exc:
        errors.append(FieldError("hint", str(exc), "choice"))
    else:
        if hint:
            extra["hint"] = hint

    reporter_names = ("reporter_id", "reporter_name", "reporter_email", "reporter_department")
    customer_names = ("customer_name", "customer_email", "customer_phone", "consent")
    flat_parents: set[str] = set()
    nested = fields if allow_nested else {}

    reporter = _nested_part("reporter", nested, flat, reporter_names, errors)
    if reporter is None:
        flat_parents.add("reporter")
        reporter = {
            key: flat[name]
            for key, name in zip(
                ("employee_id", "name", "email", "department"), reporter_names, strict=True
            )
            if flat[name] is not None
        }
    document["reporter"] = reporter

    customer = _nested_part("customer", nested, flat, customer_names, errors)
    if customer is None:
        flat_parents.add("customer")
        consent = parse_consent(flat["consent"])
        if consent is None:
            errors.append(FieldError("consent", "consent must be true/on/1/yes or false", "choice"))
        customer = {
            key: flat[name]
            for key, name in zip(("name", "email", "phone"), customer_names[:3], strict=True)
            if flat[name] is not None
        }
        if customer or consent:
            customer["consent_to_contact"] = bool(consent)
        else:
            customer = None
    if customer is not None:
        document["customer"] = customer

    window = flat["callback_window"]
    if isinstance(window, str):
        flat_parents.add("callback_window")
        document["callback_window"] = {"text": window}
    elif window is not None:
        document["callback_window"] = window  # JSON: the nested {text, not_before, not_after}

    if allow_nested:
        channel = fields.get("channel")
        if channel is not None and channel != Channel.form.value:
            errors.append(FieldError("channel", "this endpoint takes form signals only"))
        client_attachments = fields.get("attachments")
        if client_attachments is not None:
            if isinstance(client_attachments, list):
                attachments = [*client_attachments, *attachments]
            else:
                errors.append(FieldError("attachments", "must be a list of attachment metadata"))
        client_metadata = fields.get("metadata")
        if client_metadata is not None:
            if isinstance(client_metadata, dict):
                extra = {**client_metadata, **extra}
            else:
                errors.append(FieldError("metadata", "must be an object of strings"))
    if attachments:
        document["attachments"] = list(attachments)
    document["metadata"] = {**extra, **(metadata or {})}

    try:
        submission = SignalSubmission.model_validate(document)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(str(part) for part in error["loc"])
            if loc and loc[0] in flat_parents and loc[:2] in _FLAT_NAME:
                name = _FLAT_NAME[loc[:2]]
            elif loc and loc[0] in flat_parents and loc[:1] in _FLAT_NAME:
                name = _FLAT_NAME[loc[:1]]
            else:
                name = ".".join(loc) or "body"
            errors.append(FieldError(name, error["msg"], _error_code(error["type"], name)))
    if errors:
        raise FormInvalid(errors)
    return submission
