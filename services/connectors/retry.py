"""When to try a delivery again. Pure: no clock, no sleeping, randomness passed in."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    # A Retry-After beyond this is not waited for in-process: the delivery fails and is
    # parked on the DLQ instead of blocking the partition for minutes.
    max_retry_after_s: float = 120.0


def next_delay(
    policy: RetryPolicy,
    attempt: int,
    retry_after_s: float | None = None,
    rand: random.Random | None = None,
) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None to give up.

    Exponential backoff with full jitter; a server's Retry-After wins when it is given."""
    if attempt >= policy.max_attempts:
        return None
    if retry_after_s is not None:
        return retry_after_s if retry_after_s <= policy.max_retry_after_s else None
    ceiling = min(policy.max_delay_s, policy.base_delay_s * 2 ** (attempt - 1))
    return (rand or random).uniform(ceiling / 2, ceiling)
