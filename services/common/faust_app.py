"""Faust configuration shared by the stream processors (processor, connectors)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from functools import partial
from typing import Any, cast

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, AppT, FutureMessage, TransportT
from faust.types.auth import CredentialsT
from kafka import KafkaConsumer, TopicPartition
from prometheus_client import Counter, Gauge

from services.common.dead_letters import dead_letter
from services.common.gc_tuning import tune_gc
from services.common.kafka import MIN_INSYNC_REPLICAS, ensure_topics, known_end, wait_for_broker
from services.common.logging import configure, fields
from services.common.metrics import WORKER_READY_METRIC, serve_metrics
from services.common.settings import CommonSettings, KafkaSecurityProtocol

log = logging.getLogger(__name__)
WORKER_READY = Gauge(
    WORKER_READY_METRIC,
    "1 while the worker owns its partitions with its tables restored; 0 while it starts, "
    "rebalances or restores",
    ["app"],
)
REBALANCES = Counter(
    "antenna_worker_rebalances",
    "Rebalances the worker went through to the end (tables restored, processing again)",
    ["app"],
)


class ReadinessSensor(faust.Sensor):
    """Exports whether the worker is processing: a worker stuck in a rebalance or in
    table recovery is alive but does nothing, and only this gauge shows it."""

    def on_rebalance_start(self, app: AppT) -> dict[str, Any]:
        WORKER_READY.labels(app.conf.id).set(0)
        return dict(super().on_rebalance_start(app))

    def on_rebalance_end(self, app: AppT, state: dict[str, Any]) -> None:
        WORKER_READY.labels(app.conf.id).set(1)
        REBALANCES.labels(app.conf.id).inc()


def broker_credentials(settings: CommonSettings) -> CredentialsT | None:
    """Faust's form of the Kafka security settings: its aiokafka producer, consumers and
    topic creation all use them (kafka-python clients use kafka_client_options)."""
    protocol = settings.kafka_security_protocol
    context = settings.kafka_ssl_context()
    if protocol is KafkaSecurityProtocol.SSL:
        return faust.SSLCredentials(context)
    if protocol in (KafkaSecurityProtocol.SASL_PLAINTEXT, KafkaSecurityProtocol.SASL_SSL):
        assert settings.kafka_sasl_password is not None and settings.kafka_sasl_mechanism
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password.get_secret_value(),
            mechanism=settings.kafka_sasl_mechanism.value,
            ssl_context=context,  # SASL_SSL with a context, SASL_PLAINTEXT without
        )
    return None


def true_end_offsets(
    consumer: KafkaConsumer, partitions: list[TopicPartition], timeout_s: float = 30.0
) -> dict[TopicPartition, int]:
    """Where each partition ends now. ``end_offsets`` alone is short on Tansu when a
    partition's last batch holds several records (services.common.kafka.known_end): fetch
    that last batch, whose answer carries the true high watermark. Leaves ``consumer``
    assigned to ``partitions``, at their ends."""
    listed = consumer.end_offsets(partitions)
    consumer.assign(partitions)
    for tp in partitions:
        consumer.seek(tp, max(listed[tp] - 1, 0))
    deadline = time.monotonic() + timeout_s
    while any(listed[tp] and consumer.highwater(tp) is None for tp in partitions):
        if time.monotonic() > deadline:
            raise TimeoutError("no fetch answered with a high watermark")
        consumer.poll(timeout_ms=200)
    return {tp: known_end(consumer, tp, listed[tp]) for tp in partitions}


def fetched_ends(
    bootstrap: list[str], client_options: Mapping[str, Any], partitions: Iterable[TP]
) -> dict[TP, int]:
    """The true ends of ``partitions``, read by a consumer of its own (true_end_offsets)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **client_options
    )
    try:
        wanted = [TopicPartition(tp.topic, tp.partition) for tp in partitions]
        ends = true_end_offsets(consumer, wanted)
        return {TP(tp.topic, tp.partition): end for tp, end in ends.items()}
    finally:
        consumer.close()


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        wait_ms = cast(AntennaApp, self.app).fetch_max_wait_ms
        if wait_ms is not None:
            # faust 0.15.3 passes a fixed fetch_max_wait_ms=1500 and has no setting for it;
            # aiokafka reads it when the consumer starts, which is after this.
            consumer._fetch_max_wait_ms = wait_ms
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
        """Where partitions end; a table's recovery reads its changelog up to here. On a
        broker that lists ends per batch, each changelog's true end, read by a fetch."""
        listed = dict(await super().highwaters(*partitions))
        ends = cast(AntennaApp, self.app).true_ends
        changelogs = self.app.tables.changelog_topics
        short = [tp for tp in partitions if tp.topic in changelogs and listed.get(tp)]
        if ends is None or not short:
            return listed
        return {**listed, **await asyncio.to_thread(ends, short)}


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class AntennaApp(faust.App):
    """A Faust app that knows the configuration its changelog topics need, and how to
    talk to the embedded broker (fetch wait, true ends of changelogs)."""

    changelog_topic_config: dict[str, Any]
    fetch_max_wait_ms: int | None = None
    # Reads the true ends of changelog partitions, where the broker lists them short.
    true_ends: Callable[[list[TP]], Mapping[TP, int]] | None = None

    async def maybe_start_producer(self) -> Any:
        """The producer, started. Faust's own is a stampede (mode.utils.futures): each
        call runs in a task of its own, so every record sent cost a task and a turn of
        the event loop, and the client sent each batch's records a few at a time. Once
        the producer runs, it is the answer at once."""
        producer = self.producer
        if not self.in_transaction and cast(Any, producer)._started.is_set():
            return producer
        return await super().maybe_start_producer()

    def _new_transport(self) -> TransportT:
        return cast(TransportT, _Transport(self.conf.broker_consumer, self))

    def _new_producer_transport(self) -> TransportT:
        return cast(TransportT, _Transport(self.conf.broker_producer, self))


