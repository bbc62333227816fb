"""The signal classifier: transparent rules plus a small trained model.

``classify`` cleans the text (quoted replies, signatures and disclaimers go, and so does
the relay's wrapping: tool tags, form labels, greetings, contact details, "who can pick
this up?"), undoes common typing slips against the training vocabulary, detects the
language, asks the model for probabilities and adds the evidence of the cue rules to the
model's log-probabilities. Decisive rules (auto-replies, newsletters, spam, test messages)
settle the kind outright. The confidence is the combined probability of the chosen kind,
lowered when the model is unsure, when rules and model disagree or when there is too little
text to judge, so that such signals go to human triage instead of being guessed.
"""

from __future__ import annotations

import math
import re
from typing import TypeVar

from schemas import Category, Classification, Kind, Urgency
from services.common.language import detect_language
from services.processor.classifier import rules
from services.processor.classifier.model import (
    MAX_TEXT_CHARS,
    ModelOutput,
    TrainedModels,
    predict,
    report_text,
    trained_models,
)

__all__ = [
    "CLASSIFIER_VERSION",
    "DEFAULT_MIN_CONFIDENCE",
    "MAX_TEXT_CHARS",
    "classify",
    "classify_detailed",
    "classify_with",
    "predict",
    "topic_profile",
    "trained_models",
]

CLASSIFIER_VERSION = "rules+tfidf-lr-2"
# Below this the router sends a signal to triage by default; the confidence is tuned for it.
DEFAULT_MIN_CONFIDENCE = 0.6

DECISIVE_CONFIDENCE = 0.97

# Rules that overturn the model, or a model that overrules strong rules: not sure enough.
DISAGREEMENT_FACTOR = 0.8
# Rule evidence for two kinds closer than this (log-odds): the signal is mixed.
MIXED_CUES_MARGIN = 1.0
# Mixed signals (a complaint that also asks for an offer) are for a human to split up.
MIXED_CUES_CONFIDENCE_CAP = 0.55
# Fewer words than this: too little to judge, whatever the probabilities say.
MIN_WORDS = 4
SHORT_TEXT_CONFIDENCE_CAP = 0.5
# Log-odds added per category keyword, and at most.
CATEGORY_KEYWORD_WEIGHT = 1.0
CATEGORY_MAX_EVIDENCE = 2.0

_WORD = re.compile(r"\w+")
K = TypeVar("K", Kind, Category)


def classify(
    text: str, language_hint: str | None = None, channel: str | None = None
) -> Classification:
    """Classify one signal with the production model (trained once, on first use)."""
    return classify_detailed(text, language_hint, channel)[0]


def classify_with(
    models: TrainedModels,
    text: str,
    language_hint: str | None = None,
    channel: str | None = None,
) -> Classification:
    """Classify one signal with ``models``."""
    return classify_detailed(text, language_hint, channel, models)[0]


def topic_profile(text: str, channel: str | None = None) -> dict[str, float]:
    """What ``text`` is about, as a distribution over the categories (summing to 1): the
    softmax of the scores the category decision uses, the model's log-probabilities plus
    the keyword evidence. Two reports of one matter have similar profiles."""
    return classify_detailed(text, None, channel)[1]


def classify_detailed(
    text: str,
    language_hint: str | None = None,
    channel: str | None = None,
    models: TrainedModels | None = None,
) -> tuple[Classification, dict[str, float]]:
    """The classification of one signal and its topic profile, computed together."""
    models = models if models is not None else trained_models()
    cleaned = models.speller.correct(report_text(text))
    language = detect_language(cleaned, language_hint)
    words = len(_WORD.findall(cleaned))
    if words == 0:
        empty = Classification(
            kind=Kind.other,
            confidence=0.0,
            urgency=Urgency.low,
            language=language,
            reasons=["no text to classify"],
            classifier_version=CLASSIFIER_VERSION,
        )
        return empty, {category.value: float(category is Category.other) for category in Category}
    output = predict(models, cleaned)
    fired = rules.kind_evidence(cleaned, channel)
    kind, confidence, reasons = _decide_kind(output, fired)
    if words < MIN_WORDS and not _decisive(fired):
        confidence = min(confidence, SHORT_TEXT_CONFIDENCE_CAP)
        reasons.append(f"too short to judge ({words} words)")
    keywords = rules.category_evidence(cleaned)
    scores = _category_scores(output, keywords)
    category, category_reason = _decide_category(output, scores, keywords, kind, fired)
    urgency, urgency_reason = _decide_urgency(output, cleaned, kind, fired)
    reasons.extend(reason for reason in (category_reason, urgency_reason) if reason)
    classification = Classification(
        kind=kind,
        confidence=round(confidence, 3),
        category=category,
        urgency=urgency,
        language=language,
        reasons=reasons,
        classifier_version=CLASSIFIER_VERSION,
    )
    return classification, {c.value: p for c, p in _softmax(scores).items()}


def _decisive(fired: list[rules.Fired]) -> list[rules.Fired]:
    return [item for item in fired if item.rule.decisive]


