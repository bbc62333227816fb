"""Topics are created with the configuration their contract needs."""

from __future__ import annotations

from schemas import topics
from services.common.kafka import topic_config
from services.common.settings import CommonSettings


def test_preferences_are_compacted_and_the_signal_topics_are_not() -> None:
    settings = CommonSettings()
    assert topic_config(settings, topics.PREFERENCES)["cleanup.policy"] == "compact"
    for name in (topics.OUTCOMES, topics.DELIVERED, topics.RAW):
        assert "cleanup.policy" not in topic_config(settings, name)
