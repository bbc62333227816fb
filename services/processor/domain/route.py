"""Routing rules: which destination a judged signal goes to. Operators write them in
YAML (deploy/config/routing.yaml); this module parses, validates and applies them. Pure.

The first rule whose every condition holds wins; the default catches the rest. Whatever
the rules say, a signal below ``min_confidence`` goes to triage: a customer-facing
system never receives a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from schemas import Category, Channel, Classification, Kind, Signal, Urgency, topics

DESTINATION_TOPICS = {
    "servicedesk": topics.ROUTED_SERVICEDESK,
    "crm": topics.ROUTED_CRM,
    "triage": topics.TRIAGE,
}
DestinationName = Literal["servicedesk", "crm", "triage"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Conditions(_Strict):
    kind: list[Kind] | None = None
    category: list[Category] | None = None
    urgency: list[Urgency] | None = None
    language: list[str] | None = None
    channel: list[Channel] | None = None
    department: list[str] | None = None
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    max_confidence: float | None = Field(default=None, ge=0, le=1)

    _lists = field_validator(
        "kind", "category", "urgency", "language", "channel", "department", mode="before"
    )(_as_list)


class Target(_Strict):
    destination: DestinationName
    target: str | None = Field(default=None, description="queue, pipeline or owner")


class Rule(_Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str | None = None
    when: Conditions = Field(default_factory=Conditions)
    route: Target


class RuleSet(_Strict):
    version: Literal[1] = 1
    min_confidence: float = Field(default=0.6, ge=0, le=1)
    rules: list[Rule] = Field(default_factory=list)
    default: Target = Target(destination="triage")

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[Rule]) -> list[Rule]:
        ids = [r.id for r in rules]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"rule ids must be unique: {', '.join(duplicated)}")
        return rules


@dataclass(frozen=True)
class Route:
    destination: str
    target: str | None
    rule_id: str
    why: tuple[str, ...]

    @property
    def topic(self) -> str:
        return DESTINATION_TOPICS[self.destination]


def _check(rule: Rule, c: Classification, signal: Signal) -> list[str] | None:
    """The reasons the rule matches, or None when a condition fails."""
    w = rule.when
    facts: list[tuple[str, Any, list[Any] | None]] = [
        ("kind", c.kind, w.kind),
        ("category", c.category, w.category),
        ("urgency", c.urgency, w.urgency),
        ("language", c.language, w.language),
        ("channel", signal.channel, w.channel),
        (
            "department",
            (signal.reporter.department or "").lower(),
            [d.lower() for d in w.department] if w.department else None,
        ),
    ]
    why = []
    for name, value, allowed in facts:
        if allowed is None:
            continue
        if value not in allowed:
            return None
        why.append(f"{name} is {getattr(value, 'value', value)}")
    if w.min_confidence is not None:
        if c.confidence < w.min_confidence:
            return None
        why.append(f"confidence {c.confidence:.2f} >= {w.min_confidence}")
    if w.max_confidence is not None:
        if c.confidence > w.max_confidence:
            return None
        why.append(f"confidence {c.confidence:.2f} <= {w.max_confidence}")
    return why or ["no conditions"]


def route(rules: RuleSet, classification: Classification, signal: Signal) -> Route:
    if classification.confidence < rules.min_confidence:
        return Route(
            "triage",
            None,
            "low-confidence",
            (f"confidence {classification.confidence:.2f} < {rules.min_confidence}",),
        )
    for rule in rules.rules:
        why = _check(rule, classification, signal)
        if why is not None:
            return Route(rule.route.destination, rule.route.target, rule.id, tuple(why))
    return Route(rules.default.destination, rules.default.target, "default", ("no rule matched",))


DEFAULT_RULES = RuleSet(
    rules=[
        Rule(
            id="complaints-to-servicedesk",
            when=Conditions(kind=[Kind.complaint]),
            route=Target(destination="servicedesk"),
        ),
        Rule(
            id="opportunities-to-crm",
            when=Conditions(kind=[Kind.opportunity]),
            route=Target(destination="crm"),
        ),
    ]
)


# --- parsing YAML with line numbers -------------------------------------------------


class RulesError(ValueError):
    """An invalid rules file; the message names the line and the field."""


class _LineLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no types
    """Remembers the line of every mapping key and sequence item (1-based)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = _Lines()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = key_node.start_mark.line + 1
    mapping.line = node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> list[Any]:
    items = _LineList(loader.construct_object(child, deep=True) for child in node.value)
    items.lines = [child.start_mark.line + 1 for child in node.value]
    items.line = node.start_mark.line + 1
    return items


class _Lines(dict[str, Any]):
    line = 1

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[str, int] = {}


class _LineList(list[Any]):
    line = 1
    lines: list[int]


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _line_of(data: Any, loc: tuple[Any, ...]) -> int:
    line, node = getattr(data, "line", 1), data
    for part in loc:
        in_mapping = isinstance(node, _Lines) and part in node
        in_list = isinstance(node, _LineList) and isinstance(part, int) and part < len(node)
        if in_mapping or in_list:
            line, node = node.lines[part], node[part]
        else:
            break
    return line


def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(file)"


def parse_rules(text: str, source: str = "routing.yaml") -> RuleSet:
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise RulesError(
            f"{source}{where}: not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from exc
    if not isinstance(data, dict):
        raise RulesError(f"{source} line 1: expected a mapping with 'rules' and 'default'")
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(
                p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))
            )
            problems.append(f"{source} line {_line_of(data, loc)}: {_path(loc)}: {error['msg']}")
        raise RulesError("\n".join(problems)) from exc
