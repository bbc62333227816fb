"""Sending one notice until its channel takes it. A channel that cannot be reached holds
the notice, and the ones after it, in order, as an unreachable destination holds the
connectors: waiting with the connectors' backoff (services/connectors/retry.py), honouring
Retry-After, never giving up. Only a final refusal lets a notice go unsent."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from services.connectors.base import DeliveryError
from services.connectors.retry import RetryPolicy, backoff
from services.notifier.settings import NotifierSettings

# Waits the given seconds; False when the wait was cut short (a rebalance or a shutdown)
# and the notice must be let go, unsent and unsettled, for whoever reads it next.
Pause = Callable[[float], Awaitable[bool]]
# Told each failed attempt that will be tried again, and the wait before it.
OnWait = Callable[[DeliveryError, float], None]


class Released:
    """The wait was cut short: the notice is neither sent nor refused."""


RELEASED = Released()


def relay_policy(settings: NotifierSettings) -> RetryPolicy:
    """The connectors' policy; of it the notifier uses the backoff, never the horizon: a
    notice waits for its channel as long as it takes."""
    return RetryPolicy(
        base_delay_s=settings.notify_retry_base_delay_s,
        max_delay_s=settings.notify_retry_max_delay_s,
        max_retry_after_s=settings.notify_retry_max_delay_s,
    )


async def _sleep(seconds: float) -> bool:
    await asyncio.sleep(seconds)
    return True


async def until_settled(
    attempt: Callable[[], Awaitable[None]],
    policy: RetryPolicy,
    on_wait: OnWait,
    pause: Pause = _sleep,
    rand: random.Random | None = None,
) -> DeliveryError | Released | None:
    """Attempt until the channel takes the message (None), refuses it for good (the
    refusal), or the wait is cut short (RELEASED)."""
    failures = 0
    while True:
        try:
            await attempt()
        except DeliveryError as exc:
            if not exc.retryable:
                return exc
            failures += 1
            delay = backoff(policy, failures, exc.retry_after_s, rand)
            on_wait(exc, delay)
            if not await pause(delay):
                return RELEASED
        else:
            return None
