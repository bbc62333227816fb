"""Small pieces of the processor's app: its producer's batch size, and the classified
hand-over decoded once for its two readers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from services.processor.app import BATCH_BYTES, SharedDecode, batch_bytes
from services.processor.handlers import InvalidSignal, assess
from services.processor.settings import ProcessorSettings
from tests.support.builders import build_signal


def test_the_batch_size_is_the_processors_unless_it_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTENNA_KAFKA_PRODUCER_MAX_BATCH_BYTES", raising=False)
    assert batch_bytes(ProcessorSettings()) == BATCH_BYTES
    assert batch_bytes(ProcessorSettings(kafka_max_request_bytes=30000)) == 30000
    monkeypatch.setenv("ANTENNA_KAFKA_PRODUCER_MAX_BATCH_BYTES", "1")  # kill9-probe's
    assert batch_bytes(ProcessorSettings()) == 1


def event(offset: int, value: bytes) -> SimpleNamespace:
    return SimpleNamespace(message=SimpleNamespace(offset=offset), value=value)


def test_a_handover_is_decoded_once_for_both_readers_and_never_for_another_record() -> None:
    value = assess(build_signal()).model_dump_json().encode()
    decode = SharedDecode(most=2)
    first = decode(event(7, value))
    assert decode(event(7, value)) is first  # the second reader takes it
    assert decode(event(7, value)) is not first  # taken: decoded again
    other = assess(build_signal()).model_dump_json().encode()
    assert decode(event(8, other)).signal.signal_id != first.signal.signal_id
    for offset in (9, 10, 11):  # at most two kept: the oldest go
        decode(event(offset, value))
    assert len(decode._kept) == 2
    with pytest.raises(InvalidSignal):
        decode(event(12, b"{}"))
