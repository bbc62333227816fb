"""Recognise the same case reported twice. Pure: the state lives in a mapping that the
caller provides (a dict offline and in tests, a changelog-backed Faust table in the
processor), and the clock is passed in.

- Re-submission: the same Idempotency-Key from the same source -> dropped silently.
- Exact duplicate: the same text re-sent within minutes -> duplicate of the first.
- Near duplicate: the same customer (phone, e-mail or a compatible name) with the same
  kind and category of problem or interest, within the window -> duplicate of the
  first report of that case, whoever reported it, in whatever words or language.
Different problems of one customer, or one common problem of different customers, are
different cases.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from schemas import Classification, Kind, Signal
from services.processor.domain.identity import (
    Identity,
    PersonName,
    identity_of,
    index_keys,
    same_person,
)

Memory = MutableMapping[str, Any]  # values must be JSON-serialisable


@dataclass(frozen=True)
class DedupePolicy:
    window: timedelta = timedelta(days=14)
    resend_window: timedelta = timedelta(minutes=10)
    # Two reports are about the same matter when their topic profiles (distributions over
    # the categories) overlap at least this much: robust to one report landing in a
    # neighbouring category, in other words or in the other language.
    min_topic_overlap: float = 0.5
    # Reports whose kinds differ can still be one case when the classifier was unsure of
    # one of them (a short follow-up, a question about the same problem).
    kind_mismatch_below: float = 0.7


@dataclass(frozen=True)
class Report:
    """What dedupe remembers of one signal."""

    signal_id: str
    at: datetime
    kind: str
    confidence: float
    category: str
    identity: Identity
    text_key: str
    reporter: str
    topic: dict[str, float]
    cluster_id: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        ident = data["identity"]
        name = PersonName(**ident["name"]) if ident.get("name") else None
        return cls(
            **{
                **data,
                "at": datetime.fromisoformat(data["at"]),
                "identity": Identity(ident.get("phone"), ident.get("email"), name),
            }
        )


@dataclass(frozen=True)
class Decision:
    duplicate_of: str | None
    cluster_id: str
    reporters_count: int
    reason: str
    resubmission: bool = False
    # Where the case's first report was routed: its duplicates go to the same place.
    destination: str | None = None
    target: str | None = None


def text_key(text: str) -> str:
    words = re.findall(r"\w+", text.lower())
    return hashlib.sha256(" ".join(words).encode()).hexdigest()[:32]


def report_of(
    signal: Signal, classification: Classification, topic: dict[str, float] | None = None
) -> Report:
    reporter = signal.reporter.employee_id or signal.reporter.email or f"anon:{signal.signal_id}"
    category = classification.category.value
    return Report(
        signal_id=signal.signal_id,
        at=signal.received_at,
        kind=classification.kind.value,
        confidence=classification.confidence,
        category=category,
        identity=identity_of(signal.customer),
        text_key=text_key(signal.text),
        reporter=str(reporter).lower(),
        # Without a profile, the category alone: all its weight on one point.
        topic={k: round(v, 3) for k, v in (topic or {category: 1.0}).items() if v >= 0.001},
    )


def resubmission_key(signal: Signal) -> str:
    # Keys are scoped by source: two clients may pick the same Idempotency-Key.
    return f"{signal.source}|{signal.idempotency_key}"


def topic_overlap(a: dict[str, float], b: dict[str, float]) -> float:
    """Histogram intersection of two topic profiles: 1 for the same, 0 for disjoint."""
    return sum(min(weight, b.get(topic, 0.0)) for topic, weight in a.items())


def same_case(new: Report, old: Report, policy: DedupePolicy) -> bool:
    if new.kind == old.kind:
        kinds_agree = new.kind != Kind.other.value
    else:
        kinds_agree = min(new.confidence, old.confidence) < policy.kind_mismatch_below
    return (
        kinds_agree
        and same_person(new.identity, old.identity)
        and topic_overlap(new.topic, old.topic) >= policy.min_topic_overlap
    )


class Deduper:
    def __init__(self, memory: Memory, policy: DedupePolicy | None = None) -> None:
        self.memory = memory
        self.policy = policy or DedupePolicy()

    def decide(
        self,
        signal: Signal,
        classification: Classification,
        now: datetime,
        topic: dict[str, float] | None = None,
    ) -> Decision:
        """Decide and remember. Calling it again for the same signal_id (a redelivery)
        returns the same decision and changes nothing."""
        earlier = self.memory.get(f"signal:{signal.signal_id}")
        if earlier is not None:
            if earlier.get("fingerprint") != signal.body_fingerprint:
                # One signal_id (derived from an Idempotency-Key) with another body: the
                # key was reused on another ingest replica. The first report stands.
                return replace(Decision(**earlier["decision"]), resubmission=True)
            return Decision(**earlier["decision"])
        resub_key = f"resubmission:{resubmission_key(signal)}"
        first = self.memory.get(resub_key)
        if first is not None and now - datetime.fromisoformat(first["at"]) <= self.policy.window:
            return Decision(
                first["signal_id"], first["signal_id"], 0, "re-submission", resubmission=True
            )
        self.memory[resub_key] = {"signal_id": signal.signal_id, "at": now.isoformat()}

        report = report_of(signal, classification, topic)
        match, reason = self._match(report)
        cluster_id = match.cluster_id if match else report.signal_id
        report = replace(report, cluster_id=cluster_id)
        cluster = self._join_cluster(cluster_id, report.reporter, now)
        decision = Decision(
            duplicate_of=cluster_id if match else None,
            cluster_id=cluster_id,
            reporters_count=len(cluster["reporters"]),
            reason=reason,
            destination=cluster.get("destination"),
            target=cluster.get("target"),
        )
        self._remember(report, now)
        self.memory[f"signal:{signal.signal_id}"] = {
            "fingerprint": signal.body_fingerprint,
            "decision": asdict(decision),
            "at": now.isoformat(),
        }
        return decision

    def _match(self, new: Report) -> tuple[Report | None, str]:
        best: Report | None = None
        reason = "new case"
        for candidate in self._candidates(new):
            if (
                candidate.text_key == new.text_key
                and new.at - candidate.at <= self.policy.resend_window
            ):
                why = "same text re-sent"
            elif same_case(new, candidate, self.policy):
                why = "same customer, same matter"
            else:
                continue
            if best is None or candidate.at < best.at:
                best, reason = candidate, why
        return best, reason

    def _candidates(self, new: Report) -> list[Report]:
        seen: dict[str, Report] = {}
        for key in [f"text:{new.text_key}", *index_keys(new.identity)]:
            for data in self.memory.get(key) or []:
                report = Report.from_json(data)
                if new.at - report.at <= self.policy.window and report.signal_id != new.signal_id:
                    seen[report.signal_id] = report
        return list(seen.values())

    def _join_cluster(self, cluster_id: str, reporter: str, now: datetime) -> dict[str, Any]:
        key = f"cluster:{cluster_id}"
        cluster = dict(self.memory.get(key) or {"reporters": []})
        if reporter not in cluster["reporters"]:
            cluster["reporters"] = [*cluster["reporters"], reporter]
        cluster["at"] = now.isoformat()
        self.memory[key] = cluster
        return cluster

    def remember_route(self, decision: Decision, destination: str, target: str | None) -> Decision:
        """Record where a new case went, so that its duplicates follow it."""
        key = f"cluster:{decision.cluster_id}"
        self.memory[key] = {**self.memory[key], "destination": destination, "target": target}
        return replace(decision, destination=destination, target=target)

    def _remember(self, report: Report, now: datetime) -> None:
        horizon = now - self.policy.window
        for key in [f"text:{report.text_key}", *index_keys(report.identity)]:
            kept = [
                r for r in self.memory.get(key) or [] if datetime.fromisoformat(r["at"]) >= horizon
            ]
            self.memory[key] = [*kept, report.to_json()]

    def expire(self, now: datetime) -> int:
        """Forget everything older than the window; return how many keys were dropped."""
        horizon = now - self.policy.window
        dropped = 0
        for key in list(self.memory.keys()):
            value = self.memory[key]
            if isinstance(value, list):
                stale = all(datetime.fromisoformat(r["at"]) < horizon for r in value)
            else:
                stale = datetime.fromisoformat(value["at"]) < horizon
            if stale:
                del self.memory[key]
                dropped += 1
        return dropped
