"""Topics are created with the configuration their contract needs."""

from __future__ import annotations

from typing import Any

import pytest
from kafka.admin import NewTopic

from schemas import topics
from services.common import kafka


class _Admin:
    def __init__(self) -> None:
        self.created: list[NewTopic] = []

    def list_topics(self) -> list[str]:
        return [topics.RAW]

    def create_topics(self, specs: list[NewTopic]) -> None:
        self.created.extend(specs)

    def close(self) -> None:
        pass


def test_preferences_are_compacted_and_the_signal_topics_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = _Admin()
    monkeypatch.setattr(kafka, "_admin", lambda *args: admin)
    created = kafka.ensure_topics(["127.0.0.1:9"], partitions=3)
    assert topics.RAW not in created  # it existed
    configs: dict[str, Any] = {spec.name: spec.topic_configs for spec in admin.created}
    assert configs[topics.PREFERENCES] == {"cleanup.policy": "compact"}
    assert configs[topics.OUTCOMES] == {}
    assert configs[topics.DELIVERED] == {}
