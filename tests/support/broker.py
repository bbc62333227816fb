"""Which Kafka the tests use: KAFKA_BOOTSTRAP_SERVERS if set; else a testcontainers
Kafka where a Docker engine answers; else the embedded broker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from services.common.broker import EmbeddedBroker


def docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


@contextmanager
def kafka_for_tests(log_dir: Path) -> Iterator[str]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
    elif docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
    else:
        with EmbeddedBroker(log_dir / "broker.log") as broker:
            yield broker.bootstrap


@contextmanager
def own_broker(log_dir: Path, partitions: int = 3) -> Iterator[str]:
    """An embedded broker of one test module's own, with Antenna's topics: for tests whose
    counts, or consumer groups, must not meet the session pipeline's."""
    from services.common.kafka import ensure_topics
    from tests.support.kafka import broker_settings

    with EmbeddedBroker(log_dir / "broker.log") as broker:
        ensure_topics(broker_settings(broker.bootstrap, topic_partitions=partitions))
        yield broker.bootstrap
