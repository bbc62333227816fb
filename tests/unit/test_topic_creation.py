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


def test_the_insight_summary_is_compacted_in_hourly_segments() -> None:
    """A snapshot every half minute: compaction must be able to drop the old ones, and it
    never touches the active segment (Kafka's default rolls it after a week)."""
    config = topic_config(CommonSettings(), topics.INSIGHT)
    assert config["cleanup.policy"] == "compact"
    assert config["segment.ms"] == "3600000"
    assert "segment.ms" not in topic_config(CommonSettings(), topics.PREFERENCES)
