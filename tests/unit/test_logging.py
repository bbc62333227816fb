"""services/common/logging.py: one line format, and nothing per record that it does not print."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from services.common.logging import configure, fields

SWITCHES = ("logThreads", "logProcesses", "logMultiprocessing", "_srcfile")


@pytest.fixture
def restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    kafka_level = logging.getLogger("kafka").level
    switches = {name: getattr(logging, name) for name in SWITCHES}
    try:
        yield
    finally:
        root.handlers[:], root.level = handlers, level
        logging.getLogger("kafka").setLevel(kafka_level)
        for name, value in switches.items():
            setattr(logging, name, value)


def test_a_line_has_the_service_the_message_and_the_fields(restored) -> None:
    configure("ingest", "INFO")
    out = io.StringIO()
    logging.getLogger().handlers[0].setStream(out)  # type: ignore[attr-defined]
    logging.getLogger("services.ingest.intake").info(
        "accepted", extra=fields(signal_id="01JBARE0000000000000000000", replayed=False)
    )
    line = out.getvalue().strip()
    assert " INFO ingest services.ingest.intake: accepted " in line
    assert line.endswith("signal_id=01JBARE0000000000000000000 replayed=False")


def test_a_record_looks_up_no_caller_thread_or_process(restored) -> None:
    """The format prints none of them: ingest writes a line per accepted signal, and the
    look-ups cost about a fifth of a line's CPU."""
    configure("ingest", "INFO")
    record = logging.getLogger("x").makeRecord("x", logging.INFO, "f", 1, "m", None, None)
    assert (record.thread, record.process, record.processName) == (None, None, None)
    assert logging._srcfile is None  # findCaller is skipped: no frame walk per record


def test_the_time_is_written_as_logging_writes_it() -> None:
    """The formatter keeps one second's text for the lines of that second."""
    from services.common.logging import _KeyValueFormatter

    ours, standard = _KeyValueFormatter("ingest"), logging.Formatter()
    stamps = [1_764_560_000.0, 1_764_560_000.123, 1_764_560_000.999, 1_764_560_001.5, 5.25]
    for created in stamps:
        record = logging.getLogger("x").makeRecord("x", logging.INFO, "f", 1, "m", None, None)
        record.created, record.msecs = created, int((created - int(created)) * 1000)
        assert ours.formatTime(record) == standard.formatTime(record)
        assert ours.formatTime(record, "%H") == standard.formatTime(record, "%H")
