"""Publish signals to signals.raw and wait for the broker's acknowledgement.

``publish`` returns only once the broker acknowledged with acks=all; otherwise it raises
BrokerUnavailable and the API answers 503: a 202 always means the signal is on the broker.
The vendor webhooks publish their outcomes through ``publish_record`` with the same
guarantee.

Concurrent posts share produce requests: the record goes into kafka-python's
accumulator at once (``send`` does not block once the topic's partitions are known) and
the request waits on an asyncio future that the producer's I/O thread completes. While
one produce request is in flight, the records of other posts gather in the next batch,
so the broker sees one round trip per batch instead of one per post, and no thread is
held per waiting post."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError

from schemas import Signal, topics
from services.common.kafka import BrokerUnavailable, broker_reachable
from services.common.settings import CommonSettings
from services.ingest.partitioner import KeyHashPartitioner
from services.ingest.settings import PUBLISH_BATCH_BYTES, PUBLISH_LINGER_MS


class Publisher(Protocol):
    async def publish(self, signal: Signal) -> None: ...
    async def publish_record(self, topic: str, key: str, value: bytes) -> None: ...
    async def ready(self) -> bool: ...
    def close(self) -> None: ...


class _Acks:
    """Hands the producer's acknowledgements (called in its I/O thread) to the event loop,
    one loop wake-up for all the records of a batch rather than one per record."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sweep_s: float = 1.0) -> None:
        self.loop = loop
        self._done: deque[tuple[asyncio.Future[None], BaseException | None]] = deque()
        self._lock = threading.Lock()
        self._scheduled = False
        # Waiters with a patience, oldest first; one timer sweeps them every ``sweep_s``
        # instead of a timer per post (asyncio.timeout: a heap entry made and cancelled
        # for every request, a measurable share of ingest's CPU per request).
        self.sweep_s = sweep_s
        self._watched: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._sweep: asyncio.TimerHandle | None = None

    def waiter(self, sent: Any, patience_s: float | None = None) -> asyncio.Future[None]:
        """An asyncio future settled when the kafka-python future ``sent`` is; with
        ``patience_s``, failed with TimeoutError when ``sent`` is not settled by then
        (give or take ``sweep_s``). Use one patience per _Acks: the sweep reads the
        waiters in the order they were made."""
        waiter: asyncio.Future[None] = self.loop.create_future()
        sent.add_callback(lambda _metadata: self._settle(waiter, None))
        sent.add_errback(lambda error: self._settle(waiter, error))
        if patience_s is not None and not waiter.done():
            self._watched.append((self.loop.time() + patience_s, waiter))
            if self._sweep is None:
                self._sweep = self.loop.call_later(self.sweep_s, self._expire)
        return waiter

    def _expire(self) -> None:
        self._sweep = None
        now = self.loop.time()
        watched = self._watched
        while watched and (watched[0][1].done() or watched[0][0] <= now):
            _, waiter = watched.popleft()
            if not waiter.done():
                waiter.set_exception(TimeoutError("no acknowledgement from the producer"))
        if watched:
            self._sweep = self.loop.call_later(self.sweep_s, self._expire)

    def _settle(self, waiter: asyncio.Future[None], error: BaseException | None) -> None:
        with self._lock:
            self._done.append((waiter, error))
            if self._scheduled:
                return
            self._scheduled = True
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            self.loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            done, self._done = self._done, deque()
            self._scheduled = False
        for waiter, error in done:
            if waiter.done():  # the request gave up (timeout) or was cancelled
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)


class KafkaSignalPublisher:
    def __init__(
        self,
        bootstrap: list[str],
        timeout_s: float,
        client_options: Mapping[str, Any] | None = None,
        *,
        linger_ms: int = PUBLISH_LINGER_MS,
        batch_bytes: int = PUBLISH_BATCH_BYTES,
    ) -> None:
        """``client_options``: TLS/SASL for kafka-python; unset, the environment's."""
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        self.linger_ms = linger_ms
        self.batch_bytes = batch_bytes
        self.client_options = (
            dict(client_options)
            if client_options is not None
            else CommonSettings().kafka_client_options()
        )
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()
        self._acks: _Acks | None = None

    def _get_producer(self) -> KafkaProducer:
        # Created on first use: the constructor needs a reachable broker, and the API
        # must start (and answer 503) while the broker is down.
        with self._lock:
            if self._producer is None:
                ms = int(self.timeout_s * 1000)
                self._producer = KafkaProducer(
                    bootstrap_servers=self.bootstrap,
                    client_id="antenna-ingest",
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=self.linger_ms,
                    batch_size=self.batch_bytes,
                    partitioner=KeyHashPartitioner(),  # kafka-python's partitions, cheaper
                    bootstrap_timeout_ms=ms,
                    max_block_ms=ms,
                    request_timeout_ms=max(ms // 2, 1000),
                    delivery_timeout_ms=ms,
                    **self.client_options,
                )
            return self._producer

    async def publish_record(self, topic: str, key: str, value: bytes) -> None:
        loop = asyncio.get_running_loop()
        try:
            producer: Any = self._producer or await asyncio.to_thread(self._get_producer)
            if knows_partitions(producer, topic):
                sent = producer.send(topic, key=key.encode(), value=value)
            else:  # send would wait for the topic's metadata: not on the event loop
                sent = await asyncio.to_thread(producer.send, topic, key=key.encode(), value=value)
        except KafkaError as exc:
            raise BrokerUnavailable(f"broker did not acknowledge: {type(exc).__name__}") from exc
        if self._acks is None or self._acks.loop is not loop:
            self._acks = _Acks(loop)
        try:
            # delivery_timeout_ms fails the record by then; the patience only guards
            # against a producer that never answers at all.
            await self._acks.waiter(sent, self.timeout_s + 1)
        except (KafkaError, TimeoutError) as exc:
            raise BrokerUnavailable(f"broker did not acknowledge: {type(exc).__name__}") from exc

    async def publish(self, signal: Signal) -> None:
        await self.publish_record(topics.RAW, signal.signal_id, signal.model_dump_json().encode())

    async def ready(self) -> bool:
        return await asyncio.to_thread(
            broker_reachable, self.bootstrap, 2.0, client_options=self.client_options
        )

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=5)
                self._producer = None


def knows_partitions(producer: KafkaProducer, topic: str) -> bool:
    """Whether ``producer.send(topic, ...)`` returns at once: kafka-python 3.0 blocks in
    send only to fetch the metadata of a topic whose partitions it does not know yet."""
    return producer._metadata.partitions_for_topic(topic) is not None
