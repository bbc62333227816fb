"""Who does not want to hear back. The preferences live on the compacted topic
employees.preferences (``NotificationPreference`` keyed by employee_id; the report page's
/report/preferences writes them). Every notifier reads the whole topic into memory: the
list is small (one record per employee who changed the default), and any worker may have
to tell any employee.

``PreferenceBook`` and ``wants_news`` are pure; ``PreferenceFollower`` feeds a book from
Kafka in a daemon thread (kafka-python, no consumer group) and says when it has read what
the topic held at start, so that nothing is sent before an opt-out is known."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from schemas import NotificationPreference, Reporter
from services.common.logging import fields
from services.notifier import metrics

log = logging.getLogger(__name__)


def identity(value: str) -> str:
    """E-mail addresses compare without case; employee ids as they are."""
    value = value.strip()
    return value.lower() if "@" in value else value


def wants_news(notify: Mapping[str, bool], reporter: Reporter) -> bool:
    """Whether ``reporter`` may be told: not when a preference under their employee id or
    their e-mail address says no. No preference: yes."""
    names = (reporter.employee_id, reporter.email)
    return all(notify.get(identity(name), True) for name in names if name)


class PreferenceBook:
    """The latest ``notify`` per employee. Written by one thread, read by another: each
    write replaces one dict item, which is atomic."""

    def __init__(self) -> None:
        self.notify: dict[str, bool] = {}

    def apply(self, key: bytes | None, value: bytes | None) -> bool:
        """Fold one record in; False when it cannot be read (skipped)."""
        if not key:
            return False
        try:
            employee = identity(key.decode())
            if value is None:  # a tombstone: back to the default
                self.notify.pop(employee, None)
                return True
            preference = NotificationPreference.model_validate_json(value)
        except (UnicodeDecodeError, ValidationError):
            return False
        if identity(preference.employee_id) != employee:
            return False  # compaction keeps one record per key: the key must be its employee
        self.notify[employee] = preference.notify
        return True

    @property
    def opted_out(self) -> int:
        return sum(1 for notify in list(self.notify.values()) if not notify)


class PreferenceFollower:
    """Reads ``topic`` into ``book`` from the beginning until ``close()``.

    ``consumer_factory`` builds a kafka-python KafkaConsumer; it is called again after a
    broker error, and reading resumes where it stopped."""

    def __init__(
        self,
        book: PreferenceBook,
        bootstrap: list[str],
        topic: str,
        *,
        consumer_factory: Callable[[], Any] | None = None,
        retry_delay_s: float = 1.0,
    ) -> None:
        self.book = book
        self.bootstrap = bootstrap
        self.topic = topic
        self._factory = consumer_factory or self._consumer
        self.retry_delay_s = retry_delay_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._positions: dict[int, int] = {}  # partition -> next offset
        self._caught_up = threading.Event()
        self._loaded: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _consumer(self) -> Any:
        from kafka import KafkaConsumer

        return KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id="antenna-notifier-preferences",
            group_id=None,
            enable_auto_commit=False,
        )

    def start(self) -> None:
        """Start reading; call on the event loop that will await ``loaded``."""
        self._loop = asyncio.get_running_loop()
        self._loaded = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="preferences", daemon=True)
        self._thread.start()

    async def loaded(self) -> None:
        """Return once the topic has been read up to where it ended at start."""
        assert self._loaded is not None, "start() first"
        await self._loaded.wait()

    def close(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        delay = self.retry_delay_s
        while not self._stop.is_set():
            consumer = None
            try:
                consumer = self._factory()
                self._follow(consumer)
            except Exception as exc:  # the broker is down: wait, reconnect, resume
                log.warning(
                    "preferences: broker error, retrying",
                    extra=fields(error=type(exc).__name__, delay_s=delay),
                )
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
            finally:
                if consumer is not None:
                    consumer.close()

    def _follow(self, consumer: Any) -> None:
        from kafka import TopicPartition

        partitions = consumer.partitions_for_topic(self.topic)
        while not partitions:  # not created yet
            if self._stop.wait(self.retry_delay_s):
                return
            partitions = consumer.partitions_for_topic(self.topic)
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        for tp in assigned:
            if tp.partition in self._positions:
                consumer.seek(tp, self._positions[tp.partition])
            else:
                consumer.seek_to_beginning(tp)
        ends = consumer.end_offsets(assigned)
        while not self._stop.is_set():
            batches = consumer.poll(timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    if not self.book.apply(record.key, record.value):
                        log.info(
                            "preferences: skipped an unreadable record",
                            extra=fields(partition=tp.partition, offset=record.offset),
                        )
                    self._positions[tp.partition] = record.offset + 1
            if batches:
                metrics.OPTED_OUT.set(self.book.opted_out)
            if not self._caught_up.is_set() and all(
                consumer.position(tp) >= ends[tp] for tp in assigned
            ):
                self._caught_up.set()
                log.info("preferences: loaded", extra=fields(employees=len(self.book.notify)))
                if self._loop is not None and self._loaded is not None:
                    self._loop.call_soon_threadsafe(self._loaded.set)
