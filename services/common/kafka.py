"""Kafka helpers shared by the services and the CLI (kafka-python, blocking calls)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from schemas import topics

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    """The broker did not answer in time."""


def _admin(bootstrap: list[str], timeout_s: float) -> KafkaAdminClient:
    ms = max(int(timeout_s * 1000), 500)
    return KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="antenna-admin",
        request_timeout_ms=ms,
        bootstrap_timeout_ms=ms,
    )


def broker_reachable(bootstrap: list[str], timeout_s: float = 2.0) -> bool:
    """True when a broker answers the Kafka protocol (not just an open TCP port)."""
    try:
        _admin(bootstrap, timeout_s).close()
    except (KafkaError, OSError, ValueError):
        return False
    return True


def wait_for_broker(bootstrap: list[str], timeout_s: float = 30.0) -> None:
    """Prestart step: block until the broker answers, or raise BrokerUnavailable."""
    deadline = time.monotonic() + timeout_s
    while not broker_reachable(bootstrap, timeout_s=2.0):
        if time.monotonic() > deadline:
            raise BrokerUnavailable(f"no Kafka broker answered at {','.join(bootstrap)}")
        time.sleep(0.5)


def ensure_topics(
    bootstrap: list[str], partitions: int, names: Iterable[str] = topics.ALL
) -> list[str]:
    """Create the topics that do not exist yet; return the ones created."""
    admin = _admin(bootstrap, 10.0)
    try:
        existing = set(admin.list_topics())
        wanted = [n for n in names if n not in existing]
        created = []
        for name in wanted:
            try:
                admin.create_topics([NewTopic(name, partitions, 1, topic_configs=_config(name))])
                created.append(name)
            except TopicAlreadyExistsError:  # another service won the race
                pass
        return created
    finally:
        admin.close()


def _config(name: str) -> dict[str, str]:
    return {"cleanup.policy": "compact"} if name in topics.COMPACTED else {}


def describe_topics(bootstrap: list[str]) -> dict[str, int]:
    """Topic name -> partition count, for `antenna topics`."""
    admin = _admin(bootstrap, 10.0)
    try:
        described = admin.describe_topics()
        return {t["name"]: len(t["partitions"]) for t in described}
    finally:
        admin.close()
