"""The bridge from kafka-python's acknowledgements (completed in the producer's I/O
thread) to the asyncio futures that posts await (services/ingest/publisher.py)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from kafka.errors import KafkaTimeoutError
from kafka.future import Future

from services.ingest.publisher import _Acks


def settle_in_thread(*work: tuple[Future, BaseException | None]) -> None:
    def run() -> None:
        for sent, error in work:
            if error is None:
                sent.success("metadata")
            else:
                sent.failure(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def test_acknowledgements_from_another_thread_reach_every_waiter() -> None:
    async def scenario() -> list[object]:
        acks = _Acks(asyncio.get_running_loop())
        sent = [Future() for _ in range(50)]
        waiters = [acks.waiter(s) for s in sent]
        error = KafkaTimeoutError("no answer")
        settle_in_thread(*[(s, error if i == 7 else None) for i, s in enumerate(sent)])
        return await asyncio.gather(*waiters, return_exceptions=True)

    results = asyncio.run(scenario())
    assert isinstance(results[7], KafkaTimeoutError)
    assert results[:7] + results[8:] == [None] * 49


def test_an_acknowledgement_for_a_request_that_gave_up_is_ignored() -> None:
    async def scenario() -> None:
        acks = _Acks(asyncio.get_running_loop())
        sent, later = Future(), Future()
        abandoned, waiting = acks.waiter(sent), acks.waiter(later)
        abandoned.cancel()  # the post timed out or its client went away
        settle_in_thread((sent, None), (later, None))
        assert await waiting is None

    asyncio.run(scenario())


def test_an_already_acknowledged_record_settles_at_once() -> None:
    async def scenario() -> None:
        acks = _Acks(asyncio.get_running_loop())
        sent = Future().failure(KafkaTimeoutError("expired"))
        with pytest.raises(KafkaTimeoutError):
            await acks.waiter(sent)

    asyncio.run(scenario())


def test_a_record_never_acknowledged_fails_after_the_patience() -> None:
    """One sweep timer for all waiters, not a timer per post; a stuck producer still ends
    in TimeoutError (the API's 503), and an answer in time is not touched."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        acks = _Acks(loop, sweep_s=0.01)
        stuck, answered, late = Future(), Future(), Future()
        stuck_waiter = acks.waiter(stuck, patience_s=0.05)
        answered_waiter = acks.waiter(answered, patience_s=0.05)
        late_waiter = acks.waiter(late, patience_s=30)
        settle_in_thread((answered, None))
        assert await answered_waiter is None
        started = loop.time()
        with pytest.raises(TimeoutError):
            await stuck_waiter
        assert loop.time() - started < 5
        assert not late_waiter.done()  # its patience is not over
        settle_in_thread((stuck, None), (late, None))  # a late answer is ignored
        assert await late_waiter is None

    asyncio.run(scenario())
