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

What the memory holds, and why it stays bounded. Every value is small and of a fixed
maximum size, whatever the traffic (a changelog record is rewritten whole on every
change, and a broker refuses records past its limit):

- ``signal:<id>``: one key per report: what dedupe remembers of it and its decision.
- ``resubmission:<source>|<key>``: one key per report: its Idempotency-Key.
- ``index:<text|phone|email|name key>``: the ids of the most recent ``index_cap``
  reports that share that key. The oldest fall out of the index, so a customer reported
  very often is matched against their most recent reports only.
- ``cluster:<id>``: one key per case: how many colleagues reported it (the most recent
  ``reporters_kept`` of them are named, to tell a new colleague from one reporting
  again) and where its first report was routed.
- ``expiry``, ``expiry:<n>``: the reports in arrival order. Every decision forgets a few
  reports that left the window (``expire_per_report``), so forgetting costs the same
  small amount on every signal, and the memory holds the window's reports: about six
  keys per report, plus at most the backlog left when traffic stopped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import MutableMapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property
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
EXPIRY = "expiry"


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
    # Reports remembered per phone, e-mail, name or text: the most recent ones.
    index_cap: int = 20
    # Colleagues named per case: reporters_count is exact up to this many colleagues.
    reporters_kept: int = 32
    # Reports forgotten per decision at most: more than one, so that a backlog shrinks.
    expire_per_report: int = 4


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
        name = self.identity.name
        # Written out, not dataclasses.asdict (a deep copy): this runs for every signal.
        return {
            "signal_id": self.signal_id,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "confidence": self.confidence,
            "category": self.category,
            "identity": {
                "phone": self.identity.phone,
                "email": self.identity.email,
                "name": {"surname": name.surname, "first": name.first} if name else None,
            },
            "text_key": self.text_key,
            "reporter": self.reporter,
            "topic": dict(self.topic),
            "cluster_id": self.cluster_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        return cls(
            **{
                **data,
                "at": datetime.fromisoformat(data["at"]),
                "identity": identity_from_json(data["identity"]),
            }
        )

    @cached_property
    def keys(self) -> list[str]:
        """The index keys it is remembered under."""
        return [f"text:{self.text_key}", *index_keys(self.identity)]


def identity_from_json(data: dict[str, Any]) -> Identity:
    name = PersonName(**data["name"]) if data.get("name") else None
    return Identity(data.get("phone"), data.get("email"), name)


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


def same_matter(
    new: Report, kind: str, confidence: float, topic: dict[str, float], policy: DedupePolicy
) -> bool:
    """The same problem or interest, whoever it is about."""
    if new.kind == kind:
        kinds_agree = new.kind != Kind.other.value
    else:
        kinds_agree = min(new.confidence, confidence) < policy.kind_mismatch_below
    return kinds_agree and topic_overlap(new.topic, topic) >= policy.min_topic_overlap


def same_case(new: Report, old: Report, policy: DedupePolicy) -> bool:
    return same_matter(new, old.kind, old.confidence, old.topic, policy) and same_person(
        new.identity, old.identity
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
        returns the same decision and changes nothing.

        Everything is worked out before the first write; the ``signal:`` key is written
        last, and every write before it can be made again. So a worker that stopped after
        only some of them reached the changelog decides the same when the signal comes
        again, and what it had written is forgotten with the window all the same."""
        earlier = self.memory.get(f"signal:{signal.signal_id}")
        if earlier is not None:
            if earlier.get("fingerprint") != signal.body_fingerprint:
                # One signal_id (derived from an Idempotency-Key) with another body: the
                # key was reused on another ingest replica. The first report stands.
                return replace(Decision(**earlier["decision"]), resubmission=True)
            return Decision(**earlier["decision"])
        resub_key = f"resubmission:{resubmission_key(signal)}"
        first = self.memory.get(resub_key)
        if (
            first is not None
            and first["signal_id"] != signal.signal_id  # not its own, half-remembered
            and now - datetime.fromisoformat(first["at"]) <= self.policy.window
        ):
            return Decision(
                first["signal_id"], first["signal_id"], 0, "re-submission", resubmission=True
            )
        report = report_of(signal, classification, topic)
        match, reason = self._match(report)
        report = replace(report, cluster_id=match.cluster_id if match else report.signal_id)

        self._enqueue(report, resub_key, now)
        self.memory[resub_key] = {"signal_id": signal.signal_id, "at": now.isoformat()}
        cluster = self._join_cluster(report.cluster_id, report.reporter, now)
        decision = Decision(
            duplicate_of=report.cluster_id if match else None,
            cluster_id=report.cluster_id,
            reporters_count=cluster["reporters_count"],
            reason=reason,
            destination=cluster.get("destination"),
            target=cluster.get("target"),
        )
        self._index(report)
        self.memory[f"signal:{signal.signal_id}"] = {
            "fingerprint": signal.body_fingerprint,
            "decision": dict(vars(decision)),
            "report": report.to_json(),
            "at": now.isoformat(),
        }
        self.expire(now, limit=self.policy.expire_per_report)
        return decision

    def _match(self, new: Report) -> tuple[Report | None, str]:
        """The earliest report of the window that is the same case, if any. Candidates
        are read as stored and only the one chosen is parsed: a customer reported often
        has up to ``index_cap`` candidates per key, and most differ in the matter."""
        best: dict[str, Any] | None = None
        best_at, reason = new.at, "new case"
        for old in self._candidates(new):
            at = datetime.fromisoformat(old["at"])
            if old["text_key"] == new.text_key and new.at - at <= self.policy.resend_window:
                why = "same text re-sent"
            elif same_matter(
                new, old["kind"], old["confidence"], old["topic"], self.policy
            ) and same_person(new.identity, identity_from_json(old["identity"])):
                why = "same customer, same matter"
            else:
                continue
            if best is None or at < best_at:
                best, best_at, reason = old, at, why
        return (Report.from_json(best) if best else None), reason

    def _candidates(self, new: Report) -> list[dict[str, Any]]:
        """The stored reports of the window that share a key with ``new``."""
        seen: dict[str, dict[str, Any]] = {}
        for key in new.keys:
            for signal_id, at in self._entries(key):
                if signal_id in seen or signal_id == new.signal_id:
                    continue
                if new.at - datetime.fromisoformat(at) > self.policy.window:
                    continue
                stored = self.memory.get(f"signal:{signal_id}")
                if stored is not None:  # None: forgotten, or its decision never completed
                    seen[signal_id] = stored["report"]
        return list(seen.values())

    def _entries(self, key: str) -> list[list[str]]:
        """[signal_id, at] of the reports indexed under ``key``, oldest first."""
        value = self.memory.get(f"index:{key}")
        return list(value["entries"]) if value else []

    def _index(self, report: Report) -> None:
        entry = [report.signal_id, report.at.isoformat()]
        for key in report.keys:
            entries = [e for e in self._entries(key) if e[0] != report.signal_id]
            entries = [*entries, entry][-self.policy.index_cap :]
            self.memory[f"index:{key}"] = {"entries": entries}

    def _join_cluster(self, cluster_id: str, reporter: str, now: datetime) -> dict[str, Any]:
        key = f"cluster:{cluster_id}"
        cluster = dict(self.memory.get(key) or {"reporters": [], "reporters_count": 0})
        known = cluster["reporters"]
        if reporter not in known:
            cluster["reporters_count"] += 1
        # The most recent colleagues stay named: one who reports again is not counted again.
        cluster["reporters"] = [*(r for r in known if r != reporter), reporter][
            -self.policy.reporters_kept :
        ]
        cluster["at"] = now.isoformat()
        self.memory[key] = cluster
        return cluster

    def remember_route(self, decision: Decision, destination: str, target: str | None) -> Decision:
        """Record where a new case went, so that its duplicates follow it."""
        key = f"cluster:{decision.cluster_id}"
        self.memory[key] = {**self.memory[key], "destination": destination, "target": target}
        return replace(decision, destination=destination, target=target)

    def _enqueue(self, report: Report, resub_key: str, now: datetime) -> None:
        """Queue the report for forgetting, with every key it is about to write."""
        queue = self.memory.get(EXPIRY) or {"head": 0, "tail": 0}
        last = self.memory.get(f"{EXPIRY}:{queue['tail'] - 1}")
        if last is not None and last["signal_id"] == report.signal_id:
            return  # queued before the worker stopped
        self.memory[f"{EXPIRY}:{queue['tail']}"] = {
            "signal_id": report.signal_id,
            "at": now.isoformat(),
            "resubmission": resub_key,
            "cluster": report.cluster_id,
            "keys": report.keys,
        }
        self.memory[EXPIRY] = {**queue, "tail": queue["tail"] + 1}

    def expire(self, now: datetime, limit: int | None = None) -> int:
        """Forget the oldest reports that left the window, at most ``limit`` of them
        (all when None), and what only they kept alive; return how many were forgotten.
        Each costs a few lookups and deletes, however large the memory."""
        queue = self.memory.get(EXPIRY)
        if queue is None:
            return 0
        horizon = now - self.policy.window
        head, forgotten = queue["head"], 0
        while head < queue["tail"] and (limit is None or forgotten < limit):
            entry = self.memory.get(f"{EXPIRY}:{head}")
            if entry is not None:
                if datetime.fromisoformat(entry["at"]) >= horizon:
                    break
                self._forget(entry, horizon)
                del self.memory[f"{EXPIRY}:{head}"]
                forgotten += 1
            head += 1
        if head == queue["head"]:
            return 0
        if head == queue["tail"]:
            del self.memory[EXPIRY]
        else:
            self.memory[EXPIRY] = {**queue, "head": head}
        return forgotten

    def _forget(self, entry: dict[str, Any], horizon: datetime) -> None:
        signal_id = entry["signal_id"]
        self.memory.pop(f"signal:{signal_id}", None)
        resub = self.memory.get(entry["resubmission"])
        if resub is not None and resub["signal_id"] == signal_id:
            del self.memory[entry["resubmission"]]
        for key in entry["keys"]:
            # An index key lives while its newest report does; older entries are
            # skipped when read and pushed out by newer ones.
            entries = self._entries(key)
            if entries and (
                entries[-1][0] == signal_id or datetime.fromisoformat(entries[-1][1]) < horizon
            ):
                del self.memory[f"index:{key}"]
        # A case lives while its latest report does: each report moves its time on.
        cluster = self.memory.get(f"cluster:{entry['cluster']}")
        if cluster is not None and datetime.fromisoformat(cluster["at"]) < horizon:
            del self.memory[f"cluster:{entry['cluster']}"]
