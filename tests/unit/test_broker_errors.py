"""The judge stage's choice on broker errors: retry what may pass, give up on the rest."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiokafka.errors import (
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotEnoughReplicasError,
    NotLeaderForPartitionError,
    RecordListTooLargeError,
    TopicAuthorizationFailedError,
)
from faust.exceptions import ProducerSendError

from services.common.broker_errors import (
    BrokerRefused,
    BrokerRetry,
    is_transient,
    send_all,
    with_retries,
)

POLICY = BrokerRetry(attempts=4, first_delay_s=0.5, max_delay_s=1.5)


def failing(*errors: BaseException) -> tuple[Callable[[], Awaitable[str]], list[int]]:
    """A write that raises ``errors`` one by one, then succeeds; and its call count."""
    calls = [0]

    async def write() -> str:
        calls[0] += 1
        if calls[0] <= len(errors):
            raise errors[calls[0] - 1]
        return "stored"

    return write, calls


def run(write: Callable[[], Awaitable[str]], slept: list[float]) -> str:
    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return asyncio.run(with_retries(write, "dedupe memory", POLICY, sleep))


@pytest.mark.parametrize(
    "error",
    [KafkaTimeoutError(), NotEnoughReplicasError(), NotLeaderForPartitionError(), TimeoutError()],
)
def test_transient_errors_are_retried_with_a_growing_pause(error: BaseException) -> None:
    assert is_transient(error)
    write, calls = failing(error, error, error)
    slept: list[float] = []
    assert run(write, slept) == "stored"
    assert calls[0] == 4
    assert slept == [0.5, 1.0, 1.5]  # doubling, capped


@pytest.mark.parametrize(
    "error",
    [MessageSizeTooLargeError(), RecordListTooLargeError(), TopicAuthorizationFailedError()],
)
def test_errors_that_never_pass_give_up_at_once(error: BaseException) -> None:
    assert not is_transient(error)
    write, calls = failing(error)
    slept: list[float] = []
    with pytest.raises(BrokerRefused) as refused:
        run(write, slept)
    assert calls[0] == 1 and slept == []
    assert refused.value.error is error and refused.value.what == "dedupe memory"


def test_a_broker_that_stays_away_is_given_up_after_the_last_try() -> None:
    write, calls = failing(*[KafkaTimeoutError()] * 10)
    slept: list[float] = []
    with pytest.raises(BrokerRefused) as refused:
        run(write, slept)
    assert calls[0] == POLICY.attempts == refused.value.attempts
    assert len(slept) == POLICY.attempts - 1


def test_errors_that_are_not_the_brokers_pass_through_unchanged() -> None:
    write, calls = failing(KeyError("a bug"))
    with pytest.raises(KeyError):
        run(write, [])
    assert calls[0] == 1


def test_what_faust_wraps_is_judged_by_the_clients_error() -> None:
    """Faust raises ProducerSendError from the client's own error (seen: a routed event
    over max_request_size); judged as that error, not passed through as a bug."""

    def wrapped(error: BaseException) -> ProducerSendError:
        try:
            raise ProducerSendError(f"Error while sending: {error!r}") from error
        except ProducerSendError as exc:
            return exc

    write, calls = failing(wrapped(KafkaTimeoutError()), wrapped(MessageSizeTooLargeError()))
    with pytest.raises(BrokerRefused) as refused:
        run(write, [])
    assert calls[0] == 2
    assert isinstance(refused.value.error, MessageSizeTooLargeError)


class FlakyTopic:
    """A topic whose broker refuses the records named in ``refuse`` once (a transient
    error), and that lists what it finally holds, in order."""

    def __init__(self, refuse: set[bytes]) -> None:
        self.refuse = refuse
        self.held: list[bytes] = []

    def get_topic_name(self) -> str:
        return "t"

    async def send(self, key: bytes | None, value: bytes) -> asyncio.Future[None]:
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if value in self.refuse:
            self.refuse.discard(value)
            ack.set_exception(NotEnoughReplicasError())
        else:
            self.held.append(value)
            ack.set_result(None)
        return ack


@pytest.mark.parametrize("in_order", [False, True])
def test_send_all_sends_a_refused_record_again_and_in_order_when_asked(in_order: bool) -> None:
    topic = FlakyTopic({b"2"})
    records = [(topic, b"k", str(n).encode()) for n in range(1, 5)]
    asyncio.run(send_all(records, BrokerRetry(first_delay_s=0), in_order))
    if in_order:  # from the refused one on, all again: the last of each is in order
        assert topic.held == [b"1", b"3", b"4", b"2", b"3", b"4"]
    else:
        assert topic.held == [b"1", b"3", b"4", b"2"]
