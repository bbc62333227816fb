"""Who is reporting on the report page: an employee, never an API client.

Two ways in, both configured in the environment:

- HTTP Basic against ``ANTENNA_REPORT_USERS`` ("user:password" pairs, comma-separated),
  compared in constant time;
- ``ANTENNA_REPORT_TRUSTED_USER_HEADER`` (e.g. ``X-Forwarded-Email``): an SSO proxy in
  front has signed the employee in and names them in that header. Only safe when the
  service is reachable through that proxy alone, which must also strip the header from
  incoming requests.

With neither, the page is switched off (404). Passwords and user names are never logged."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from services.ingest.settings import IngestSettings

REALM = "Antenna report page"
MAX_USER_LENGTH = 200

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Employee:
    user: str
    method: Literal["basic", "header"]


class NotConfigured(Exception):
    """Neither report users nor a trusted header are set: the page does not exist."""


class Unauthorized(Exception):
    def __init__(self, basic_challenge: bool, attempted: bool = False) -> None:
        super().__init__("sign-in needed")
        self.basic_challenge = basic_challenge
        self.attempted = attempted  # a user name and password were given, and refused


def challenge_header() -> dict[str, str]:
    return {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'}


def _digest(value: str) -> bytes:
    # Equal-length inputs for compare_digest: the compare leaks no length.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def _users(settings: IngestSettings) -> list[tuple[bytes, bytes]]:
    users = []
    for position, entry in enumerate(settings.report_users, start=1):
        user, sep, password = entry.get_secret_value().partition(":")
        if not sep or not user or not password:
            log.warning("ANTENNA_REPORT_USERS entry %d is not user:password; ignored", position)
            continue
        users.append((_digest(user), _digest(password)))
    return users


def presents_basic(headers: Mapping[str, str]) -> bool:
    scheme = (headers.get("authorization") or "").strip().partition(" ")[0]
    return scheme.lower() == "basic"


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep or not user:
        return None
    return user, password


def _check_basic(users: list[tuple[bytes, bytes]], user: str, password: str) -> bool:
    presented_user, presented_password = _digest(user), _digest(password)
    matched = False
    for known_user, known_password in users:  # no early exit: every entry is compared
        same_user = hmac.compare_digest(presented_user, known_user)
        same_password = hmac.compare_digest(presented_password, known_password)
        matched |= same_user & same_password
    return matched


def _usable_name(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_USER_LENGTH or not value.isprintable():
        return None
    return value


def authenticate(settings: IngestSettings, headers: Mapping[str, str]) -> Employee:
    """The signed-in employee, or NotConfigured / Unauthorized.

    ``headers`` must look names up case-insensitively (Starlette's Headers do)."""
    users = _users(settings)
    trusted = settings.report_trusted_user_header
    if not users and not trusted:
        raise NotConfigured()
    if trusted:
        name = _usable_name(headers.get(trusted))
        if name is not None:
            return Employee(name, "header")
    if users:
        credentials = _basic_credentials(headers.get("authorization"))
        if credentials is not None and _check_basic(users, *credentials):
            user = _usable_name(credentials[0])
            if user is not None:
                return Employee(user, "basic")
        if credentials is not None:
            log.info("report page sign-in refused")  # no user name: it may be personal
        raise Unauthorized(basic_challenge=True, attempted=credentials is not None)
    raise Unauthorized(basic_challenge=False)  # only the SSO proxy signs people in
