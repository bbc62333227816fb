from __future__ import annotations

import os
from pathlib import Path

import pytest

from schemas import Category, Classification, Kind, Urgency, topics
from services.processor import metrics
from services.processor.domain.route import DEFAULT_RULES, RulesError, parse_rules, route
from services.processor.rules_file import RulesFile
from tests.support.builders import build_signal

SAMPLE = Path(__file__).parents[2] / "deploy" / "config" / "routing.yaml"


def classified(
    kind: Kind,
    category: Category = Category.other,
    urgency: Urgency = Urgency.normal,
    confidence: float = 0.9,
    language: str = "en",
) -> Classification:
    return Classification(
        kind=kind,
        confidence=confidence,
        category=category,
        urgency=urgency,
        language=language,
        classifier_version="test",
    )


@pytest.mark.parametrize(
    ("kind", "destination", "topic"),
    [
        (Kind.complaint, "servicedesk", topics.ROUTED_SERVICEDESK),
        (Kind.opportunity, "crm", topics.ROUTED_CRM),
        (Kind.other, "triage", topics.TRIAGE),
    ],
)
def test_built_in_rules_route_by_kind(kind: Kind, destination: str, topic: str) -> None:
    chosen = route(DEFAULT_RULES, classified(kind), build_signal())
    assert (chosen.destination, chosen.topic) == (destination, topic)


@pytest.mark.parametrize("kind", list(Kind))
def test_below_the_confidence_floor_everything_goes_to_triage(kind: Kind) -> None:
    low = classified(kind, confidence=DEFAULT_RULES.min_confidence - 0.01)
    chosen = route(DEFAULT_RULES, low, build_signal())
    assert (chosen.destination, chosen.rule_id) == ("triage", "low-confidence")


def test_confidence_at_the_floor_is_routed() -> None:
    at_floor = classified(Kind.complaint, confidence=DEFAULT_RULES.min_confidence)
    assert route(DEFAULT_RULES, at_floor, build_signal()).destination == "servicedesk"


def test_sample_rules_first_match_wins_and_explain_why() -> None:
    rules = parse_rules(SAMPLE.read_text())
    urgent = route(
        rules, classified(Kind.complaint, Category.payments_cards, Urgency.high), build_signal()
    )
    assert (urgent.rule_id, urgent.target) == ("urgent-payments", "payments-urgent")
    assert urgent.why == ("kind is complaint", "category is payments_cards", "urgency is high")
    normal = route(rules, classified(Kind.complaint, Category.payments_cards), build_signal())
    assert normal.rule_id == "complaints"
    energy = route(rules, classified(Kind.opportunity, Category.energy), build_signal())
    assert (energy.destination, energy.target) == ("crm", "energy-sales")
    unsure_mortgage = route(
        rules,
        classified(Kind.opportunity, Category.mortgage_loans, confidence=0.65),
        build_signal(),
    )
    assert unsure_mortgage.rule_id == "opportunities"
    other = route(rules, classified(Kind.other), build_signal())
    assert (other.rule_id, other.destination, other.target) == ("default", "triage", "human-triage")


def test_rules_match_channel_language_and_department() -> None:
    rules = parse_rules("""
rules:
  - id: dutch-retail-chat
    when: {channel: chat, language: nl, department: [Retail, Branches]}
    route: {destination: crm, target: retail}
default: {destination: triage}
""")
    hit = build_signal(channel="chat", reporter={"employee_id": "e", "department": "retail"})
    assert (
        route(rules, classified(Kind.opportunity, language="nl"), hit).rule_id
        == "dutch-retail-chat"
    )
    assert route(rules, classified(Kind.opportunity, language="en"), hit).rule_id == "default"
    form = build_signal(channel="form", reporter={"employee_id": "e", "department": "retail"})
    assert route(rules, classified(Kind.opportunity, language="nl"), form).rule_id == "default"


def test_errors_name_the_line_and_the_field() -> None:
    bad = SAMPLE.read_text().replace("category: energy", "category: energie")
    with pytest.raises(RulesError) as info:
        parse_rules(bad, "routing.yaml")
    line = next(n for n, text in enumerate(bad.splitlines(), 1) if "energie" in text)
    assert f"routing.yaml line {line}: rules[2].when.category" in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "rules:\n  - id: a\n    route: {destination: nowhere}\n",
            "line 3: rules[0].route.destination",
        ),
        (
            "rules:\n  - id: a\n    route: {destination: crm}\n    colour: red\n",
            "line 4: rules[0].colour",
        ),
        (
            "rules:\n"
            "  - {id: a, route: {destination: crm}}\n"
            "  - {id: a, route: {destination: crm}}\n",
            "rule ids must be unique: a",
        ),
        ("rules: [\n", "not valid YAML"),
        ("- just a list\n", "line 1: expected a mapping"),
        ("min_confidence: 1.5\n", "line 1: min_confidence"),
    ],
)
def test_invalid_rules_are_refused_clearly(text: str, expected: str) -> None:
    with pytest.raises(RulesError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        parse_rules(text)


def test_rules_file_reloads_on_change_and_keeps_the_old_rules_when_invalid(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(SAMPLE.read_text())
    rules_file = RulesFile(path)
    assert rules_file.rules.rules[0].id == "urgent-payments"
    assert rules_file.reload_if_changed() is False

    path.write_text("rules:\n  - {id: only, route: {destination: crm}}\n")
    os.utime(path, (1, 1))  # a new mtime even within the same clock tick
    assert rules_file.reload_if_changed() is True
    assert [r.id for r in rules_file.rules.rules] == ["only"]

    failures = metrics.RULES_RELOAD_FAILURES._value.get()
    path.write_text("rules: [\n")
    os.utime(path, (2, 2))
    assert rules_file.reload_if_changed() is False
    assert [r.id for r in rules_file.rules.rules] == ["only"]
    assert metrics.RULES_RELOAD_FAILURES._value.get() == failures + 1
    assert rules_file.reload_if_changed() is False  # the same bad file is reported once
    assert metrics.RULES_RELOAD_FAILURES._value.get() == failures + 1


def test_an_invalid_file_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text("rules: {}\n")
    with pytest.raises(RulesError):
        RulesFile(path)
