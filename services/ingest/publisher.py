"""Publish signals to signals.raw and wait for the broker's acknowledgement.

kafka-python is blocking, so each publish runs in a worker thread. ``publish`` returns
only once the broker acknowledged with acks=all; otherwise it raises BrokerUnavailable
and the API answers 503: a 202 always means the signal is on the broker. The vendor
webhooks publish their outcomes through ``publish_record`` with the same guarantee."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError

from schemas import Signal, topics
from services.common.kafka import BrokerUnavailable, broker_reachable
from services.common.settings import CommonSettings


class Publisher(Protocol):
    async def publish(self, signal: Signal) -> None: ...
    async def publish_record(self, topic: str, key: str, value: bytes) -> None: ...
    async def ready(self) -> bool: ...
    def close(self) -> None: ...


class KafkaSignalPublisher:
    def __init__(
        self,
        bootstrap: list[str],
        timeout_s: float,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        """``client_options``: TLS/SASL for kafka-python; unset, the environment's."""
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        self.client_options = (
            dict(client_options)
            if client_options is not None
            else CommonSettings().kafka_client_options()
        )
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

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
                    linger_ms=2,
                    bootstrap_timeout_ms=ms,
                    max_block_ms=ms,
                    request_timeout_ms=max(ms // 2, 1000),
                    delivery_timeout_ms=ms,
                    **self.client_options,
                )
            return self._producer

    def _publish_blocking(self, topic: str, key: str, value: bytes) -> None:
        try:
            producer = self._get_producer()
            future = producer.send(topic, key=key.encode(), value=value)
            future.get(timeout=self.timeout_s + 1)
        except KafkaError as exc:
            raise BrokerUnavailable(f"broker did not acknowledge: {type(exc).__name__}") from exc

    async def publish(self, signal: Signal) -> None:
        await self.publish_record(topics.RAW, signal.signal_id, signal.model_dump_json().encode())

    async def publish_record(self, topic: str, key: str, value: bytes) -> None:
        await asyncio.to_thread(self._publish_blocking, topic, key, value)

    async def ready(self) -> bool:
        return await asyncio.to_thread(
            broker_reachable, self.bootstrap, 2.0, client_options=self.client_options
        )

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=5)
                self._producer = None
