"""HMAC-SHA256 request signatures, timestamped against replay.

The signed string is ``"{timestamp}.{body}"``; the header value is ``v1=<hex digest>``.
Receivers recompute it with the shared secret and reject stale timestamps.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Antenna-Signature"
TIMESTAMP_HEADER = "X-Antenna-Timestamp"
DEFAULT_TOLERANCE_S = 300


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify(
    secret: bytes,
    timestamp: int,
    body: bytes,
    signature: str,
    now: float,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    if abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
