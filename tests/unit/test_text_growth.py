"""Hostile text and mail cost linear time (issue #11, part 1).

The adversarial corpus in tests/fixtures/adversarial/ (texts.json, mails.json) describes
inputs that made Antenna's text handling slow: each entry is a head, a unit repeated to
the wanted size and a tail (for mails, a raw message template with ``{grow}`` where the
unit goes, optionally base64-encoded). ``seen`` says where an entry comes from. Besides
the corpus, every regular expression in the text modules is run on strings built to make
regular expressions backtrack, so that a pattern added later is covered too.

Each check measures the same function on input of size n and of size 4n, in the same run,
as the CPU time of this process (best of a few repetitions), and asserts that the work grew
at most 9x: about 3x per doubling. Linear work grows 4x, quadratic work 16x. No wall time
is asserted, so a slow or busy machine does not fail these tests; a measurement spoiled by
a noisy neighbour is repeated before a check fails.
"""

from __future__ import annotations

import ast
import base64
import dataclasses
import inspect
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import services.common.language as language
import services.common.message_text as message_text
import services.connectors.crm as crm
import services.connectors.zendesk as zendesk
import services.ingest.api.routes.forms as forms_route
import services.ingest.chat as chat
import services.ingest.chat.slack as slack
import services.ingest.chat.teams as teams
import services.ingest.email.parse as email_parse
import services.ingest.email.trust as email_trust
import services.processor.classifier as classifier
import services.processor.classifier.cues as cues
import services.processor.classifier.features as features
import services.processor.classifier.model as model
import services.processor.classifier.rules as rules
import services.processor.domain.identity as identity
import services.processor.domain.matter as matter
import services.processor.domain.names as names
from services.common.message_text import clean_text, report_content
from services.ingest.email.parse import EmailLimits, EmailOverLimit, MalformedEmail, parse_email
from services.processor.classifier import classify_detailed

CORPUS = Path(__file__).parents[1] / "fixtures" / "adversarial"
TEXTS: list[dict[str, str]] = json.loads((CORPUS / "texts.json").read_text(encoding="utf-8"))
MAILS: list[dict[str, str]] = json.loads((CORPUS / "mails.json").read_text(encoding="utf-8"))

MAX_GROWTH = 9.0  # for 4x the input: about 3x per doubling
REPETITIONS = 2
ATTEMPTS = 3  # a quadratic function fails every attempt; noise does not
FLOOR_S = 20e-6  # below this a measurement is mostly the clock


def _cost(fn: Callable[[Any], object], arg: Any) -> float:
    best = float("inf")
    for _ in range(REPETITIONS):
        started = time.process_time()
        fn(arg)
        best = min(best, time.process_time() - started)
    return best


def growth(fn: Callable[[Any], object], make: Callable[[int], Any], n: int) -> float:
    """How much more CPU time ``fn`` takes on ``make(4 * n)`` than on ``make(n)``."""
    small, large = make(n), make(4 * n)
    ratio = 0.0
    for _ in range(ATTEMPTS):
        ratio = _cost(fn, large) / max(_cost(fn, small), FLOOR_S)
        if ratio <= MAX_GROWTH:
            break
    return ratio


