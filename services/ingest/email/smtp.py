"""The SMTP listener: mail to a signal address becomes a signal.

It runs inside the ingest process, on the same event loop and with the same publisher
and idempotency cache as the API (``create_app(..., smtp=True)`` starts it in the
lifespan). Every answer is decided before the sending server lets go of the message:

| Reply | When |
|---|---|
| 550 5.1.1 | RCPT TO is not one of ``signal_addresses`` |
| 550 5.7.1 | MAIL FROM (or the From header) is not in ``allowed_sender_domains`` |
| 552 | the message is over ``max_email_bytes`` (also advertised as SIZE) |
| 554 5.6.0 | the MIME cannot be read; the reply says why |
| 250, not published | auto-generated mail (out-of-office, newsletter, bounce): no loops |
| 451 4.3.0 | the broker did not acknowledge, or anything unexpected: the sender retries |
| 250 2.0.0 | the signal is on the broker; the reply names its id |

Several recipients in one transaction make one signal, and the Message-ID is the
Idempotency-Key (source ``smtp``): a retried delivery is not a second signal.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import traceback
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from services.common.kafka import BrokerUnavailable
from services.common.logging import fields
from services.ingest.email import (
    EMAILS,
    MalformedEmail,
    SenderNotAllowed,
    domain_allowed,
    ingest_email,
    message_ref,
)
from services.ingest.idempotency import IdempotencyCache, KeyReused
from services.ingest.publisher import Publisher
from services.ingest.settings import IngestSettings

SOURCE = "smtp"
NULL_SENDER = "<>"
MAX_REPLY_CHARS = 400

log = logging.getLogger(__name__)


def _reply_text(text: str) -> str:
    """One line of printable ASCII: SMTP replies are not the place for anything else."""
    line = " ".join(str(text).split())
    return line.encode("ascii", "replace").decode("ascii")[:MAX_REPLY_CHARS]


class SignalHandler:
    """aiosmtpd handler hooks. Never raises: an unexpected error is a 451 and a log line."""

    def __init__(
        self, settings: IngestSettings, publisher: Publisher, idempotency: IdempotencyCache
    ) -> None:
        self.settings = settings
        self.publisher = publisher
        self.idempotency = idempotency
        self.addresses = {a.strip().lower() for a in settings.signal_addresses}

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        # A null sender (bounces, auto-replies) is accepted, then dropped at DATA.
        if address != NULL_SENDER and not domain_allowed(
            address, self.settings.allowed_sender_domains
        ):
            EMAILS.labels(SOURCE, "sender_refused").inc()
            return "550 5.7.1 sender domain not allowed"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.strip().lower() not in self.addresses:
            return f"550 5.1.1 <{_reply_text(address)}>: not a signal address, mailbox unavailable"
        if address not in envelope.rcpt_tos:
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):  # pragma: no cover - decode_data is off
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            outcome = await ingest_email(
                raw,
                transport=SOURCE,
                source=SOURCE,
                settings=self.settings,
                publisher=self.publisher,
                idempotency=self.idempotency,
                null_sender=envelope.mail_from == NULL_SENDER,
            )
        except MalformedEmail as exc:
            return f"554 5.6.0 Malformed message: {_reply_text(str(exc))}"
        except SenderNotAllowed:
            return "550 5.7.1 sender domain not allowed (From header)"
        except KeyReused:
            return "554 5.6.0 Message-ID was already used for a different message"
        except BrokerUnavailable:
            return "451 4.3.0 Signal store unavailable, nothing accepted; try again later"
        except Exception as exc:
            return self._unexpected(exc, message_ref(None, raw))
        if not outcome.published:
            return f"250 2.0.0 Accepted, not published: {_reply_text(outcome.reason or '')}"
        verb = "Already accepted" if outcome.replayed else "Accepted"
        return f"250 2.0.0 {verb} as signal {outcome.signal_id}"

    async def handle_exception(self, error: Exception) -> str:
        """Called by aiosmtpd for anything that escapes a hook or the protocol itself."""
        return self._unexpected(error, "-")

    def _unexpected(self, exc: BaseException, ref: str) -> str:
        EMAILS.labels(SOURCE, "error").inc()
        # The type and the stack, never the message: it could quote an address or text.
        log.error(
            "unexpected error while receiving an e-mail\n%s",
            "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
            extra=fields(message=ref, error=type(exc).__name__),
        )
        return "451 4.3.0 Temporary error, nothing accepted; try again later"


class SmtpServer:
    """The listener on ``smtp_host:smtp_port``, on the running event loop."""

    def __init__(
        self, settings: IngestSettings, publisher: Publisher, idempotency: IdempotencyCache
    ) -> None:
        self.settings = settings
        self.handler = SignalHandler(settings, publisher, idempotency)
        self._server: asyncio.Server | None = None
        self._hostname = "antenna"

    @property
    def port(self) -> int:
        """The bound port (useful with smtp_port=0)."""
        if self._server is None or not self._server.sockets:
            return self.settings.smtp_port
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def _protocol(self) -> SMTP:
        return SMTP(
            self.handler,
            data_size_limit=self.settings.max_email_bytes,
            enable_SMTPUTF8=True,
            hostname=self._hostname,
            ident="Antenna signal intake",
            loop=asyncio.get_running_loop(),
        )

    async def start(self) -> None:
        # aiosmtpd logs every address and command at INFO: keep personal data out.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self._hostname = socket.gethostname()  # getfqdn() may wait on DNS
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol, host=self.settings.smtp_host, port=self.settings.smtp_port
        )
        log.info(
            "SMTP listening",
            extra=fields(
                host=self.settings.smtp_host,
                port=self.port,
                signal_addresses=len(self.handler.addresses),
            ),
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> SmtpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()
