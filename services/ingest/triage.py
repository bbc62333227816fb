"""What the triage page knows and decides. Pure, apart from the follower at the end.

``TriageBook`` folds the routed topics (signals.triage, .duplicates, .routed.*) and
signals.labels into what operators work with:

- the signals **waiting** in triage: on signals.triage and neither labelled nor routed
  since, oldest first; at most ``max_waiting`` (beyond it the oldest are let go from
  this view and counted in ``dropped``: a triage queue that long needs more than a page);
- the **recent reports** as routed (every routed topic), the latest ``max_reports``:
  what a same-case correction names, and what a second click finds;
- the **labels** read back, the latest ``max_reports``, and the ids of the signals
  decided (at most ``max_decided``), so that a triage record read after its label (the
  topics are read side by side, in no fixed order) is not listed as waiting.

Records are kept as the bytes read (decoded when a page needs them): a report is a
kilobyte or two, at most about 50 kB.

``decide`` turns an operator's click into the Label and, for a destination, the
RoutedSignal that sends the signal there (rule ``triage:operator``): deterministic from
the triage record and the label, so that a second click writes the same records, and
the connectors' ledger delivers it once like any routed signal. A decision that sent
the signal somewhere stands; one that sent it nowhere ("other") may be changed.
``correction`` builds a CaseCorrection."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, Final

from pydantic import ValidationError
from ulid import ULID

from schemas import (
    CaseCorrection,
    Category,
    Classification,
    Destination,
    Kind,
    Label,
    RoutedSignal,
    Urgency,
    Verdict,
    topics,
)
from schemas.label import correction_id_for, label_id_for, operator_ref, report_text
from services.common.follower import TopicFollower

OPERATOR_RULE: Final = "triage:operator"
OPERATOR_CLASSIFIER: Final = "operator"
OPERATOR_REASON: Final = "decided by an operator in triage"
# The buttons: what the signal is, and where it goes (None: nowhere).
CHOICES: Final[dict[str, tuple[Kind, str | None]]] = {
    "servicedesk": (Kind.complaint, "servicedesk"),
    "crm": (Kind.opportunity, "crm"),
    "none": (Kind.other, None),
}
ROUTED_TOPICS: Final = (
    topics.TRIAGE,
    topics.DUPLICATES,
    topics.ROUTED_SERVICEDESK,
    topics.ROUTED_CRM,
)
FOLLOWED_TOPICS: Final = (*ROUTED_TOPICS, topics.LABELS)
DEFAULT_MAX_DECIDED: Final = 100_000
MAX_DUPLICATES: Final = 20  # the latest duplicates the page offers to tell apart


@dataclass(frozen=True)
class Choice:
    """One click: the button (servicedesk, crm, none) and the category and urgency."""

    signal_id: str
    button: str
    category: Category
    urgency: Urgency

    @property
    def kind(self) -> Kind:
        return CHOICES[self.button][0]

    @property
    def destination(self) -> str | None:
        return CHOICES[self.button][1]


class ChoiceInvalid(ValueError):
    """The form was not one the page sent (a field missing or not one of its values)."""


def _ulid(value: str) -> str:
    try:
        return str(ULID.from_str(value.strip()))
    except ValueError as exc:
        raise ChoiceInvalid("not a signal id") from exc


def read_choice(posted: Mapping[str, str]) -> Choice:
    button = posted.get("choice", "")
    if button not in CHOICES:
        raise ChoiceInvalid("choice")
    try:
        return Choice(
            signal_id=_ulid(posted.get("signal_id", "")),
            button=button,
            category=Category(posted.get("category", "")),
            urgency=Urgency(posted.get("urgency", "")),
        )
    except ValueError as exc:
        raise ChoiceInvalid(str(exc)) from exc


@dataclass(frozen=True)
class Correction:
    signal_id: str
    other_signal_id: str
    verdict: Verdict


def read_correction(posted: Mapping[str, str]) -> Correction:
    try:
        verdict = Verdict(posted.get("verdict", ""))
    except ValueError as exc:
        raise ChoiceInvalid("verdict") from exc
    signal_id = _ulid(posted.get("signal_id", ""))
    other = _ulid(posted.get("other_signal_id", ""))
    if other == signal_id:
        raise ChoiceInvalid("the same signal twice")
    return Correction(signal_id, other, verdict)


class AlreadyDecided(Exception):
    """The signal was sent somewhere already, by another decision: it stands."""

    def __init__(self, label: Label) -> None:
        super().__init__(label.label_id)
        self.label = label


@dataclass(frozen=True)
class Decided:
    label: Label
    routed: RoutedSignal | None  # None: sent nowhere
    again: bool  # the same decision as before: the same records, written again


def _same(label: Label, choice: Choice) -> bool:
    return (label.kind, label.category, label.urgency, label.destination) == (
        choice.kind,
        choice.category,
        choice.urgency,
        choice.destination,
    )


def decide(
    item: RoutedSignal, choice: Choice, operator: str, now: datetime, earlier: Label | None
) -> Decided:
    """The label and the routed signal of ``choice`` on triage record ``item``."""
    if earlier is not None and _same(earlier, choice):
        return Decided(earlier, routed_by_operator(item, earlier), again=True)
    if earlier is not None and earlier.destination is not None:
        raise AlreadyDecided(earlier)
    signal = item.signal
    label = Label(
        label_id=label_id_for(signal.signal_id),
        signal_id=signal.signal_id,
        kind=choice.kind,
        category=choice.category,
        urgency=choice.urgency,
        destination=choice.destination,
        text=report_text(signal),
        language=item.classification.language,
        channel=signal.channel,
        guess=item.classification,
        operator_ref=operator_ref(operator),
        labelled_at=now,
    )
    return Decided(label, routed_by_operator(item, label), again=False)


def routed_by_operator(item: RoutedSignal, label: Label) -> RoutedSignal | None:
    """The signal on its way where the operator sent it, as the operator classified it;
    its case is its own (the triage record's). The destination's own default queue or
    pipeline takes it: the routing rules' targets are the processor's."""
    if label.destination is None:
        return None
    return RoutedSignal(
        signal=item.signal,
        classification=Classification(
            kind=label.kind,
            confidence=1.0,
            category=label.category,
            urgency=label.urgency,
            language=item.classification.language,
            reasons=[OPERATOR_REASON],
            classifier_version=OPERATOR_CLASSIFIER,
        ),
        dedupe=item.dedupe,
        destination=Destination(name=label.destination),
        rule_id=OPERATOR_RULE,
        routed_at=label.labelled_at,
    )


def correction(
    chosen: Correction,
    report: RoutedSignal,
    other: RoutedSignal | None,
    operator: str,
    now: datetime,
) -> CaseCorrection:
    return CaseCorrection(
        correction_id=correction_id_for(chosen.signal_id, chosen.other_signal_id),
        verdict=chosen.verdict,
        signal_id=chosen.signal_id,
        other_signal_id=chosen.other_signal_id,
        report=report,
        other=other,
        operator_ref=operator_ref(operator),
        decided_at=now,
    )


class TriageBook:
    """Thread-safe: the follower writes from its thread, the routes read from the loop."""

    def __init__(
        self,
        max_waiting: int = 1000,
        max_reports: int = 5000,
        max_decided: int = DEFAULT_MAX_DECIDED,
    ) -> None:
        if min(max_waiting, max_reports, max_decided) < 1:
            raise ValueError("every capacity must be at least 1")
        self.max_waiting = max_waiting
        self.max_reports = max_reports
        self.max_decided = max_decided
        self._waiting: OrderedDict[str, bytes] = OrderedDict()
        self._reports: OrderedDict[str, bytes] = OrderedDict()
        self._labels: OrderedDict[str, bytes] = OrderedDict()
        self._decided: OrderedDict[str, None] = OrderedDict()
        self._duplicates: OrderedDict[str, None] = OrderedDict()  # the latest, newest last
        self.dropped = 0  # waiting signals let go from this view (over max_waiting)
        self._lock = threading.Lock()

    # -------------------------------------------------------------------- reading

    @property
    def waiting_count(self) -> int:
        with self._lock:
            return len(self._waiting)

    def waiting(self, limit: int) -> list[RoutedSignal]:
        """The oldest ``limit`` signals waiting in triage, oldest first."""
        with self._lock:
            values = list(islice(self._waiting.values(), limit))
        return [RoutedSignal.model_validate_json(value) for value in values]

    def report(self, signal_id: str) -> RoutedSignal | None:
        """The report as last routed (triage, a duplicate, a case), if still known."""
        with self._lock:
            value = self._waiting.get(signal_id) or self._reports.get(signal_id)
        return RoutedSignal.model_validate_json(value) if value is not None else None

    def recent_duplicates(self, limit: int) -> list[tuple[RoutedSignal, RoutedSignal | None]]:
        """The latest reports dedupe joined to a case, newest first, each with the case's
        first report when still known; those routed as a case of their own since left out."""
        with self._lock:
            ids = list(reversed(self._duplicates))[:limit]
        pairs = []
        for signal_id in ids:
            report = self.report(signal_id)
            if report is not None and report.dedupe.duplicate_of is not None:
                pairs.append((report, self.report(report.dedupe.duplicate_of)))
        return pairs

    def label(self, signal_id: str) -> Label | None:
        with self._lock:
            value = self._labels.get(signal_id)
        return Label.model_validate_json(value) if value is not None else None

    def is_waiting(self, signal_id: str) -> bool:
        with self._lock:
            return signal_id in self._waiting

    # -------------------------------------------------------------------- folding

    def _remember(self, book: OrderedDict[str, Any], key: str, value: Any, cap: int) -> None:
        book[key] = value
        book.move_to_end(key)
        while len(book) > cap:
            book.popitem(last=False)

    def _decide(self, signal_id: str) -> None:
        self._waiting.pop(signal_id, None)
        self._remember(self._decided, signal_id, None, self.max_decided)

    def apply_routed(self, topic: str, value: bytes) -> RoutedSignal:
        routed = RoutedSignal.model_validate_json(value)
        signal_id = routed.signal.signal_id
        with self._lock:
            self._remember(self._reports, signal_id, value, self.max_reports)
            if topic == topics.TRIAGE:
                if signal_id not in self._decided and signal_id not in self._waiting:
                    self._waiting[signal_id] = value
                    if len(self._waiting) > self.max_waiting:
                        self._waiting.popitem(last=False)
                        self.dropped += 1
            elif topic == topics.DUPLICATES:
                self._remember(self._duplicates, signal_id, None, MAX_DUPLICATES)
            elif signal_id in self._waiting or routed.rule_id == OPERATOR_RULE:
                self._decide(signal_id)  # sent on by an operator (here or on a replica)
        return routed

    def apply_label(self, value: bytes) -> Label:
        label = Label.model_validate_json(value)
        with self._lock:
            self._remember(self._labels, label.signal_id, value, self.max_reports)
            self._decide(label.signal_id)
        return label

    def decided(self, label: Label, routed: RoutedSignal | None) -> None:
        """What this replica just published: shown at once, before the topics bring it."""
        self.apply_label(label.model_dump_json().encode())
        if routed is not None:
            topic = topics.ROUTED_BY_DESTINATION[routed.destination.name]
            self.apply_routed(topic, routed.model_dump_json().encode())

    def apply_record(self, topic: str, value: bytes | None) -> bool:
        """Fold one record in; False when it does not decode (skipped, never fatal). A
        label's tombstone (erased) keeps its signal decided: it is not listed again."""
        if value is None:
            return topic == topics.LABELS
        try:
            if topic == topics.LABELS:
                self.apply_label(value)
            elif topic in ROUTED_TOPICS:
                self.apply_routed(topic, value)
            else:
                return False
        except (ValidationError, ValueError):
            return False
        return True


def follow_triage(book: TriageBook, bootstrap: list[str], **options: Any) -> TopicFollower:
    """Reads the routed topics and signals.labels into ``book`` (no consumer group: every
    replica reads them whole, like the status view)."""
    return TopicFollower(
        bootstrap,
        FOLLOWED_TOPICS,
        lambda topic, record: book.apply_record(topic, record.value),
        name="triage-follower",
        client_id="antenna-ingest-triage",
        **options,
    )
