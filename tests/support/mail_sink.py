"""A real SMTP server on loopback (aiosmtpd) that keeps every mail it is handed: the
relay the notifier sends through. It can be stopped and started again on its port, to
play a relay that is down for a while."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from services.common.broker import free_port


class MailSink:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self._changed = threading.Condition()
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()
        return "250 2.0.0 OK"

    def start(self) -> MailSink:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[EmailMessage]:
        with self._changed:
            return [m for m in self.messages if m["To"] == address]

    def wait_for(
        self, predicate: Callable[[EmailMessage], bool], count: int = 1, timeout_s: float = 60
    ) -> list[EmailMessage]:
        """Block until ``count`` received mails match ``predicate``; woken by each mail."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                found = [m for m in self.messages if predicate(m)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)}/{count} matching mail(s) in {timeout_s}s")
                self._changed.wait(left)
