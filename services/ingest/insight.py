"""What ingest knows of the programme for /insight and /report/preferences.

``InsightBook`` holds the latest summary the insight app published on insight.summary;
``credited`` (pure) puts the names of the employees who opted in on the reports that
mattered, at the moment the page is shown, so that withdrawing consent takes effect at
once. ``follow_programme`` reads insight.summary and employees.preferences into the
books with one TopicFollower (services/common/follower.py): no consumer group, every
replica reads both topics whole (one summary, one small record per employee)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

from schemas import InsightSnapshot, topics
from schemas.insight import INSIGHT_KEY, MatteredReport
from services.common.follower import TopicFollower
from services.common.preferences import PreferenceBook

MAX_NAMES: Final = 10  # named on one report that mattered, at most


class InsightBook:
    """The latest summary, by the time it was made (a replayed older one never wins)."""

    def __init__(self) -> None:
        self._latest: InsightSnapshot | None = None
        self._lock = threading.Lock()

    @property
    def latest(self) -> InsightSnapshot | None:
        return self._latest

    def apply(self, key: bytes | None, value: bytes | None) -> bool:
        if key != INSIGHT_KEY.encode() or value is None:
            return False
        try:
            snapshot = InsightSnapshot.model_validate_json(value)
        except ValidationError:
            return False
        with self._lock:
            if self._latest is None or snapshot.generated_at >= self._latest.generated_at:
                self._latest = snapshot
        return True


@dataclass(frozen=True)
class Credited:
    report: MatteredReport
    names: tuple[str, ...]  # of the reporters who opted in to be named

    @property
    def others(self) -> int:
        """Reports of the case whose reporters are not named."""
        return max(0, self.report.reporters - len(self.names))


def credited(snapshot: InsightSnapshot, credits: Mapping[str, str]) -> list[Credited]:
    """The reports that mattered, each with the names of its reporters who opted in
    (``credits``: reporter ref -> name, from PreferenceBook.credits). No one else is
    named."""
    named = []
    for report in snapshot.mattered:
        names = dict.fromkeys(credits[ref] for ref in report.reporter_refs if ref in credits)
        named.append(Credited(report, tuple(names)[:MAX_NAMES]))
    return named


def as_json(snapshot: InsightSnapshot, credits: Mapping[str, str]) -> dict[str, Any]:
    """The summary for /v1/insight: reporter refs replaced by the names of those who
    opted in."""
    body = snapshot.model_dump(mode="json")
    body["mattered"] = [
        {
            **{
                k: v
                for k, v in entry.report.model_dump(mode="json").items()
                if k != "reporter_refs"
            },
            "credited": list(entry.names),
        }
        for entry in credited(snapshot, credits)
    ]
    return body


def follow_programme(
    insight: InsightBook, preferences: PreferenceBook, bootstrap: list[str], **options: Any
) -> TopicFollower:
    def apply(topic: str, record: Any) -> bool:
        if topic == topics.INSIGHT:
            return insight.apply(record.key, record.value)
        return preferences.apply(record.key, record.value)

    return TopicFollower(
        bootstrap,
        (topics.INSIGHT, topics.PREFERENCES),
        apply,
        name="programme-follower",
        client_id="antenna-ingest-programme",
        **options,
    )
