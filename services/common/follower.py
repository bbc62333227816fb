"""Reading whole topics without a consumer group: every process sees every partition
from the beginning (ingest's status view, the notifier's preferences).

``TopicFollower`` reads in a daemon thread with kafka-python and hands each record to
``apply``; a record that does not decode is skipped (``apply`` says False), never fatal.
A broker outage means waiting and reconnecting, and reading resumes where it stopped.
Partitions that appear later (a topic created after start) are picked up. Only topics,
partitions, offsets and error class names are logged, never a record's content."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from services.common.logging import fields

log = logging.getLogger(__name__)

# (topic, kafka-python ConsumerRecord) -> whether it was applied (False: skipped)
Apply = Callable[[str, Any], bool]


class TopicFollower:
    """Reads ``topic_names`` into ``apply`` until ``close()``.

    ``consumer_factory`` builds a kafka-python KafkaConsumer (tests may pass another);
    it is called again after an error. With ``report_caught_up``, ``caught_up`` is set
    once everything the topics held when they were first assigned has been read."""

    def __init__(
        self,
        bootstrap: list[str],
        topic_names: Iterable[str],
        apply: Apply,
        *,
        name: str,
        client_id: str,
        poll_timeout_s: float = 0.5,
        retry_delay_s: float = 1.0,
        max_retry_delay_s: float = 30.0,
        refresh_interval_s: float = 30.0,
        consumer_factory: Callable[[], Any] | None = None,
        report_caught_up: bool = False,
        pace_s: float = 0.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic_names = tuple(topic_names)
        self.apply = apply
        self.name = name
        self.client_id = client_id
        self.poll_timeout_s = poll_timeout_s
        self.retry_delay_s = retry_delay_s
        self.max_retry_delay_s = max_retry_delay_s
        self.refresh_interval_s = refresh_interval_s
        self._factory = consumer_factory or self._default_consumer
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._positions: dict[tuple[str, int], int] = {}  # next offset to read
        self.records_applied = 0
        self.records_skipped = 0
        self.caught_up = threading.Event()
        self._report_caught_up = report_caught_up
        # Under load, at most one poll per ``pace_s``: a poll that brought records is
        # followed by a pause for the rest of it, so records gather and one fetch round
        # brings many instead of a few (each round costs about the same CPU here and in
        # the broker, however few records it carries). What the follower shows lags by
        # at most ``pace_s`` more. A short fetch wait (the embedded broker's) is raised
        # to ``pace_s`` as well, which halves the idle rounds at 100 ms.
        self.pace_s = pace_s
        self._ends: dict[Any, int] | None = None  # end offsets when first assigned

    def _default_consumer(self) -> Any:
        from kafka import KafkaConsumer

        from services.common.settings import CommonSettings

        settings = CommonSettings()
        wait = settings.kafka_fetch_max_wait_ms  # short on the embedded broker
        if wait is not None and self.pace_s > 0:
            # A broker that waits out every fetch (the embedded one) need not be asked
            # more often than the pace: what is read shows no later than that anyway.
            wait = max(wait, int(self.pace_s * 1000))
        return KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=30_000,
            reconnect_backoff_max_ms=5_000,
            **({} if wait is None else {"fetch_max_wait_ms": wait}),
            **settings.kafka_client_options(),  # TLS/SASL, as every client
        )

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        delay = self.retry_delay_s
        while not self._stop.is_set():
            consumer = None
            try:
                consumer = self._factory()
                self._follow(consumer)
                delay = self.retry_delay_s
            except Exception as exc:  # the broker is down or gone: wait, then reconnect
                log.warning(
                    "%s: broker error, retrying in %.1fs (%s)",
                    self.name,
                    delay,
                    type(exc).__name__,
                )
                self._stop.wait(delay)
                delay = min(delay * 2, self.max_retry_delay_s)
            finally:
                if consumer is not None:
                    try:
                        consumer.close()
                    except Exception:  # closing a broken consumer must not stop us
                        log.debug("%s: consumer close failed", self.name, exc_info=True)

    def _assign(self, consumer: Any, assigned: set[Any]) -> set[Any]:
        """Assign every partition of the followed topics; new ones read from the start,
        known ones from where this follower left off."""
        from kafka import TopicPartition

        wanted: set[Any] = set()
        for topic in self.topic_names:
            for partition in consumer.partitions_for_topic(topic) or ():
                wanted.add(TopicPartition(topic, partition))
        if wanted == assigned:
            return assigned
        consumer.assign(sorted(wanted))
        fresh = []
        for tp in wanted:
            position = self._positions.get((tp.topic, tp.partition))
            if position is None:
                fresh.append(tp)
            else:
                consumer.seek(tp, position)
        if fresh:
            consumer.seek_to_beginning(*fresh)
        if self._report_caught_up and self._ends is None and wanted:
            self._ends = dict(consumer.end_offsets(sorted(wanted)))
        log.info("%s: following %d partition(s)", self.name, len(wanted))
        return wanted

    def _follow(self, consumer: Any) -> None:
        assigned: set[Any] = set()
        next_refresh = 0.0
        timeout_ms = int(self.poll_timeout_s * 1000)
        while not self._stop.is_set():
            now = time.monotonic()
            polled = now
            if now >= next_refresh or not assigned:
                assigned = self._assign(consumer, assigned)
                next_refresh = now + (self.refresh_interval_s if assigned else self.retry_delay_s)
                if not assigned:  # topics not created yet
                    self._stop.wait(self.retry_delay_s)
                    continue
            batches = consumer.poll(timeout_ms=timeout_ms)
            for tp, records in batches.items():
                for record in records:
                    if self.apply(tp.topic, record):
                        self.records_applied += 1
                    else:
                        self.records_skipped += 1
                        log.info(
                            "%s: skipped an undecodable record",
                            self.name,
                            extra=fields(
                                topic=tp.topic, partition=tp.partition, offset=record.offset
                            ),
                        )
                    self._positions[(tp.topic, tp.partition)] = record.offset + 1
            self._check_caught_up(consumer)
            if batches and self.pace_s > 0:
                self._stop.wait(max(0.0, polled + self.pace_s - time.monotonic()))

    def _check_caught_up(self, consumer: Any) -> None:
        if self._ends is None or self.caught_up.is_set():
            return
        # The consumer's position, not the last record's: compaction leaves gaps.
        if all(consumer.position(tp) >= end for tp, end in self._ends.items()):
            self.caught_up.set()
            log.info("%s: read what the topics held at start", self.name)


def merged(
    followers: Sequence[TopicFollower], *, name: str, client_id: str, **options: Any
) -> TopicFollower:
    """One follower reading the topics of all ``followers``, each record handed to every
    one of them that follows its topic (in their order); a record counts as applied when
    all of them applied it. Their own consumers are never started.

    Why: a kafka-python consumer spends about the same CPU on every fetch round whether
    or not anything arrived, and on the embedded broker a round ends every fetch wait, so
    each extra consumer is a steady cost in the process (and in the broker). Followers of
    the same process that share topics would also fetch and unpack those records twice."""
    if not followers:
        raise ValueError("nothing to follow")
    readers: dict[str, list[Apply]] = {}
    for follower in followers:
        for topic in follower.topic_names:
            readers.setdefault(topic, []).append(follower.apply)

    def apply(topic: str, record: Any) -> bool:
        # A list, not a generator: every reader sees the record even when one skips it.
        return all([read(topic, record) for read in readers[topic]])

    return TopicFollower(
        followers[0].bootstrap, tuple(readers), apply, name=name, client_id=client_id, **options
    )
