"""The signal classifier: a calibrated model that learns from labelled data, and a few
decisive rules.

``classify_many`` cleans each text (quoted replies, signatures and disclaimers go, and so
does the relay's wrapping: tool tags, form labels, greetings, contact details, "who can
pick this up?"), undoes common typing slips, detects the language, and asks the model for
the probabilities of the whole batch at once (``model.py``: words, characters and cues
such as who has the problem, praise, buying intent, see ``cues.py``). A decisive rule
(an auto-reply, a newsletter, spam, a test message) settles the kind outright. Otherwise
the kind is the model's, with its calibrated probability as the confidence, lowered when
there is too little text to judge, so that unsure signals go to human triage. The reasons
name the rule, or the model's probability and the features that pushed most towards the
kind.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from schemas import Category, Classification, Kind, Signal, Urgency
from services.common.language import detect_language
from services.processor.classifier import cues, rules
from services.processor.classifier.model import (
    MAX_TEXT_CHARS,
    ModelOutput,
    TrainedModels,
    predict,
    predict_many,
    report_text,
)
from services.processor.classifier.store import current_model

__all__ = [
    "CLASSIFIER_VERSION",
    "DEFAULT_MIN_CONFIDENCE",
    "MAX_TEXT_CHARS",
    "classify",
    "classify_detailed",
    "classify_many",
    "classify_signals",
    "classify_with",
    "current_model",
    "predict",
    "topic_profile",
]

CLASSIFIER_VERSION = "calibrated-lr-3"
# Below this the router sends a signal to triage by default; the confidence is calibrated.
DEFAULT_MIN_CONFIDENCE = 0.6

DECISIVE_CONFIDENCE = 0.97
# Fewer words than this: too little to judge, whatever the probabilities say.
MIN_WORDS = 4
SHORT_TEXT_CONFIDENCE_CAP = 0.5

_WORD = re.compile(r"\w+")

Item = tuple[str, str | None, str | None]  # text, language hint, channel
Result = tuple[Classification, dict[str, float]]


def classify(
    text: str, language_hint: str | None = None, channel: str | None = None
) -> Classification:
    """Classify one signal with the current model."""
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
    model's category probabilities. Two reports of one matter have similar profiles."""
    return classify_detailed(text, None, channel)[1]


def classify_detailed(
    text: str,
    language_hint: str | None = None,
    channel: str | None = None,
    models: TrainedModels | None = None,
) -> Result:
    """The classification of one signal and its topic profile, computed together."""
    return classify_many([(text, language_hint, channel)], models)[0]


def classify_many(items: Sequence[Item], models: TrainedModels | None = None) -> list[Result]:
    """``classify_detailed`` for each (text, language hint, channel), in order: the model
    scores the whole batch at once. Deterministic: a signal's result does not depend on
    the others in its batch."""
    models = models if models is not None else current_model()
    version = models_version(models)
    results: list[Result | None] = [None] * len(items)
    texts: list[str] = []
    languages: list[str] = []
    pending: list[tuple[int, int, list[rules.Fired], str | None]] = []
    for i, (text, hint, channel) in enumerate(items):
        cleaned = models.speller.correct(report_text(text))
        language = detect_language(cleaned, hint)
        words = len(_WORD.findall(cleaned))
        if words == 0:
            results[i] = _empty(language, version)
            continue
        texts.append(cleaned)
        languages.append(language)
        pending.append((i, words, rules.decisive(cleaned, channel), channel))
    outputs = predict_many(models, texts, languages)
    for (i, words, decisive, _), output, language in zip(pending, outputs, languages, strict=True):
        results[i] = _decide(output, decisive, words, language, version)
    return [result for result in results if result is not None]


def signal_text(signal: Signal) -> str:
    """What the classifier reads of a signal: its subject, if any, and its text."""
    return f"{signal.subject}\n{signal.text}" if signal.subject else signal.text


def classify_signals(
    signals: Sequence[Signal], models: TrainedModels | None = None
) -> list[Result]:
    """``classify_many`` for signals: each one's text (``signal_text``), language hint and
    channel."""
    return classify_many([(signal_text(s), s.language, s.channel.value) for s in signals], models)


