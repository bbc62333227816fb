"""Start-up checks: every connector's ``start()`` runs before the first signal, so that
a wrong credential or a missing custom field stops `antenna up` and `antenna connectors`
with a clear message instead of parking the first signals.

A target that cannot be reached is not a configuration error: it is logged, and
delivery pauses and retries as usual once signals arrive."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from services.common.logging import fields
from services.connectors.base import Connector, DeliveryError, StartupError

log = logging.getLogger(__name__)


async def _check(connectors: dict[str, Connector]) -> list[str]:
    problems = []
    for destination, connector in connectors.items():
        try:
            await connector.start()
        except StartupError as exc:
            problems.append(f"{destination} connector {connector.name}: {exc}")
        except DeliveryError as exc:
            if not exc.retryable:
                problems.append(f"{destination} connector {connector.name}: {exc}")
            else:
                log.warning(
                    "connector target not reachable at start-up; deliveries will wait",
                    extra=fields(destination=destination, connector=connector.name),
                )
        finally:
            await connector.close()
    return problems


def check_connectors(connectors: dict[str, Connector]) -> None:
    """Run each connector's start-up check, then close it; raise StartupError naming
    every destination whose connector cannot work. The check runs in an event loop of
    its own thread, so that the caller's (Faust's) loop is left untouched."""
    with ThreadPoolExecutor(1) as pool:
        problems = pool.submit(asyncio.run, _check(connectors)).result()
    if problems:
        raise StartupError("; ".join(problems))
