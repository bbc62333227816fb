"""A real SMTP server on loopback (aiosmtpd) that keeps every mail it is handed: the
relay the notifier sends through. It can be stopped and started again on its port, to
play a relay that is down for a while."""

from __future__ import annotations

from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from services.common.broker import free_port
from tests.support.observed import Observed


class MailSink:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: Observed[EmailMessage] = Observed()
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
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
        return [m for m in self.messages.all() if m["To"] == address]

    def wait_for(
        self, predicate: Callable[[EmailMessage], bool], count: int = 1, timeout_s: float = 60
    ) -> list[EmailMessage]:
        """Block until ``count`` received mails match ``predicate``; woken by each mail."""
        return self.messages.wait_for(predicate, count, timeout_s)
