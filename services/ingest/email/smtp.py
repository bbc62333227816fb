"""The SMTP listener: mail to a signal address becomes a signal.

It runs inside the ingest process, on the same event loop and with the same publisher
and idempotency cache as the API (``create_app(..., smtp=True)`` starts it in the
lifespan). Every answer is decided before the sending server lets go of the message:

Who may hand over mail at all: a peer inside ``smtp_relay_networks`` (the mail relay;
default loopback), or a client signed in with SMTP AUTH (``smtp_users``), which is offered
only after STARTTLS. With ``smtp_trusted_authserv_id`` the relay must also vouch for the
From domain in its own Authentication-Results header (``trust.py``). Each peer may hold
at most ``smtp_max_sessions_per_peer`` sessions at once.

| Reply | When |
|---|---|
| 421 4.7.0 | the peer already has ``smtp_max_sessions_per_peer`` sessions open |
| 530 5.7.0 | MAIL FROM from a peer outside the relay networks, not signed in (AUTH offered) |
| 550 5.7.1 | the same when AUTH is not configured; or the relay did not vouch for the From domain |
| 550 5.1.1 | RCPT TO is not one of ``signal_addresses`` |
| 550 5.7.1 | MAIL FROM (or the From header) is not in ``allowed_sender_domains`` |
| 552 | the message is over ``max_email_bytes`` (also advertised as SIZE) |
| 552 5.3.4 | over an e-mail limit (parts, nesting, header size); the reply says which |
| 554 5.6.0 | the MIME cannot be read; the reply says why |
| 250, not published | auto-generated mail (out-of-office, newsletter, bounce): no loops |
| 451 4.3.0 | the broker did not acknowledge, or anything unexpected: the sender retries |
| 451 4.3.0 | the message was not read within ``email_parse_budget_s``: the sender retries |
| 250 2.0.0 | the signal is on the broker; the reply names its id |

Several recipients in one transaction make one signal, and the Message-ID is the
Idempotency-Key (source ``smtp``): a retried delivery is not a second signal.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import traceback
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from services.common.kafka import BrokerUnavailable
from services.common.logging import fields
from services.ingest.email import (
    EMAILS,
    ChildFailed,
    EmailOverLimit,
    MalformedEmail,
    SenderNotAllowed,
    domain_allowed,
    ingest_email,
    message_ref,
)
from services.ingest.email.trust import (
    PeerSessions,
    check_credentials,
    from_domain,
    in_networks,
    parse_networks,
    vouched_for,
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
        self.relay_networks = parse_networks(settings.smtp_relay_networks)

    def may_hand_over(self, session: Session) -> bool:
        """A relay in the configured networks, or a client signed in with AUTH."""
        peer = session.peer[0] if isinstance(session.peer, tuple) else session.peer
        return bool(session.authenticated) or in_networks(peer, self.relay_networks)

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """aiosmtpd's authenticator (PLAIN, LOGIN), only ever called over TLS."""
        users = [pair.get_secret_value() for pair in self.settings.smtp_users]
        if isinstance(data, LoginPassword) and check_credentials(users, data.login, data.password):
            return AuthResult(success=True, auth_data=data)
        EMAILS.labels(SOURCE, "auth_failed").inc()
        log.warning("SMTP AUTH refused")  # never the login: it may be personal
        return AuthResult(success=False, handled=False)

    def vouch_refusal(self, raw: bytes) -> str | None:
        """With a trusted authserv-id: a 550 unless the relay vouched for the From domain."""
        authserv_id = self.settings.smtp_trusted_authserv_id
        if authserv_id is None:
            return None
        head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]  # headers only
        headers = BytesHeaderParser(policy=compat32).parsebytes(head)
        domain = from_domain(headers)
        if domain is not None and vouched_for(headers, authserv_id, domain):
            return None
        EMAILS.labels(SOURCE, "not_vouched").inc()
        return "550 5.7.1 the relay did not vouch for the sender's domain (Authentication-Results)"

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if not self.may_hand_over(session):
            EMAILS.labels(SOURCE, "relay_refused").inc()
            if self.settings.smtp_users:
                return "530 5.7.0 Authentication required"
            return "550 5.7.1 not a relay for your address; mail goes through the mail relay"
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
        if (refusal := self.vouch_refusal(raw)) is not None:
            return refusal
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
        except EmailOverLimit as exc:
            return f"552 5.3.4 Message refused: {_reply_text(str(exc))}"
        except MalformedEmail as exc:
            return f"554 5.6.0 Malformed message: {_reply_text(str(exc))}"
        except ChildFailed:
            return (
                "451 4.3.0 The message could not be read in time, nothing accepted; try again later"
            )
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


class CappedSMTP(SMTP):
    """aiosmtpd's protocol, refusing a peer's session past the cap with a 421."""

    def __init__(self, handler: SignalHandler, sessions: PeerSessions, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._sessions = sessions
        self._counted: str | None = None  # the peer this session counts against
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None:  # the connection itself, not its STARTTLS upgrade
            peer = transport.get_extra_info("peername")
            host = str(peer[0]) if peer else "unknown"
            if not self._sessions.open(host):
                EMAILS.labels(SOURCE, "session_cap").inc()
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(b"421 4.7.0 Too many sessions from your address, try later\r\n")
                transport.close()
                self._refused = True
                return
            self._counted = host
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return  # it never started
        if self._counted is not None:
            self._sessions.close(self._counted)
            self._counted = None
        super().connection_lost(error)


class SmtpServer:
    """The listener on ``smtp_host:smtp_port``, on the running event loop."""

    def __init__(
        self, settings: IngestSettings, publisher: Publisher, idempotency: IdempotencyCache
    ) -> None:
        self.settings = settings
        self.handler = SignalHandler(settings, publisher, idempotency)
        self.sessions = PeerSessions(settings.smtp_max_sessions_per_peer)
        self._server: asyncio.Server | None = None
        self._hostname = "antenna"
        self._tls: ssl.SSLContext | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with smtp_port=0)."""
        if self._server is None or not self._server.sockets:
            return self.settings.smtp_port
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def _protocol(self) -> SMTP:
        return CappedSMTP(
            self.handler,
            self.sessions,
            data_size_limit=self.settings.max_email_bytes,
            enable_SMTPUTF8=True,
            hostname=self._hostname,
            ident="Antenna signal intake",
            loop=asyncio.get_running_loop(),
            tls_context=self._tls,
            # AUTH is offered only after STARTTLS: a password never crosses in clear.
            auth_require_tls=True,
            authenticator=self.handler.authenticate if self.settings.smtp_users else None,
        )

    async def start(self) -> None:
        # aiosmtpd logs every address and command at INFO: keep personal data out.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self._hostname = socket.gethostname()  # getfqdn() may wait on DNS
        if self.settings.smtp_tls_cert is not None and self.settings.smtp_tls_key is not None:
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            # A missing or unreadable certificate fails the start-up, loudly.
            self._tls.load_cert_chain(self.settings.smtp_tls_cert, self.settings.smtp_tls_key)
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
                relay_networks=",".join(self.settings.smtp_relay_networks),
                starttls=self._tls is not None,
                auth=bool(self.settings.smtp_users),
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
