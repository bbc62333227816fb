"""CSRF tokens for the report page: stateless and signed.

The browser sends HTTP Basic credentials (or the SSO proxy's header) with every request,
so a hostile page could post the form on an employee's behalf. Each rendered form carries
``v1.<issued-at>.<signature>``, an HMAC-SHA256 over the signed-in user, the issue time
and the form's nonce (its idempotency key). A token is valid for one user, for
``max_age_s`` (two hours) and for one nonce; nobody without the secret can make one.

The secret comes from ``ANTENNA_CSRF_SECRET``; without it each process generates one at
start, which is fine for one process and logs everyone out of open forms on restart.
Several replicas behind a load balancer need the shared setting."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from pydantic import SecretStr

from services.common.settings import check_secret

VERSION = "v1"
DEFAULT_MAX_AGE_S = 2 * 3600
CLOCK_SKEW_S = 60  # a token "from the future" by more than this is refused


def new_nonce() -> str:
    """A fresh per-form nonce (128 random bits), used as the submission's idempotency key."""
    return secrets.token_urlsafe(16)


class CsrfSigner:
    def __init__(
        self,
        secret: bytes,
        max_age_s: int = DEFAULT_MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the CSRF secret must be at least 16 bytes")
        self._secret = secret
        self.max_age_s = max_age_s
        self._clock = clock

    @classmethod
    def from_setting(
        cls, secret: SecretStr | None, max_age_s: int = DEFAULT_MAX_AGE_S
    ) -> CsrfSigner:
        """The configured secret (refused when it is a placeholder or short), or a random
        one for this process."""
        if secret is None:
            return cls(secrets.token_bytes(32), max_age_s)
        raw = check_secret(secret, "ANTENNA_CSRF_SECRET").get_secret_value()
        return cls(raw.encode(), max_age_s)

    def _sign(self, user: str, issued_at: int, nonce: str) -> str:
        message = "\n".join((VERSION, user, str(issued_at), nonce)).encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def issue(self, user: str, nonce: str) -> str:
        issued_at = int(self._clock())
        return f"{VERSION}.{issued_at}.{self._sign(user, issued_at, nonce)}"

    def verify(self, token: str | None, user: str, nonce: str | None) -> bool:
        """True only for an unexpired token that this secret issued for ``user`` and ``nonce``."""
        if not token or not nonce or len(token) > 200:
            return False
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != VERSION or not parts[1].isdigit():
            return False
        issued_at = int(parts[1])
        age = self._clock() - issued_at
        if age > self.max_age_s or age < -CLOCK_SKEW_S:
            return False
        expected = self._sign(user, issued_at, nonce)
        return hmac.compare_digest(expected.encode(), parts[2].encode())