def make_faust_app(app_id: str, settings: CommonSettings, **overrides: Any) -> faust.App:
    datadir = (settings.var_dir / "faust" / app_id).resolve()
    datadir.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = dict(
        broker=[f"kafka://{server}" for server in settings.bootstrap_list],
        store="memory://",  # tables are rebuilt from their changelog topics on start
        web_enabled=False,  # metrics are served by prometheus-client instead
        producer_acks=-1,
        # aiokafka's idempotent producer fails on Tansu: at-least-once + idempotent sinks.
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.kafka_session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.kafka_session_timeout_s / 5),
        producer_max_batch_size=settings.kafka_producer_max_batch_bytes,
        producer_max_request_size=settings.kafka_max_request_bytes,
        topic_partitions=settings.topic_partitions,
        # Faust creates the changelog, repartition and assignor topics with this.
        topic_replication_factor=settings.kafka_replication_factor,
        broker_credentials=broker_credentials(settings),
        datadir=str(datadir),
    )
    options.update(overrides)
    app = AntennaApp(app_id, **options)
    app.changelog_topic_config = {MIN_INSYNC_REPLICAS: str(settings.min_insync_replicas)}
    app.fetch_max_wait_ms = settings.kafka_fetch_max_wait_ms
    if settings.kafka_listed_ends_per_batch:
        app.true_ends = partial(
            fetched_ends, settings.bootstrap_list, settings.kafka_client_options()
        )
    WORKER_READY.labels(app_id).set(0)
    app.sensors.add(ReadinessSensor())
    return app


