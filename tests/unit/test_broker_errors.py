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
    all_acknowledged,
    is_transient,
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


class Batch:
    """Writes as a Faust topic takes them: ``start`` hands a record over and returns its
    acknowledgement. ``fail`` maps a write's index to the errors its first attempts meet
    (an Exception at hand-over when ``at_start``); ``log`` says what happened when."""

    def __init__(self, size: int, fail: dict[int, list[BaseException]], at_start: bool = False):
        self.log: list[str] = []
        self.fail, self.at_start = fail, at_start
        self.writes = [(f"topic-{i}", self._start(i)) for i in range(size)]

    def _start(self, i: int) -> Callable[[], Awaitable[Awaitable[str]]]:
        async def start() -> Awaitable[str]:
            self.log.append(f"sent {i}")
            error = self.fail.get(i, []).pop(0) if self.fail.get(i) else None
            if error is not None and self.at_start:
                raise error

            async def acknowledged() -> str:
                self.log.append(f"acked {i}")
                if error is not None:
                    raise error
                return f"offset {i}"

            return acknowledged()

        return start

    def run(self, slept: list[float]) -> list[str]:
        async def sleep(seconds: float) -> None:
            slept.append(seconds)

        return asyncio.run(all_acknowledged(self.writes, POLICY, sleep))


def test_a_batch_is_handed_over_whole_before_its_acknowledgements_are_awaited() -> None:
    batch = Batch(3, {})
    assert batch.run([]) == ["offset 0", "offset 1", "offset 2"]
    assert batch.log == ["sent 0", "sent 1", "sent 2", "acked 0", "acked 1", "acked 2"]


def test_a_write_that_failed_is_written_again_alone_after_the_others() -> None:
    batch = Batch(3, {1: [KafkaTimeoutError()]})
    slept: list[float] = []
    assert batch.run(slept) == ["offset 0", "offset 1", "offset 2"]  # in the batch's order
    assert batch.log[3:] == ["acked 0", "acked 1", "acked 2", "sent 1", "acked 1"]
    assert slept == [0.5]  # the failed first attempt counts as the first try


def test_a_write_refused_for_good_says_which_of_the_batch_it_was() -> None:
    batch = Batch(3, {2: [MessageSizeTooLargeError()]}, at_start=True)
    slept: list[float] = []
    with pytest.raises(BrokerRefused) as refused:
        batch.run(slept)
    assert refused.value.index == 2 and refused.value.what == "topic-2"
    assert isinstance(refused.value.error, MessageSizeTooLargeError) and slept == []
