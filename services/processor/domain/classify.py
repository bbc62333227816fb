"""Decide what a signal is: complaint, opportunity or other. Pure functions, no I/O.

The processor calls ``classify`` here; the work is done by
``services.processor.classifier``: transparent cue rules in Dutch and English plus a small
TF-IDF + logistic regression model trained (once, in memory) on the shipped labelled
data. Signals the classifier is unsure about come out with low confidence, so the router
sends them to triage instead of guessing.
"""

from __future__ import annotations

from schemas import Category, Classification, Urgency
from services.processor import classifier
from services.processor.classifier import rules

CLASSIFIER_VERSION = classifier.CLASSIFIER_VERSION

__all__ = ["CLASSIFIER_VERSION", "category_of", "classify", "urgency_of"]


def classify(
    text: str, language_hint: str | None = None, channel: str | None = None
) -> Classification:
    return classifier.classify(text, language_hint, channel)


def category_of(text: str) -> Category:
    """The category by keyword rules alone (no model)."""
    return rules.category_of(text)


def urgency_of(text: str) -> Urgency:
    """The urgency by cue rules alone (no model, no kind)."""
    return rules.urgency_of(text)