class AckedTable(faust.Table[str, Any]):
    """A changelog-backed table whose writes an agent can wait for.

    Faust hands changelog records to a buffer, and before it commits input offsets it
    flushes that buffer with a wait that gives up after 0.1 s (faust 0.15.3,
    ProducerBuffer.flush_atmost); a write the broker refuses is only logged. On a slow
    broker, or when the worker stops, the last writes can be lost while their input
    counts as processed. Agents that must not lose state call ``await table.written()``
    before they hand an event on.

    With ``coalesce`` a write is not sent when it is made: the table only notes the key,
    and ``written()`` sends each noted key once, with its value then (or its deletion),
    before it waits. An agent that writes a key many times between two waits (a batch)
    sends it once; reads see every write at once (the table holds it). Only for agents
    that call ``written()`` before they hand anything on or commit: a write is not even
    sent before that, and a worker killed before it loses the write together with the
    events that made it, which are read again. Not for windowed tables (no key expiry)."""

    def __init__(self, *args: Any, coalesce: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.coalesce = coalesce
        self._unacked: dict[FutureMessage, tuple[int | None, Any]] = {}
        self._failed: dict[Any, int | None] = {}  # key -> partition, to write again
        self._dirty: dict[Any, int | None] = {}  # coalesced: key -> partition, to write
        self._waiting: asyncio.Future[Any] | None = None  # the last call's wait

    def on_key_set(self, key: Any, value: Any) -> None:
        if not self.coalesce:
            super().on_key_set(key, value)
            return
        self._dirty[key] = self.partition_for_key(key)
        self._sensor_on_set(self, key, value)

    def on_key_del(self, key: Any) -> None:
        if not self.coalesce:
            super().on_key_del(key)
            return
        self._dirty[key] = self.partition_for_key(key)
        self._sensor_on_del(self, key)

    def _write_current(self, keys: dict[Any, int | None]) -> None:
        """Send the value each of ``keys`` now has in the table, or its deletion."""
        for key, partition in keys.items():
            if key in self.data:
                self.send_changelog(partition, key, self.data[key])
            else:
                self.send_changelog(partition, key, None, value_serializer="raw")

    def send_changelog(
        self, partition: int | None, key: Any, value: Any, *args: Any, **kwargs: Any
    ) -> FutureMessage:
        sent = super().send_changelog(partition, key, value, *args, **kwargs)
        self._unacked[sent] = (partition, key)
        return sent

    async def written(self) -> None:
        """Return once the broker has acknowledged every write made so far. If one this
        call waited for was refused, raise its error; the next call writes the current
        value of each key whose write failed (a later write of the key is not undone) and
        waits again."""
        failed, self._failed = self._failed, {}
        dirty, self._dirty = self._dirty, {}
        self._write_current({**failed, **dirty})
        pending, self._unacked = self._unacked, {}
        # An earlier call, still waiting, took writes made before this one: wait for them
        # too (their errors are that call's to raise), so that callers overlapping each
        # other still hand on nothing before everything written so far is acknowledged.
        earlier = self._waiting
        waiting = asyncio.gather(*pending, return_exceptions=True) if pending else None
        if waiting is not None:
            self._waiting = waiting
        if earlier is not None and not earlier.done():
            await asyncio.wait([earlier])
        if waiting is None:
            return
        results = await waiting
        errors = []
        for (partition, key), result in zip(pending.values(), results, strict=True):
            if isinstance(result, BaseException):
                self._failed[key] = partition
                errors.append(result)
        if errors:
            raise errors[0]


def acked_table(app: faust.App, name: str, partitions: int, coalesce: bool = False) -> AckedTable:
    """``coalesce``: see AckedTable (each key written once per ``written()``)."""
    table = AckedTable(
        app,
        coalesce=coalesce,
        name=name,
        default=None,
        partitions=partitions,
        beacon=app.tables.beacon,
        # A table's state lives only in its changelog: as durable as Antenna's own topics.
        extra_topic_configs=getattr(app, "changelog_topic_config", None),
    )
    return cast(AckedTable, app.tables.add(table))


# How soon a waiting agent notices a rebalance or a shutdown (well within the session).
RELEASE_CHECK_S = 0.5


def released(app: faust.App, taken_in: int) -> bool:
    """A rebalance or a shutdown has started since the event was taken (``taken_in``:
    ``app.rebalancing_count`` then): whatever it waits for, it is let go."""
    return bool(app.rebalancing_count != taken_in or app.should_stop)


def pause_until_rebalance(
    app: faust.App, taken_in: int
) -> Callable[[float], Coroutine[Any, Any, bool]]:
    """A wait inside an event, for a destination or a channel that is down: True after
    ``seconds``; False as soon as a rebalance or a shutdown starts after the event was
    taken (``taken_in``: ``app.rebalancing_count`` then), so that neither waits for the
    agent. Only then: every rebalance ends with a seek to the committed offsets, so an
    event let go (``let_go``) is read again by its partition's next owner (a rebalance
    already under way when the event was taken has done its seek). The connectors'
    inputs keep their own offsets instead (services/common/offsets.py): they take
    nothing during a rebalance and read each partition again from its place after it."""

    async def pause(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not released(app, taken_in):
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            await asyncio.sleep(min(left, RELEASE_CHECK_S))
        return False

    return pause


def let_go(event: Any) -> None:
    """Stop holding ``event`` (of a ``noack()`` stream) without acking it. A rebalance or
    a shutdown first waits until every event a stream took is acked (faust 0.15.3
    Consumer.wait_empty, which drops messages flagged ``acked``). Flagging the message,
    instead of acking it through the stream, keeps its offset out of the commit: the
    partition's next owner (this worker again, after the seek to the committed offset)
    starts from it. Limits (faust 0.15.3): records Faust drops around a rebalance, and
    partitions with nothing committed, are not read again; the connectors' inputs do not
    rely on this (services/common/offsets.py)."""
    event.message.acked = True


async def park_on_dlq(dlq: faust.TopicT, stage: str, event: Any, error: str) -> None:
    """Set ``event`` (one a stream took) aside on signals.dlq as a DeadLetter of
    ``stage``, with where it came from, and wait for the broker's acknowledgement."""
    msg = event.message
    letter = dead_letter(stage, error, msg.topic, msg.partition, msg.offset, event.key, event.value)
    await (await dlq.send(key=event.key, value=letter.model_dump_json().encode()))
    log.warning("parked on dlq", extra=fields(topic=msg.topic, offset=msg.offset))


def raw_topic(app: faust.App, *names: str, **kwargs: Any) -> faust.TopicT:
    """A topic (or several, read as one stream) of plain bytes: decoding is ours, so a
    poison message reaches the DLQ instead of crashing the agent inside Faust's
    deserializer."""
    return app.topic(
        *names,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        **kwargs,
    )


def run_worker(
    app: faust.App, settings: CommonSettings, metrics_host: str, metrics_port: int
) -> None:
    """Prestart (wait for the broker, create the topics), serve metrics, run the worker
    until SIGTERM/SIGINT. Faust's worker stops its agents cleanly on either signal."""
    wait_for_broker(
        settings.bootstrap_list, timeout_s=60, client_options=settings.kafka_client_options()
    )
    ensure_topics(settings)
    serve_metrics(metrics_host, metrics_port)
    configure(app.conf.id, settings.log_level)
    tune_gc()  # the app is built (models trained, tables declared): see gc_tuning
    faust.Worker(
        app, loglevel=settings.log_level, quiet=True, override_logging=False
    ).execute_from_commandline()