def _repeat(unit: str, length: int) -> str:
    return unit * max(1, -(-length // len(unit)))


def _text(entry: dict[str, str], n: int) -> str:
    return entry["head"] + _repeat(entry["unit"], n) + entry["tail"]


def _mail(entry: dict[str, str], n: int) -> bytes:
    unit = entry["unit"]
    grown = "".join(unit.replace("{i}", str(i)) for i in range(max(1, n // len(unit))))
    raw = entry["template"].replace("{grow}", grown)
    if entry["encoding"] == "base64":
        head, _, body = raw.partition("\n\n")
        raw = head + "\n\n" + base64.encodebytes(body.encode()).decode()
    return raw.encode()


def _parse(raw: bytes) -> object:
    try:
        return parse_email(raw)
    except MalformedEmail as exc:
        return exc


# --- the corpus -----------------------------------------------------------------------------

TEXT_FUNCTIONS: dict[str, Callable[[str], object]] = {
    "clean_text": clean_text,
    "report_content": report_content,
    "the rules and cues": lambda text: (rules.decisive(text, None), cues.cues(text)),
}


@pytest.mark.parametrize("entry", TEXTS, ids=[entry["name"] for entry in TEXTS])
def test_adversarial_texts_cost_linear_time(entry: dict[str, str]) -> None:
    for name, fn in TEXT_FUNCTIONS.items():
        ratio = growth(fn, lambda n: _text(entry, n), 3_000)
        assert ratio <= MAX_GROWTH, f"{name}: 4x the text took {ratio:.1f}x the time"


def test_the_whole_classifier_costs_linear_time() -> None:
    [entry] = [entry for entry in TEXTS if entry["name"] == "thanks-lines-then-a-sentence"]
    classify_detailed("warm up: train the model outside the measurement")
    ratio = growth(
        lambda text: classify_detailed(text, None, "email"), lambda n: _text(entry, n), 2_000
    )
    assert ratio <= MAX_GROWTH, f"4x the text took {ratio:.1f}x the time"


def test_the_seen_text_grows_linearly_up_to_what_the_api_accepts() -> None:
    # Seen: 17,600 characters of "Thanks" lines and one sentence took 2.5 s, about 20 s at
    # the 50,000 characters the API accepts.
    [entry] = [entry for entry in TEXTS if entry["name"] == "thanks-lines-then-a-sentence"]
    assert growth(clean_text, lambda n: _text(entry, n), 12_500) <= MAX_GROWTH


@pytest.mark.parametrize("entry", MAILS, ids=[entry["name"] for entry in MAILS])
def test_adversarial_mails_cost_linear_time(entry: dict[str, str]) -> None:
    assert isinstance(_parse(_mail(entry, 1_000)), email_parse.ParsedEmail)
    ratio = growth(_parse, lambda n: _mail(entry, n), 10_000)
    assert ratio <= MAX_GROWTH, f"4x the message took {ratio:.1f}x the time"


def _parts(count: int) -> bytes:
    parts = "".join(f"--b\nContent-Type: text/plain\n\npart {i}\n" for i in range(count))
    return (
        "From: anna@antenna.example.com\nMessage-ID: <parts@antenna.example.com>\n"
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
        f"The customer's card was declined.\n{parts}--b--\n"
    ).encode()


def test_a_mail_with_50000_parts_costs_no_more_than_one_just_over_the_cap() -> None:
    # Seen: a mail with 50,000 parts took seconds. Past the cap the parser stops.
    limits = EmailLimits()
    with pytest.raises(EmailOverLimit, match=f"more than {limits.max_parts} MIME parts"):
        parse_email(_parts(50_000))
    ratio = _cost(_parse, _parts(50_000)) / _cost(_parse, _parts(2 * limits.max_parts))
    assert ratio <= 3, f"50,000 parts took {ratio:.1f}x the time of {2 * limits.max_parts}"


def _nested(depth: int, lines: int) -> bytes:
    opening = "".join(
        f"Content-Type: multipart/mixed; boundary=b{level}\n\n--b{level}\n"
        for level in range(depth)
    )
    return (
        "From: anna@antenna.example.com\nMIME-Version: 1.0\n"
        f"{opening}Content-Type: text/plain\n\nThe card was declined.\n" + "x\n" * lines
    ).encode()


def test_deep_nesting_is_refused_before_every_line_is_checked_against_every_boundary() -> None:
    limits = EmailLimits()
    assert isinstance(parse_email(_nested(limits.max_depth, 10)), email_parse.ParsedEmail)
    with pytest.raises(EmailOverLimit, match=f"more than {limits.max_depth} deep"):
        parse_email(_nested(400, 10))
    ratio = _cost(_parse, _nested(400, 50_000)) / _cost(
        _parse, _nested(limits.max_depth + 1, 50_000)
    )
    assert ratio <= 3, f"400 levels took {ratio:.1f}x the time of {limits.max_depth + 1}"


def test_header_sections_over_the_cap_are_refused() -> None:
    limits = EmailLimits(max_header_chars=10_000)
    raw = _mail(next(m for m in MAILS if m["name"] == "many-header-fields"), 20_000)
    with pytest.raises(EmailOverLimit, match="more than 10000 characters of header fields"):
        parse_email(raw, limits=limits)
    assert parse_email(_mail(next(m for m in MAILS if m["name"] == "many-header-fields"), 1_000))


# --- every pattern --------------------------------------------------------------------------

# Everything that runs patterns on what people send: the text cleaner, the classifier's
# rules and its model's input preparation, language detection, the e-mail parser and its
# sender checks, the chat adapters, form posts, the connectors' text for a vendor, and
# dedupe's reading of names, phones and what a report is about.
# (services.common.processes and services.dlq match only our own metrics and ids.)
PATTERN_MODULES = (
    message_text,
    rules,
    cues,
    features,
    model,
    classifier,
    language,
    email_parse,
    email_trust,
    chat,
    slack,
    teams,
    forms_route,
    crm,
    zendesk,
    identity,
    matter,
    names,
)
# Functions that compile rule sources, not input (_national_pattern: libphonenumber's
# pattern of a region's numbers, run on at most 26 characters; of_source: message_text's
# case-insensitive patterns, compiled with and without IGNORECASE; lower_case: checks
# the sources of rules and cues).
SOURCE_FUNCTIONS = frozenset({"_rx", "_union", "_national_pattern", "of_source", "lower_case"})


def _patterns() -> Iterator[tuple[str, re.Pattern[str]]]:
    seen: set[int] = set()

    def found(name: str, value: object) -> Iterator[tuple[str, re.Pattern[str]]]:
        if isinstance(value, re.Pattern) and id(value) not in seen:
            seen.add(id(value))
            yield name, value
        elif isinstance(value, rules.KindRule | cues.Cue):
            yield from found(f"{name}.pattern", value.pattern)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):  # cues._Matcher
            for field in dataclasses.fields(value):
                yield from found(f"{name}.{field.name}", getattr(value, field.name))
        elif isinstance(value, tuple):  # cues.CATEGORY_CUES, cues._PHRASES, ...
            for i, item in enumerate(value):
                yield from found(f"{name}[{i}]", item)
        elif isinstance(value, dict):
            for key, item in value.items():
                yield from found(f"{name}[{key}]", item)
        elif (
            isinstance(value, type)
            and value.__module__ in {m.__name__ for m in PATTERN_MODULES}
            and id(value) not in seen
        ):
            seen.add(id(value))  # a class whose attributes refer back to it (an enum)
            for attribute, item in vars(value).items():
                yield from found(f"{name}.{attribute}", item)

    for module in PATTERN_MODULES:
        short = module.__name__.rsplit(".", 1)[-1]
        for name, value in vars(module).items():
            yield from found(f"{short}.{name}", value)
    for rule in rules.KIND_RULES:  # rules that are only in the tuple
        yield from found(f"rules.{rule.reason}", rule.pattern)


PATTERNS = list(_patterns())
_RUNS = " \t\u00a0\n>-_.,!|/([)1aA@:*'\u2013\U0001f600+=<"
_PAIRS = (
    "a ", "a\n", "> ", ">\n", " >", "- ", " -", "1 ", "1-", "(a", "()", "a@", "a.", "@a.",
    "Aa ", "Ab. ", "a, ", " |", ": ", "a:", "\t ", " \n", "!.", ". ", "\U0001f600 ", "+3",
    "0 6", "(1", "ab", "a-", "'a", "<a", "a<b@c ", "[mailto:", "=?utf-8?q?a?= ",
)  # fmt: skip
_WORDS = (
    "thanks", "Thanks", "regards", "groet", "on", "op", "from", "van", "klant", "hi", "dear",
    "gaat om", "tip via x", "could someone", "sent from", "this e-mail", "wrote", "schreef",
    "subject", "re", "card", "abroad", "not", "my",
)  # fmt: skip


def _hostile() -> Iterator[tuple[str, Callable[[int], str]]]:
    for char in _RUNS:
        yield f"run of {char!r}", lambda n, c=char: "x" + c * n + "?"
    for pair in _PAIRS:
        yield f"repeated {pair!r}", lambda n, p=pair: _repeat(p, n)[:n] + "?"
    for word in _WORDS:
        yield f"{word!r} and spaces", lambda n, w=word: w + " " * n + "#"
        yield f"{word!r}, and spaces before a name", lambda n, w=word: w + "," + " " * n + "Aaaa  #"
        yield f"{word!r} repeated", lambda n, w=word: _repeat(w + " ", n)
        yield f"{word!r} lines", lambda n, w=word: _repeat(w + "\n", n)


HOSTILE = list(_hostile())
SCREEN_N = 400


@pytest.mark.parametrize("module", PATTERN_MODULES, ids=lambda module: module.__name__)
def test_every_pattern_costs_linear_time_on_hostile_input(module: ModuleType) -> None:
    short = module.__name__.rsplit(".", 1)[-1]
    mine = [(name, pattern) for name, pattern in PATTERNS if name.startswith(f"{short}.")]
    assert mine, f"no patterns found in {module.__name__}"
    inputs = [(what, make(SCREEN_N), make(4 * SCREEN_N), make) for what, make in HOSTILE]
    slow = []
    for name, pattern in mine:

        def scan(text: str, pattern: re.Pattern[str] = pattern) -> object:
            return list(pattern.finditer(text))  # every start position, as search and sub

        for what, small, large, make in inputs:
            # One quick measurement each; only a suspect is measured with repetitions.
            started = time.process_time()
            scan(small)
            middle = time.process_time()
            scan(large)
            if (time.process_time() - middle) / max(middle - started, FLOOR_S) <= MAX_GROWTH:
                continue
            ratio = growth(scan, make, SCREEN_N)
            if ratio > MAX_GROWTH:
                slow.append(f"{name} on {what}: {ratio:.1f}x")
    assert not slow, "super-linear patterns:\n" + "\n".join(slow)


@pytest.mark.parametrize("module", PATTERN_MODULES, ids=lambda module: module.__name__)
def test_patterns_are_compiled_where_the_growth_test_finds_them(module: ModuleType) -> None:
    """A pattern written inline in a function (``re.sub(r"...", ...)``) escapes the test
    above: input patterns are module-level constants."""
    inline = []
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if not isinstance(node, ast.FunctionDef) or node.name in SOURCE_FUNCTIONS:
            continue
        for call in ast.walk(node):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Name)
                and call.func.value.id == "re"
                and call.func.attr != "escape"
            ):
                inline.append(f"{node.name}: re.{call.func.attr} (line {call.lineno})")
    assert not inline, "\n".join(inline)
