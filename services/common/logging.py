"""One log format for every service: timestamp, level, service, message, key=value fields.

Only identifiers go into fields (signal_id, topic, destination): never the text of a
signal or a person's name, e-mail or phone.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any


class _KeyValueFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__("%(asctime)s %(levelname)s " + service + " %(name)s: %(message)s")
        self._stamp = (-1, "")  # (second, its text): swapped whole, so threads may share it

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """As logging.Formatter's, with one strftime a second instead of one a line."""
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second, text = self._stamp
        if second != int(record.created):
            second = int(record.created)
            text = time.strftime(self.default_time_format, self.converter(record.created))
            self._stamp = (second, text)
        return f"{text},{int(record.msecs):03d}"  # default_msec_format

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields: dict[str, Any] = getattr(record, "fields", {})
        if fields:
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return text


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_KeyValueFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The format names no thread, process or source line: not looking them up for every
    # record saves microseconds per line where a line is written per request (ingest's
    # "accepted"). The logging HOWTO's "Optimization" section names these switches.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    # kafka-python logs every failed reconnect at WARNING/ERROR; our own code reports outages.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)


def fields(**kv: Any) -> dict[str, Any]:
    """``log.info("routed", extra=fields(signal_id=...))``"""
    return {"fields": kv}