def models_version(models: TrainedModels) -> str:
    """The version a classification names: the classifier's and the model file's."""
    version = getattr(models, "version", "")
    return f"{CLASSIFIER_VERSION}+{version}" if version else CLASSIFIER_VERSION


def _empty(language: str, version: str) -> Result:
    empty = Classification(
        kind=Kind.other,
        confidence=0.0,
        urgency=Urgency.low,
        language=language,
        reasons=["no text to classify"],
        classifier_version=version,
    )
    return empty, {category.value: float(category is Category.other) for category in Category}


def _decide(
    output: ModelOutput, decisive: list[rules.Fired], words: int, language: str, version: str
) -> Result:
    model_kind = output.top_kind
    model_reason = f"model: {model_kind.value} {output.kind[model_kind]:.2f}"
    if output.kind_terms:
        model_reason += " (" + ", ".join(_term(term) for term in output.kind_terms) + ")"
    if decisive:
        kind, confidence = decisive[0].rule.kind, DECISIVE_CONFIDENCE
        reasons = [item.reason for item in decisive] + [model_reason]
    else:
        kind, confidence = model_kind, output.kind[model_kind]
        reasons = [model_reason]
        if words < MIN_WORDS:
            confidence = min(confidence, SHORT_TEXT_CONFIDENCE_CAP)
            reasons.append(f"too short to judge ({words} words)")
    category, category_reason = _decide_category(output, kind, bool(decisive))
    urgency, urgency_reason = _decide_urgency(output, kind, bool(decisive))
    reasons.extend(reason for reason in (category_reason, urgency_reason) if reason)
    classification = Classification(
        kind=kind,
        confidence=round(confidence, 3),
        category=category,
        urgency=urgency,
        language=language,
        reasons=reasons,
        classifier_version=version,
    )
    topic = output.category
    return classification, dict(zip(map(_NAMES.__getitem__, topic), topic.values(), strict=True))


# Enum members iterated and named once: per signal they cost more than the decision.
_NAMES = {category: category.value for category in Category}
_PRODUCTS = tuple(category for category in Category if category is not Category.other)
_URGENCIES = tuple(Urgency)


def _term(term: str) -> str:
    if term.startswith("cue:"):
        return cues.describe([term[4:]])[0]
    return term if term.startswith("chars ") else f"'{term}'"


def _decide_category(
    output: ModelOutput, kind: Kind, decisive: bool
) -> tuple[Category, str | None]:
    if decisive:
        return Category.other, None
    p = output.category
    if kind is Kind.other:
        # Other signals are about a product only when the model clearly says so.
        best = max(p, key=p.__getitem__)
        category = best if p[best] >= 2 * p[Category.other] else Category.other
    else:
        # Complaints and leads are nearly always about a product.
        category = max(_PRODUCTS, key=p.__getitem__)
        if p[Category.other] > 0.5:
            category = Category.other
    return category, f"category: {category.value} {p[category]:.2f}"


def _decide_urgency(output: ModelOutput, kind: Kind, decisive: bool) -> tuple[Urgency, str | None]:
    """The model chooses between what the kind allows: an other signal is low (normal at
    most when it is the employee's own work that fails), a lead is never high."""
    p = output.urgency
    if decisive:
        return Urgency.low, None
    allowed: tuple[Urgency, ...]
    if kind is Kind.other:
        allowed = (Urgency.low, Urgency.normal) if "own_trouble" in output.cues else (Urgency.low,)
    elif kind is Kind.opportunity:
        allowed = (Urgency.low, Urgency.normal)
    else:
        allowed = _URGENCIES
    urgency = max(allowed, key=p.__getitem__)
    if urgency is Urgency.normal:
        return urgency, None
    said = [name for name in output.cues if name.startswith(("urgent_", "not_urgent"))]
    because = f" ({', '.join(cues.describe(said))})" if said else ""
    return urgency, f"urgency: {urgency.value}{because}"