def _decide_kind(output: ModelOutput, fired: list[rules.Fired]) -> tuple[Kind, float, list[str]]:
    model_kind = output.top_kind
    model_reason = f"model: {model_kind.value} {output.kind[model_kind]:.2f}"
    if output.kind_terms:
        model_reason += " (" + ", ".join(f"'{term}'" for term in output.kind_terms) + ")"
    decisive = _decisive(fired)
    if decisive:
        reasons = [item.reason for item in decisive] + [model_reason]
        return decisive[0].rule.kind, DECISIVE_CONFIDENCE, reasons

    evidence = rules.evidence_by_kind(fired)
    scores = {kind: _log(output.kind[kind]) + evidence[kind] for kind in Kind}
    probabilities = _softmax(scores)
    kind = max(probabilities, key=probabilities.__getitem__)
    confidence = probabilities[kind]
    reasons = [item.reason for item in fired] + [model_reason]

    rule_kind = max(evidence, key=evidence.__getitem__)
    if kind is not model_kind or (evidence[rule_kind] > 0 and rule_kind is not model_kind):
        confidence *= DISAGREEMENT_FACTOR
        reasons.append("rules and model disagree")
    rival = max((k for k in Kind if k is not kind), key=evidence.__getitem__)
    if evidence[rival] > 0 and evidence[kind] - evidence[rival] < MIXED_CUES_MARGIN:
        confidence *= DISAGREEMENT_FACTOR
        if min(evidence[kind], evidence[rival]) >= rules.STRONG:
            confidence = min(confidence, MIXED_CUES_CONFIDENCE_CAP)
        reasons.append(f"mixed cues: also {rival.value}")
    return kind, confidence, reasons


def _category_scores(
    output: ModelOutput, keywords: dict[Category, list[str]]
) -> dict[Category, float]:
    """Per category: the model's log-probability plus the keyword evidence."""
    return {
        category: _log(output.category[category])
        + min(CATEGORY_KEYWORD_WEIGHT * len(keywords.get(category, [])), CATEGORY_MAX_EVIDENCE)
        for category in Category
    }


def _decide_category(
    output: ModelOutput,
    scores: dict[Category, float],
    keywords: dict[Category, list[str]],
    kind: Kind,
    fired: list[rules.Fired],
) -> tuple[Category, str | None]:
    not_a_report = {rules.OWN_IT_PROBLEM, rules.TEST_OR_MISTAKE, rules.STAFF_MATTERS}
    if _decisive(fired) or any(item.rule in not_a_report for item in fired):
        return Category.other, None
    # Complaints and leads are nearly always about a product; other signals nearly never.
    products = [c for c in Category if c is not Category.other or c in keywords]
    category = max(products, key=scores.__getitem__)
    if kind is Kind.other and output.category[Category.other] >= output.category[category] / 2:
        category = Category.other
    found = keywords.get(category)
    reason = f"category: {category.value}" + (f" ({', '.join(found[:3])})" if found else "")
    return category, reason


# Rules that say an "other" signal is not about the employee's blocked work.
_NOT_WORK = {rules.PRAISE, rules.IDEA, rules.NO_ACTION, rules.STAFF_MATTERS}


def _decide_urgency(
    output: ModelOutput, text: str, kind: Kind, fired: list[rules.Fired]
) -> tuple[Urgency, str | None]:
    """Rules first, the model to choose between what the kind allows: a complaint is high
    on a high-urgency cue, low on a "minor" cue and normal otherwise; a lead is never
    high, low when vague or minor, else as the model says; an other signal is low, unless
    it is the employee's own blocked work (then low or normal, as the model says)."""
    cues = rules.urgency_evidence(text)

    def model_choice(*allowed: Urgency) -> Urgency:
        return max(allowed, key=output.urgency.__getitem__)

    if kind is Kind.other:
        rules_fired = {item.rule for item in fired}
        own_work = rules.OWN_IT_PROBLEM in rules_fired
        if own_work and not (rules_fired & _NOT_WORK or _decisive(fired)):
            return model_choice(Urgency.low, Urgency.normal), None
        return Urgency.low, None
    if kind is Kind.complaint:
        high = [rule for rule in cues if rule.urgency is Urgency.high]
        if high:
            return Urgency.high, f"urgency: {high[0].reason}"
        if rules.MINOR in cues:
            return Urgency.low, f"urgency: {rules.MINOR.reason}"
        return Urgency.normal, None
    low = [rule for rule in cues if rule.urgency is Urgency.low]
    if low:
        return Urgency.low, f"urgency: {low[0].reason}"
    return model_choice(Urgency.low, Urgency.normal), None


def _log(p: float) -> float:
    return math.log(max(p, 1e-6))


def _softmax(scores: dict[K, float]) -> dict[K, float]:
    top = max(scores.values())
    exps = {kind: math.exp(score - top) for kind, score in scores.items()}
    total = sum(exps.values())
    return {kind: value / total for kind, value in exps.items()}
