"""What operators teach Antenna: a ``Label`` (what a signal really is, decided on the
triage page) on signals.labels, and a ``CaseCorrection`` ("these two are one case", "not
the same case") on signals.case-corrections. Both topics are compacted: the latest
decision per signal, and per pair of signals, is kept for good.

A label carries the text it was derived from (the subject line and the text, as the
classifier read them), not only the signal's id: training happens weeks later, after
signals.raw has let the report go, and the label must say what the operator saw. The
operator is named by a pseudonymous reference (``operator_ref``), never by their name:
labels are kept for good and copied into training files, and what a model needs is that
one person's decisions can be told apart from another's, not who they are."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from schemas.classification import Category, Classification, Kind, Urgency
from schemas.preference import preference_key
from schemas.routing import RoutedSignal
from schemas.signal import SCHEMA_VERSION, Channel, Contract, Signal, SignalId, UtcDatetime

_OPERATOR_DERIVATION = b"antenna operator ref v1\0"
# What the classify stage reads of a signal: its subject line and its text.
MAX_LABEL_TEXT = 50_000 + 500 + 1


def operator_ref(name: str) -> str:
    """The pseudonymous reference of an operator (their sign-in name): the same for one
    person on every replica, and unlike the insight app's reporter references, so that
    labels and insight cannot be joined on it. Not a secret: whoever knows the sign-in
    names can tell whose labels are whose (which an audit needs); the name itself never
    travels."""
    return hashlib.sha256(_OPERATOR_DERIVATION + preference_key(name).encode()).hexdigest()[:20]


def report_text(signal: Signal) -> str:
    """The text a label is derived from: what the classify stage reads (its subject line,
    then its text)."""
    return f"{signal.subject}\n{signal.text}" if signal.subject else signal.text


class LabelSource(StrEnum):
    operator = "operator"  # decided on the triage page


def label_id_for(signal_id: str, source: LabelSource = LabelSource.operator) -> str:
    """One label per signal and source: a second decision replaces the first."""
    return f"{source.value}:{signal_id}"


class Label(Contract):
    """On signals.labels, keyed by ``label_id``."""

    schema_version: int = SCHEMA_VERSION
    label_id: str = Field(
        max_length=120,
        description="<source>:<signal_id>; also the record's key. Deterministic: deciding "
        "again replaces the label, and a repeated click writes the same record.",
        examples=["operator:01JD6W2Q7X5N6G2M3K4P5R6S7T"],
    )
    signal_id: SignalId
    source: LabelSource = LabelSource.operator
    kind: Kind
    category: Category
    urgency: Urgency
    destination: str | None = Field(
        default=None,
        max_length=100,
        description="Where the operator sent the signal (servicedesk, crm); null: nowhere",
    )
    text: str = Field(
        min_length=1,
        max_length=MAX_LABEL_TEXT,
        description="What the label is derived from: the signal's subject line and text, "
        "as the classifier read them",
    )
    language: str = Field(max_length=8, description="The language the classifier detected")
    channel: Channel
    guess: Classification = Field(description="What the classifier said, as the operator saw it")
    operator_ref: str = Field(
        min_length=1, max_length=64, description="Who decided: schemas.label.operator_ref"
    )
    labelled_at: UtcDatetime

    @model_validator(mode="after")
    def _id_names_the_signal(self) -> Self:
        if self.label_id != label_id_for(self.signal_id, self.source):
            raise ValueError("label_id must be <source>:<signal_id>")
        return self


class Verdict(StrEnum):
    same_case = "same_case"
    not_same_case = "not_same_case"


def correction_id_for(signal_id: str, other_signal_id: str) -> str:
    """One record per pair, whichever way round: the latest verdict on a pair stands."""
    first, second = sorted((signal_id, other_signal_id))
    return f"{first}|{second}"


class CaseCorrection(Contract):
    """On signals.case-corrections, keyed by ``correction_id``. ``signal_id`` is the report
    the operator moves: out of the case ``other_signal_id`` (not_same_case: it becomes a
    case of its own), or into the case of ``other_signal_id`` (same_case)."""

    schema_version: int = SCHEMA_VERSION
    correction_id: str = Field(max_length=60, description="<id>|<id>, sorted; the key")
    verdict: Verdict
    signal_id: SignalId
    other_signal_id: SignalId
    report: RoutedSignal = Field(description="The report ``signal_id`` as it was routed")
    other: RoutedSignal | None = Field(
        default=None,
        description="The report ``other_signal_id`` as it was routed, when ingest still had "
        "it: without it the pair cannot be exported for the dedupe evaluation",
    )
    operator_ref: str = Field(min_length=1, max_length=64)
    decided_at: UtcDatetime

    @model_validator(mode="after")
    def _a_pair_of_two(self) -> Self:
        if self.signal_id == self.other_signal_id:
            raise ValueError("a correction needs two different signals")
        if self.correction_id != correction_id_for(self.signal_id, self.other_signal_id):
            raise ValueError("correction_id must be the sorted pair of signal ids")
        if self.report.signal.signal_id != self.signal_id:
            raise ValueError("report must be the routed signal_id")
        if self.other is not None and self.other.signal.signal_id != self.other_signal_id:
            raise ValueError("other must be the routed other_signal_id")
        return self
