from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from schemas import RoutedSignal, Signal
from schemas.generate import JSON_DIR, MODELS, expected_files

EXPECTED = sorted(expected_files().items())


def test_every_contract_model_has_a_schema_file() -> None:
    names = {path.name for path, _ in EXPECTED}
    assert names == {f"{name}.schema.json" for name in MODELS}
    assert {"signal", "routed_signal", "delivery_result", "dead_letter"} <= set(MODELS)


@pytest.mark.parametrize(("path", "text"), EXPECTED, ids=[p.name for p, _ in EXPECTED])
def test_checked_in_json_schema_matches_the_model(path, text) -> None:
    assert path.parent == JSON_DIR
    assert path.exists(), f"{path} is missing: run `make schemas` and commit the result"
    assert path.read_text() == text, (
        f"{path.name} is out of date with its pydantic model: run `make schemas` and commit it"
    )


def _signal_data(**overrides):
    data = {
        "signal_id": "01JD6W2Q7X5N6G2M3K4P5R6S7T",
        "idempotency_key": "k-1",
        "channel": "chat",
        "source": "api-key-abc",
        "received_at": "2025-03-14T09:30:00Z",
        "reporter": {"employee_id": "E-1"},
        "text": "Klant is boos over de factuur",
    }
    data.update(overrides)
    return data


def _error_locs(exc: ValidationError) -> set[tuple]:
    return {tuple(e["loc"]) for e in exc.errors()}


def test_valid_signal_is_accepted() -> None:
    signal = Signal.model_validate(_signal_data())
    assert signal.signal_id == "01JD6W2Q7X5N6G2M3K4P5R6S7T"
    assert signal.schema_version == 1
    assert signal.received_at == datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "bad_id", ["not-a-ulid", "", "01JD6W2Q7X5N6G2M3K4P5R6S7", "U" * 26, "8" + "0" * 25]
)
def test_signal_rejects_a_non_ulid_signal_id(bad_id: str) -> None:
    with pytest.raises(ValidationError) as info:
        Signal.model_validate(_signal_data(signal_id=bad_id))
    assert _error_locs(info.value) == {("signal_id",)}


def test_signal_rejects_a_naive_received_at() -> None:
    with pytest.raises(ValidationError) as info:
        Signal.model_validate(_signal_data(received_at=datetime(2025, 3, 14, 9, 30)))
    assert _error_locs(info.value) == {("received_at",)}
    assert "time zone" in str(info.value)


def test_signal_rejects_a_naive_received_at_string() -> None:
    with pytest.raises(ValidationError) as info:
        Signal.model_validate(_signal_data(received_at="2025-03-14T09:30:00"))
    assert _error_locs(info.value) == {("received_at",)}


def test_signal_rejects_extra_fields() -> None:
    with pytest.raises(ValidationError) as info:
        Signal.model_validate(_signal_data(priority="high"))
    assert _error_locs(info.value) == {("priority",)}
    assert info.value.errors()[0]["type"] == "extra_forbidden"


def test_nested_models_reject_extra_fields_too() -> None:
    with pytest.raises(ValidationError) as info:
        Signal.model_validate(_signal_data(reporter={"employee_id": "E-1", "salary": "1"}))
    assert _error_locs(info.value) == {("reporter", "salary")}


def test_signal_rejects_empty_text() -> None:
    with pytest.raises(ValidationError) as info:
        Signal.model_validate(_signal_data(text=""))
    assert _error_locs(info.value) == {("text",)}


def test_received_at_with_offset_is_normalised_to_utc() -> None:
    signal = Signal.model_validate(_signal_data(received_at="2025-03-14T11:30:00+02:00"))
    assert signal.received_at.utcoffset() == timedelta(0)
    assert signal.received_at.tzinfo is UTC
    assert signal.received_at == datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
    assert signal.received_at.hour == 9


def test_received_at_as_aware_datetime_is_normalised_to_utc() -> None:
    cest = timezone(timedelta(hours=2))
    signal = Signal.model_validate(
        _signal_data(received_at=datetime(2025, 6, 1, 8, 0, tzinfo=cest))
    )
    assert signal.received_at.tzinfo is UTC
    assert (signal.received_at.hour, signal.received_at.minute) == (6, 0)
    assert signal.model_dump(mode="json")["received_at"] == "2025-06-01T06:00:00Z"


def test_signal_is_immutable(make_signal) -> None:
    signal = make_signal()
    with pytest.raises(ValidationError):
        signal.text = "changed"


def test_signal_round_trips_through_json(make_signal) -> None:
    signal = make_signal(
        channel="email",
        subject="Pinpas geblokkeerd",
        language="nl",
        customer={
            "name": "Jan Jansen",
            "email": "jan@example.nl",
            "phone": "+31 6 12345678",
            "customer_id": "C-42",
            "consent_to_contact": True,
        },
        attachments=[{"filename": "bon.pdf", "content_type": "application/pdf", "size": 12345}],
        metadata={"store": "Utrecht", "shift": "morning"},
        callback_window={
            "text": "morgenochtend",
            "not_before": "2025-03-15T08:00:00+01:00",
            "not_after": "2025-03-15T11:00:00+01:00",
        },
    )
    text = signal.model_dump_json()
    again = Signal.model_validate_json(text)
    assert again == signal
    assert again.model_dump_json() == text
    assert again.customer is not None and again.customer.email == "jan@example.nl"
    assert again.callback_window is not None
    assert again.callback_window.not_before == datetime(2025, 3, 15, 7, 0, tzinfo=UTC)


def test_routed_signal_round_trips_through_json(make_routed) -> None:
    routed = make_routed()
    again = RoutedSignal.model_validate_json(routed.model_dump_json())
    assert again == routed
    assert again.signal.signal_id == routed.signal.signal_id


def test_a_signal_id_is_checked_exactly_as_ulid_parses_it() -> None:
    """schemas.signal checks ids with a pattern instead of decoding them: it must accept
    what ULID.from_str accepts and nothing else, case, overflow and look-alikes included."""
    from ulid import ULID

    from schemas.signal import _check_ulid

    def parses(value: str) -> bool:
        try:
            ULID.from_str(value)
        except ValueError:
            return False
        return True

    def checks(value: str) -> bool:
        try:
            _check_ulid(value)
        except ValueError:
            return False
        return True

    look_alikes = "\u017f\u212a\u0130\u0131\uff10\u0660\u00b2\n "  # long s, Kelvin, ...
    characters = [chr(c) for c in range(0x250)] + list(look_alikes)
    candidates = ["", "0" * 25, "0" * 27, "0" * 26 + "\n", "8" + "0" * 25]
    for c in characters:
        candidates += [c + "0" * 25, "0" + c + "0" * 24, "7" * 25 + c]
    verdicts = [(value, parses(value), checks(value)) for value in candidates]
    assert [v for v in verdicts if v[1] != v[2]] == []
    assert sum(v[1] for v in verdicts) > 60  # both cases of the alphabet, in each place


def test_a_derived_signal_id_is_the_ulid_of_its_bytes() -> None:
    import os

    from ulid import ULID

    from schemas.signal import ulid_text

    samples = [bytes(16), b"\xff" * 16, bytes(range(16))] + [os.urandom(16) for _ in range(500)]
    assert [ulid_text(b) for b in samples] == [str(ULID.from_bytes(b)) for b in samples]
    with pytest.raises(ValueError):
        ulid_text(bytes(15))
