"""A TLS and SASL front for the embedded broker, so that Kafka security can be tested
with the real clients (kafka-python, aiokafka, Faust) on a machine without Apache Kafka.

Tansu 0.6 cannot do either itself: its `--cert` and `--key` options exclude each other
(and the TLS acceptor it builds is never used), and with `--authentication` it refuses
the ApiVersions request that every client sends before authenticating, offers no PLAIN,
and can only hold SCRAM users in storage that outlives a restart (not memory://).

So the front terminates TLS (optionally requiring a client certificate) and answers the
SASL exchange itself (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 after RFC 5802, with the
Kafka SaslHandshake/SaslAuthenticate framing), forwarding ApiVersions before and every
byte after a successful authentication to Tansu, which advertises the front's address.
A client that fails is disconnected, and the reason is kept in ``refusals``."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import ssl
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
UNSUPPORTED_SASL_MECHANISM, SASL_AUTHENTICATION_FAILED = 33, 58
SCRAM_HASHES: dict[str, Callable[..., hashlib._Hash]] = {
    "SCRAM-SHA-256": hashlib.sha256,
    "SCRAM-SHA-512": hashlib.sha512,
}
MECHANISMS = ("PLAIN", *SCRAM_HASHES)


class AuthFailed(Exception):
    pass


# ------------------------------------------------------------------ Kafka wire format


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    size = struct.unpack(">i", await reader.readexactly(4))[0]
    return await reader.readexactly(size)


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_uvarint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def skip_tagged_fields(data: bytes, at: int) -> int:
    count, at = read_uvarint(data, at)
    for _ in range(count):
        _, at = read_uvarint(data, at)  # tag
        size, at = read_uvarint(data, at)
        at += size
    return at


@dataclass(frozen=True)
class Request:
    api_key: int
    version: int
    correlation_id: int
    body: bytes  # after the header

    @classmethod
    def parse(cls, payload: bytes) -> Request:
        api_key, version, correlation_id = struct.unpack(">hhi", payload[:8])
        size = struct.unpack(">h", payload[8:10])[0]  # client_id: nullable string, always
        at = 10 + max(size, 0)
        if api_key == SASL_AUTHENTICATE and version >= 2:  # flexible: header v2
            at = skip_tagged_fields(payload, at)
        return cls(api_key, version, correlation_id, payload[at:])


def handshake_response(request: Request, error: int) -> bytes:
    mechanisms = b"".join(struct.pack(">h", len(m)) + m.encode() for m in MECHANISMS)
    body = struct.pack(">hi", error, len(MECHANISMS)) + mechanisms
    return frame(struct.pack(">i", request.correlation_id) + body)


def auth_token(request: Request) -> bytes:
    if request.version >= 2:
        size, at = read_uvarint(request.body, 0)
        return request.body[at : at + size - 1]
    size = struct.unpack(">i", request.body[:4])[0]
    return request.body[4 : 4 + size]


def authenticate_response(request: Request, error: int, message: str | None, token: bytes) -> bytes:
    text = message.encode() if message is not None else None
    if request.version >= 2:  # flexible: response header v1, compact fields
        header = struct.pack(">i", request.correlation_id) + uvarint(0)
        body = struct.pack(">h", error)
        body += uvarint(0) if text is None else uvarint(len(text) + 1) + text
        body += uvarint(len(token) + 1) + token + struct.pack(">q", 0) + uvarint(0)
        return frame(header + body)
    body = struct.pack(">h", error)
    body += struct.pack(">h", -1) if text is None else struct.pack(">h", len(text)) + text
    body += struct.pack(">i", len(token)) + token
    if request.version >= 1:
        body += struct.pack(">q", 0)  # session lifetime: none
    return frame(struct.pack(">i", request.correlation_id) + body)


# ------------------------------------------------------------------------- mechanisms


class Plain:
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.user: str | None = None

    def step(self, token: bytes) -> tuple[bytes, bool]:
        _authzid, user, password = token.decode().split("\0")
        if self.users.get(user) != password:
            raise AuthFailed(f"PLAIN: wrong user name or password for {user!r}")
        self.user = user
        return b"", True


class Scram:
    ITERATIONS = 4096

    def __init__(self, users: dict[str, str], mechanism: str) -> None:
        self.users, self.hash = users, SCRAM_HASHES[mechanism]
        self.name = mechanism
        self.user: str | None = None
        self._first: tuple[str, str, str, bytes, str] | None = None

    def _hmac(self, key: bytes, message: bytes) -> bytes:
        return hmac.new(key, message, self.hash).digest()

    def step(self, token: bytes) -> tuple[bytes, bool]:
        message = token.decode()
        if self._first is None:  # client-first: gs2 header, then "n=user,r=nonce"
            cbind, authzid, bare = message.split(",", 2)
            attrs = dict(part.split("=", 1) for part in bare.split(","))
            user = attrs["n"].replace("=2C", ",").replace("=3D", "=")
            salt, nonce = os.urandom(16), attrs["r"] + base64.b64encode(os.urandom(18)).decode()
            server_first = f"r={nonce},s={base64.b64encode(salt).decode()},i={self.ITERATIONS}"
            self._first = (f"{cbind},{authzid},", bare, user, salt, server_first)
            return server_first.encode(), False
        gs2, client_first_bare, user, salt, server_first = self._first
        without_proof, proof = message.rsplit(",p=", 1)
        attrs = dict(part.split("=", 1) for part in without_proof.split(","))
        password = self.users.get(user)
        if password is None or attrs["c"] != base64.b64encode(gs2.encode()).decode():
            raise AuthFailed(f"{self.name}: unknown user {user!r}")
        if not attrs["r"].startswith(dict(p.split("=", 1) for p in server_first.split(","))["r"]):
            raise AuthFailed(f"{self.name}: nonce mismatch")
        salted = hashlib.pbkdf2_hmac(self.hash().name, password.encode(), salt, self.ITERATIONS)
        client_key = self._hmac(salted, b"Client Key")
        stored_key = self.hash(client_key).digest()
        auth_message = f"{client_first_bare},{server_first},{without_proof}".encode()
        signature = self._hmac(stored_key, auth_message)
        claimed = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature, strict=True))
        if not hmac.compare_digest(self.hash(claimed).digest(), stored_key):
            raise AuthFailed(f"{self.name}: wrong password for {user!r}")
        self.user = user
        server_signature = self._hmac(self._hmac(salted, b"Server Key"), auth_message)
        return b"v=" + base64.b64encode(server_signature), True


# ----------------------------------------------------------------------------- front


@dataclass
class KafkaFront:
    """Listens on ``port``; forwards to the broker at ``backend`` (host, port).
    ``tls``: a server SSLContext, or None for no TLS. ``users``: name -> password,
    or None for no SASL."""

    backend: tuple[str, int]
    port: int
    tls: ssl.SSLContext | None = None
    users: dict[str, str] | None = None
    host: str = "127.0.0.1"
    authenticated: list[tuple[str, str]] = field(default_factory=list)  # (user, mechanism)
    refusals: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> KafkaFront:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, self.host, self.port, ssl=self.tls), self._loop
        ).result(10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            broker_r, broker_w = await asyncio.open_connection(*self.backend)
        except OSError as exc:
            self.refusals.append(f"backend: {exc}")
            client_w.close()
            return
        try:
            if self.users is not None:
                await self._authenticate(client_r, client_w, broker_r, broker_w)
            await asyncio.gather(self._pipe(client_r, broker_w), self._pipe(broker_r, client_w))
        except (AuthFailed, asyncio.IncompleteReadError, ConnectionError, ssl.SSLError) as exc:
            if isinstance(exc, AuthFailed):
                self.refusals.append(str(exc))
        finally:
            for writer in (client_w, broker_w):
                writer.close()

    async def _authenticate(
        self,
        client_r: asyncio.StreamReader,
        client_w: asyncio.StreamWriter,
        broker_r: asyncio.StreamReader,
        broker_w: asyncio.StreamWriter,
    ) -> None:
        assert self.users is not None
        mechanism: Plain | Scram | None = None
        while True:
            payload = await read_frame(client_r)
            request = Request.parse(payload)
            if request.api_key == API_VERSIONS:  # allowed before authentication, as Kafka
                broker_w.write(frame(payload))
                client_w.write(frame(await read_frame(broker_r)))
            elif request.api_key == SASL_HANDSHAKE:
                size = struct.unpack(">h", request.body[:2])[0]
                name = request.body[2 : 2 + size].decode()
                if name not in MECHANISMS:
                    client_w.write(handshake_response(request, UNSUPPORTED_SASL_MECHANISM))
                    await client_w.drain()
                    raise AuthFailed(f"mechanism {name} not offered")
                mechanism = Plain(self.users) if name == "PLAIN" else Scram(self.users, name)
                client_w.write(handshake_response(request, 0))
            elif request.api_key == SASL_AUTHENTICATE and mechanism is not None:
                try:
                    answer, done = mechanism.step(auth_token(request))
                except AuthFailed as exc:
                    client_w.write(
                        authenticate_response(request, SASL_AUTHENTICATION_FAILED, str(exc), b"")
                    )
                    await client_w.drain()
                    raise
                client_w.write(authenticate_response(request, 0, None, answer))
                if done:
                    assert mechanism.user is not None
                    name = "PLAIN" if isinstance(mechanism, Plain) else mechanism.name
                    self.authenticated.append((mechanism.user, name))
                    await client_w.drain()
                    return
            else:
                raise AuthFailed(f"request {request.api_key} before authentication")
            await client_w.drain()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


def server_tls(cert: str, key: str, client_ca: str | None = None) -> ssl.SSLContext:
    """A server-side context; with ``client_ca`` clients must show a certificate it signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context
