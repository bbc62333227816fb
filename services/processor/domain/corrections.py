"""What an operator's correction does to dedupe, and what it teaches it. Pure: the state is
the Deduper's memory (a dict offline and in tests, the changelog-backed table in the
processor), the time is the decision's own, so a correction read twice changes nothing
the second time and gives back the same routed event.

A ``CaseCorrection`` (signals.case-corrections) is one verdict on a pair of reports:

- **not the same case**: the report leaves the case it had joined. If it had joined one,
  it is routed as a case of its own by the routing rules (a RoutedSignal for
  signals.routed.* or signals.triage, keyed by its signal_id, ``routed_at`` the time of
  the decision), and dedupe remembers it as the first report of that case: a later
  report like it joins it, not the old case. A later report like *both* still joins the
  older case: dedupe picks the earliest match, and only the matcher itself (taught by
  the exported pairs) can tell them apart.
- **same case**: the report's later colleagues join the other's case: a later report
  that dedupe finds like it becomes a duplicate of the other's case. Nothing is routed
  now (the report keeps its own ticket or lead; the desk merges records by hand).

A ``Label`` (signals.labels) with a destination sends a triage case's later reports
where the operator sent the case: they become notes on its ticket or lead instead of
waiting in triage with it.

What is written stays small and bounded: the report's own ``signal:`` entry is rewritten
in place; a case made by "not the same case" gets a ``cluster:`` entry like any case,
and this module keeps the ``CASE_CAP`` most recent of those in a list, forgetting each
once the dedupe window has passed (the Deduper forgets cases only through the reports it
queued for them).

Every verdict is also a labelled pair (``Effect.pair``); ``dedupe_rows`` writes pairs as
rows of the labelled dedupe set (services/processor/dedupe_data/labelled_dedupe.jsonl)
for the dedupe evaluation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas import CaseCorrection, Dedupe, Destination, Label, RoutedSignal, Verdict
from services.processor.domain.dedupe import DedupePolicy, Memory
from services.processor.domain.route import RuleSet, route

# The cases "not the same case" made, and when: forgotten after the dedupe window.
CORRECTED_CASES = "corrections:cases"
CASE_CAP = 1000
NOT_SAME_REASON = "an operator said: not the same case"


@dataclass(frozen=True)
class LabelledPair:
    """Two reports and whether they are one case, as an operator said."""

    signal_id: str
    other_signal_id: str
    same_case: bool


@dataclass(frozen=True)
class Effect:
    """What a correction or label does: ``what`` names it for metrics and logs (split,
    joined, routed_case, recorded); ``routed`` goes to ``topic`` keyed by its signal_id."""

    what: str
    pair: LabelledPair | None = None
    topic: str | None = None
    routed: RoutedSignal | None = None


def pair_of(correction: CaseCorrection) -> LabelledPair:
    return LabelledPair(
        correction.signal_id,
        correction.other_signal_id,
        correction.verdict is Verdict.same_case,
    )


def apply_decision(
    decision: CaseCorrection | Label, memory: Memory, rules: RuleSet, policy: DedupePolicy
) -> Effect:
    """The effect of one operator decision on dedupe's ``memory``: the memory is changed
    in place, the routed event (if any) is returned for the caller to publish."""
    if isinstance(decision, Label):
        return _follow_label(decision, memory)
    if decision.verdict is Verdict.not_same_case:
        return _split(decision, memory, rules, policy)
    return _join(decision, memory, policy)


def _case_of(memory: Memory, signal_id: str) -> str | None:
    stored = memory.get(f"signal:{signal_id}")
    return str(stored["report"]["cluster_id"]) if stored else None


def _split(
    correction: CaseCorrection, memory: Memory, rules: RuleSet, policy: DedupePolicy
) -> Effect:
    report = correction.report
    signal_id = correction.signal_id
    pair = pair_of(correction)
    at = correction.decided_at
    if report.dedupe.duplicate_of is not None:
        chosen = route(rules, report.classification, report.signal)
        destination = Destination(name=chosen.destination, target=chosen.target)
        routed: RoutedSignal | None = RoutedSignal(
            signal=report.signal,
            classification=report.classification,
            dedupe=Dedupe(cluster_id=signal_id, reporters_count=1),
            destination=destination,
            rule_id=chosen.rule_id,
            routed_at=at,
        )
        topic: str | None = chosen.topic
    else:  # it is a case of its own already: nothing to route
        routed, topic, destination = None, None, report.destination
    stored = memory.get(f"signal:{signal_id}")
    if stored is not None and stored["report"]["cluster_id"] != signal_id:
        memory[f"signal:{signal_id}"] = {
            **stored,
            "report": {**stored["report"], "cluster_id": signal_id},
            "decision": {
                **stored["decision"],
                "duplicate_of": None,
                "cluster_id": signal_id,
                "reporters_count": 1,
                "reason": NOT_SAME_REASON,
                "destination": destination.name,
                "target": destination.target,
            },
        }
        if memory.get(f"cluster:{signal_id}") is None:
            memory[f"cluster:{signal_id}"] = {
                "reporters": [stored["report"]["reporter"]],
                "reporters_count": 1,
                "at": at.isoformat(),
                "destination": destination.name,
                "target": destination.target,
            }
            _remember_case(memory, signal_id, at, policy.window)
    if routed is None:
        return Effect("recorded", pair)
    return Effect("split", pair, topic, routed)


def _join(correction: CaseCorrection, memory: Memory, policy: DedupePolicy) -> Effect:
    pair = pair_of(correction)
    other = correction.other
    case = _case_of(memory, correction.other_signal_id) or (
        other.dedupe.cluster_id if other is not None else correction.other_signal_id
    )
    stored = memory.get(f"signal:{correction.signal_id}")
    if stored is None or stored["report"]["cluster_id"] == case:
        return Effect("recorded", pair)
    memory[f"signal:{correction.signal_id}"] = {
        **stored,
        "report": {**stored["report"], "cluster_id": case},
    }
    cluster = memory.get(f"cluster:{case}")
    reporter = stored["report"]["reporter"]
    if cluster is not None and reporter not in cluster["reporters"]:
        memory[f"cluster:{case}"] = {
            **cluster,
            "reporters": [*cluster["reporters"], reporter][-policy.reporters_kept :],
            "reporters_count": cluster["reporters_count"] + 1,
        }
    return Effect("joined", pair)


def _follow_label(label: Label, memory: Memory) -> Effect:
    """A triage case the operator sent somewhere: its later reports follow it there."""
    case = _case_of(memory, label.signal_id) or label.signal_id
    cluster = memory.get(f"cluster:{case}")
    if label.destination is None or cluster is None:
        return Effect("recorded")
    if cluster.get("destination") == label.destination:
        return Effect("recorded")
    memory[f"cluster:{case}"] = {**cluster, "destination": label.destination, "target": None}
    return Effect("routed_case")


def _remember_case(memory: Memory, case: str, at: datetime, window: timedelta) -> None:
    """Keep the case on the bounded list; forget the cases that left the window, and the
    oldest beyond the cap."""
    entries: list[list[str]] = list((memory.get(CORRECTED_CASES) or {"entries": []})["entries"])
    entries.append([case, at.isoformat()])
    horizon = at - window
    kept = []
    for index, (old_case, when) in enumerate(entries):
        overflow = index < len(entries) - CASE_CAP
        if overflow or datetime.fromisoformat(when) < horizon:
            cluster = memory.get(f"cluster:{old_case}")
            if cluster is not None and (
                overflow or datetime.fromisoformat(cluster["at"]) < horizon
            ):
                del memory[f"cluster:{old_case}"]
        else:
            kept.append([old_case, when])
    memory[CORRECTED_CASES] = {"entries": kept}


# ------------------------------------------------------------------ the labelled pairs


def dedupe_rows(corrections: Iterable[CaseCorrection]) -> list[dict[str, Any]]:
    """The corrected pairs as rows of the labelled dedupe set, in arrival order: the
    reports an operator said are one case share a ``case`` (named after its earliest
    report), the others get cases of their own. Only reports whose routed form the
    correction carries become rows. "Same case" is transitive: a "not the same" between
    two reports that "same case" verdicts join through a third loses."""
    reports: dict[str, RoutedSignal] = {}
    by: dict[str, str] = {}
    same: list[LabelledPair] = []
    for correction in sorted(corrections, key=lambda c: (c.decided_at, c.correction_id)):
        for routed in (correction.report, correction.other):
            if routed is not None:
                reports[routed.signal.signal_id] = routed
                by[routed.signal.signal_id] = correction.operator_ref
        if correction.verdict is Verdict.same_case:
            same.append(pair_of(correction))
    parent = {signal_id: signal_id for signal_id in reports}

    def root(signal_id: str) -> str:
        while parent[signal_id] != signal_id:
            parent[signal_id] = parent[parent[signal_id]]
            signal_id = parent[signal_id]
        return signal_id

    for pair in same:
        if pair.signal_id in parent and pair.other_signal_id in parent:
            parent[root(pair.signal_id)] = root(pair.other_signal_id)
    groups: dict[str, list[str]] = {}
    for signal_id in reports:
        groups.setdefault(root(signal_id), []).append(signal_id)
    names = {
        member: "corr-" + min(members, key=lambda s: (reports[s].signal.received_at, s))
        for members in groups.values()
        for member in members
    }
    rows = [_row(routed, names[s], by[s]) for s, routed in reports.items()]
    return sorted(rows, key=lambda row: (row["reported_at"], row["id"]))


def _row(routed: RoutedSignal, case: str, operator: str) -> dict[str, Any]:
    signal = routed.signal
    customer = signal.customer
    return {
        "id": signal.signal_id,
        "case": case,
        "text": signal.text,
        "channel": signal.channel.value,
        "reported_at": signal.received_at.isoformat().replace("+00:00", "Z"),
        "language": routed.classification.language,
        "kind": routed.classification.kind.value,
        "category": routed.classification.category.value,
        "reporter": signal.reporter.employee_id or signal.reporter.email,
        "customer": {
            "name": customer.name if customer else None,
            "email": customer.email if customer else None,
            "phone": customer.phone if customer else None,
        },
        "corrected_by": operator,
    }
