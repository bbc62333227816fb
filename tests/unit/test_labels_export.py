"""`antenna labels export` without a broker: the latest label per signal as compaction keeps
it, rows in the order the labels were made, with every field `antenna train` reads
(the classifier's own LabelledSignal takes them)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from schemas import Category, Classification, Kind, Label, Urgency
from schemas.label import label_id_for, operator_ref
from services.labels import label_row, label_rows, latest
from services.processor.classifier.split import LabelledSignal
from tests.support.builders import build_signal

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _label(minutes: float, kind: Kind = Kind.complaint, **signal: object) -> Label:
    report = build_signal(**signal)
    return Label(
        label_id=label_id_for(report.signal_id),
        signal_id=report.signal_id,
        kind=kind,
        category=Category.energy,
        urgency=Urgency.high,
        destination="servicedesk" if kind is Kind.complaint else None,
        text=report.text,
        language="nl",
        channel=report.channel,
        guess=Classification(
            kind=Kind.other, confidence=0.4, language="nl", classifier_version="v-old"
        ),
        operator_ref=operator_ref("anna"),
        labelled_at=T0 + timedelta(minutes=minutes),
    )


def _record(key: str, value: bytes | None) -> SimpleNamespace:
    return SimpleNamespace(key=key.encode(), value=value)


def test_the_latest_value_per_key_is_kept_and_a_tombstone_removes_it() -> None:
    records = [
        _record("a", b"a1"),
        _record("b", b"b1"),
        _record("a", b"a2"),
        _record("c", b"c1"),
        _record("b", None),
    ]
    assert latest(records) == [b"a2", b"c1"]


def test_rows_come_in_the_order_the_labels_were_made_and_skip_what_is_no_label() -> None:
    later, earlier = _label(5), _label(1, Kind.other)
    rows, unreadable = label_rows(
        [later.model_dump_json().encode(), b"{}", earlier.model_dump_json().encode()]
    )
    assert [row["signal_id"] for row in rows] == [earlier.signal_id, later.signal_id]
    assert unreadable == 1


def test_a_row_has_what_antenna_train_reads() -> None:
    label = _label(0, subject="Energierekening", text="Veel te hoge termijn", channel="email")
    row = label_row(label)
    assert row["id"] == f"operator:{label.signal_id}"
    assert (row["kind"], row["category"], row["urgency"]) == ("complaint", "energy", "high")
    assert (row["language"], row["channel"], row["source"]) == ("nl", "email", "operator")
    assert row["text"] == label.text
    assert row["labelled_at"] == "2026-03-02T09:00:00+00:00"
    assert row["operator"] == operator_ref("anna")
    assert "anna" not in str(row)
    assert row["guess"]["classifier_version"] == "v-old"
    known = {f.name for f in fields(LabelledSignal)} - {"case"}  # case: dedupe rows only
    assert known <= set(row)  # every other field the classifier's rows have
    labelled = LabelledSignal(**{k: v for k, v in row.items() if k in known})
    assert (labelled.kind, labelled.urgency, labelled.source) == ("complaint", "high", "operator")
