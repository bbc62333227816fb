"""Fakes at the edge, for unit tests of the ingest routes: a publisher that records what
it would have sent, and can pretend the broker is down or not ready."""

from __future__ import annotations

from schemas import Signal
from services.common.kafka import BrokerUnavailable


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[Signal] = []
        self.records: list[tuple[str, str, bytes]] = []  # (topic, key, value)
        self.unavailable = False
        self.is_ready = True
        self.closed = False

    async def publish(self, signal: Signal) -> None:
        if self.unavailable:
            raise BrokerUnavailable("broker did not acknowledge: KafkaTimeoutError")
        self.published.append(signal)

    async def publish_record(self, topic: str, key: str, value: bytes) -> None:
        if self.unavailable:
            raise BrokerUnavailable("broker did not acknowledge: KafkaTimeoutError")
        self.records.append((topic, key, value))

    async def ready(self) -> bool:
        return self.is_ready

    def close(self) -> None:
        self.closed = True
