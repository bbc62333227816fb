"""What a stream worker does when the broker refuses a write or does not acknowledge it:
try again what may succeed later, give up on what never will.

Transient: the broker or a partition leader is away, a request timed out, too few
replicas are in sync. aiokafka marks most of these ``retriable``; its timeouts are not
marked, but a timeout says nothing about the write itself. Permanent: everything else
the client or the broker raises, such as a record larger than the broker accepts
(MessageSizeTooLargeError), an unknown or forbidden topic. Retrying those only hides
them. The caller decides what giving up means; a stream worker stops (``stop_worker``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NoReturn, TypeVar

from aiokafka.errors import KafkaError, KafkaTimeoutError, RequestTimedOutError
from faust.exceptions import ProducerSendError

from services.common.logging import fields

log = logging.getLogger(__name__)
T = TypeVar("T")


def broker_error(exc: BaseException) -> BaseException | None:
    """The broker's error in ``exc``, or None when it is not one. Faust wraps what the
    client raises while sending (a record over max_request_size, say) in
    ProducerSendError; an error the broker answers later arrives as it is."""
    if isinstance(exc, ProducerSendError) and exc.__cause__ is not None:
        exc = exc.__cause__
    return exc if isinstance(exc, KafkaError | asyncio.TimeoutError) else None


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, asyncio.TimeoutError | KafkaTimeoutError | RequestTimedOutError):
        return True
    return isinstance(exc, KafkaError) and bool(exc.retriable)


@dataclass(frozen=True)
class BrokerRetry:
    """A few tries with a doubling pause: 0.5 + 1 + 2 + 4 s by default. The client has
    already retried inside its own request timeout before an error reaches us."""

    attempts: int = 5
    first_delay_s: float = 0.5
    max_delay_s: float = 10.0

    def delay_s(self, attempt: int) -> float:
        """The pause after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.max_delay_s, self.first_delay_s * 2 ** (attempt - 1)))


class BrokerRefused(Exception):
    """A write that will never succeed, or did not after every retry."""

    def __init__(self, what: str, error: BaseException, attempts: int) -> None:
        super().__init__(f"{what}: {type(error).__name__} after {attempts} attempt(s)")
        self.what = what
        self.error = error
        self.attempts = attempts


async def with_retries(
    write: Callable[[], Awaitable[T]],
    what: str,
    policy: BrokerRetry,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run ``write`` until it succeeds; retry transient broker errors as ``policy``
    says; raise BrokerRefused for a permanent one or when the tries are used up. Other
    exceptions pass through unchanged: they are not the broker's."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await write()
        except Exception as exc:
            error = broker_error(exc)
            if error is None:
                raise
            if not is_transient(error) or attempt >= policy.attempts:
                raise BrokerRefused(what, error, attempt) from exc
            log.warning(
                "broker did not take a write; trying again",
                extra=fields(what=what, error=type(error).__name__, attempt=attempt),
            )
            await sleep(policy.delay_s(attempt))


# A record to send: a topic (anything with Faust's ``send(key=, value=)``, whose future
# resolves on the broker's acknowledgement), its key and its value.
Outgoing = tuple[Any, bytes | None, bytes]


async def send_all(
    records: Sequence[Outgoing], policy: BrokerRetry, in_order: bool = False
) -> None:
    """Send ``records`` in their order and wait for every acknowledgement at once; one
    the broker did not take is sent again, as ``policy`` says (BrokerRefused after that).
    An error that is not the broker's is raised.

    ``in_order``: records of one key must arrive in their order. The client keeps a
    partition's order through its own retries, but a record sent again here would land
    after later ones it failed before; so from the first record not taken, every record
    is sent again, one at a time (the later ones a second time: at least once)."""
    acks: list[Awaitable[Any]] = []
    for topic, key, value in records:
        try:
            acks.append(await topic.send(key=key, value=value))
        except Exception as exc:  # refused before it left: the same as a refusal
            acks.append(_raise(exc))
    results = await asyncio.gather(*acks, return_exceptions=True)
    failed = False
    for (topic, key, value), result in zip(records, results, strict=True):
        if isinstance(result, BaseException):
            if broker_error(result) is None:
                raise result
            failed = True
        if failed and (in_order or isinstance(result, BaseException)):
            what = topic.get_topic_name()  # a Faust topic's one name
            await with_retries(partial(_send_acked, topic, key, value), what, policy)


async def _send_acked(topic: Any, key: bytes | None, value: bytes) -> None:
    await (await topic.send(key=key, value=value))


async def _raise(error: Exception) -> NoReturn:
    raise error


EXIT_BROKER_REFUSED = 70  # EX_SOFTWARE
SIGNAL_ID = re.compile(r"[0-9A-Z]{26}")  # a ULID, as ingest keys signals.raw


def stop_worker(stage: str, key: bytes | None, refused: BrokerRefused) -> NoReturn:
    """Stop the worker at once, loudly, with the event's offset uncommitted: it is read
    again after the restart (`antenna up` and Kubernetes restart a worker with a
    backoff). Not by raising: Faust restarts a crashed agent, which goes on with the next
    events, past the one it crashed on (tests/integration/test_processor_faults.py), and
    a batch read again at once would retry a write that never succeeds as fast as it
    fails. Nothing of the event but a signal id (its key) is logged."""
    text = (key or b"").decode("ascii", "replace")
    signal_id = text if SIGNAL_ID.fullmatch(text) else "<not a signal id>"
    log.critical(
        f"{stage} stopped: the broker refused a write; the event is read again after a restart",
        extra=fields(
            signal_id=signal_id,
            write=refused.what,
            error=type(refused.error).__name__,
            attempts=refused.attempts,
        ),
    )
    logging.shutdown()
    os._exit(EXIT_BROKER_REFUSED)
