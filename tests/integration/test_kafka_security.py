"""Kafka TLS and SASL with the real clients: kafka-python (ingest, CLI, admin), aiokafka
as Faust configures it, and the three services end to end. Each mode runs its own
embedded broker behind a TLS/SASL front (tests/support/kafka_front.py says why a front),
with certificates made for the test."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiokafka.errors
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from ulid import ULID

from services.common.broker import EmbeddedBroker, free_port
from services.common.faust_app import broker_credentials
from services.common.kafka import ensure_topics
from services.common.settings import CommonSettings
from tests.support.kafka import broker_settings
from tests.support.kafka_front import KafkaFront, server_tls
from tests.support.services import Services, service_env
from tests.support.tls import TlsFiles, make_tls_files

USER, PASSWORD = "antenna", "sasl-front-password-0123"
TOPIC = "security.round-trip"


@dataclass(frozen=True)
class Mode:
    protocol: str
    mechanism: str | None = None
    client_certificate: bool = False  # the front requires one: mutual TLS

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def __str__(self) -> str:
        parts = [self.protocol, self.mechanism or "", "mtls" if self.client_certificate else ""]
        return "-".join(p for p in parts if p)


MODES = [
    Mode("SSL", client_certificate=True),
    Mode("SASL_PLAINTEXT", "PLAIN"),
    Mode("SASL_PLAINTEXT", "SCRAM-SHA-256"),
    Mode("SASL_SSL", "SCRAM-SHA-512"),
    Mode("SASL_SSL", "PLAIN", client_certificate=True),
]


@dataclass
class Secured:
    front: KafkaFront
    tls: TlsFiles

    def settings(self, mode: Mode, **overrides: Any) -> CommonSettings:
        """What an operator would configure for this mode."""
        env: dict[str, Any] = {"kafka_security_protocol": mode.protocol}
        if mode.tls:
            env["kafka_ssl_cafile"] = str(self.tls.ca)
        if mode.client_certificate:
            env["kafka_ssl_certfile"] = str(self.tls.client_cert)
            env["kafka_ssl_keyfile"] = str(self.tls.client_key)
        if mode.mechanism:
            env.update(
                kafka_sasl_mechanism=mode.mechanism,
                kafka_sasl_username=USER,
                kafka_sasl_password=PASSWORD,
            )
        return broker_settings(self.front.bootstrap, **{**env, **overrides})

    def env(self, mode: Mode) -> dict[str, str]:
        """The same, as the services read it from their environment."""
        s = self.settings(mode)
        fields = [f for f in type(s).model_fields if f.startswith(("kafka_ssl", "kafka_sasl"))]
        env = {"ANTENNA_KAFKA_SECURITY_PROTOCOL": mode.protocol}
        for name in fields:
            value = getattr(s, name)
            if value is not None and name != "kafka_ssl_check_hostname":
                secret = getattr(value, "get_secret_value", None)
                env[f"ANTENNA_{name.upper()}"] = str(secret() if secret else value)
        return env


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def secured(tls: TlsFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """secured(mode): a broker behind a front that speaks that mode (one per mode)."""
    started: dict[str, Secured] = {}
    logs = tmp_path_factory.mktemp("secured-brokers")
    with ExitStack() as stack:

        def get(mode: Mode) -> Secured:
            if str(mode) not in started:
                broker_port = free_port()
                context = None
                if mode.tls:
                    client_ca = str(tls.ca) if mode.client_certificate else None
                    context = server_tls(str(tls.server_cert), str(tls.server_key), client_ca)
                front = KafkaFront(
                    ("127.0.0.1", broker_port),
                    free_port(),
                    tls=context,
                    users={USER: PASSWORD} if mode.mechanism else None,
                ).start()
                stack.callback(front.stop)
                broker = EmbeddedBroker(
                    logs / f"{mode}.log", port=broker_port, advertised=front.bootstrap
                )
                broker.start()
                stack.callback(broker.stop)
                started[str(mode)] = Secured(front, tls)
            return started[str(mode)]

        yield get


def kafka_python_round_trip(settings: CommonSettings, value: bytes) -> list[bytes]:
    options = settings.kafka_client_options()
    bootstrap = settings.bootstrap_list
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **options)
    try:
        producer.send(TOPIC, value=value).get(timeout=10)
    finally:
        producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **options)
    try:
        partitions = [TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC)]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                if found := [r.value for r in records if r.value == value]:
                    return found
        return []
    finally:
        consumer.close()


async def aiokafka_round_trip(settings: CommonSettings, value: bytes) -> bytes:
    """Produce and consume with aiokafka, configured exactly as Faust configures it."""
    auth = dict(credentials_to_aiokafka_auth(broker_credentials(settings)))
    bootstrap = settings.bootstrap_list
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **auth)
    try:
        await producer.start()
        await producer.send_and_wait(TOPIC, value)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", **auth
    )
    await consumer.start()
    try:
        async with asyncio.timeout(20):
            while (record := await consumer.getone()).value != value:
                pass
        return bytes(record.value)
    finally:
        await consumer.stop()


@pytest.mark.parametrize("mode", MODES, ids=str)
def test_kafka_python_clients_round_trip(secured: Any, mode: Mode) -> None:
    """Admin (ensure_topics), producer and consumer, as ingest and the CLI build them."""
    front = secured(mode).front
    settings = secured(mode).settings(mode)
    ensure_topics(settings, [TOPIC])
    value = f"kafka-python {mode} {ULID()}".encode()
    before, refused = len(front.authenticated), len(front.refusals)
    assert kafka_python_round_trip(settings, value) == [value]
    if mode.mechanism:  # it authenticated, with the mechanism configured
        assert set(front.authenticated[before:]) == {(USER, mode.mechanism)}
    assert front.refusals[refused:] == []


@pytest.mark.parametrize("mode", MODES, ids=str)
def test_aiokafka_round_trip_with_fausts_credentials(secured: Any, mode: Mode) -> None:
    front = secured(mode).front
    settings = secured(mode).settings(mode)
    ensure_topics(settings, [TOPIC])
    value = f"aiokafka {mode} {ULID()}".encode()
    before, refused = len(front.authenticated), len(front.refusals)
    assert asyncio.run(aiokafka_round_trip(settings, value)) == value
    if mode.mechanism:
        assert set(front.authenticated[before:]) == {(USER, mode.mechanism)}
    assert front.refusals[refused:] == []


WRONG = [
    pytest.param(
        Mode("SASL_SSL", "SCRAM-SHA-512"),
        {"kafka_sasl_password": "not-the-password-0123"},
        "SCRAM-SHA-512: wrong password",
        id="wrong-scram-password",
    ),
    pytest.param(
        Mode("SASL_PLAINTEXT", "PLAIN"),
        {"kafka_sasl_username": "somebody-else"},
        "PLAIN: wrong user name or password",
        id="wrong-plain-user",
    ),
    pytest.param(
        Mode("SSL", client_certificate=True),
        {"kafka_ssl_certfile": None, "kafka_ssl_keyfile": None},
        None,
        id="no-client-certificate",
    ),
    pytest.param(
        Mode("SASL_SSL", "SCRAM-SHA-512"),
        {"kafka_ssl_cafile": "{other_ca}"},
        None,
        id="broker-certificate-from-another-ca",
    ),
]


@pytest.mark.parametrize(("mode", "change", "refusal"), WRONG)
def test_wrong_credentials_are_refused_by_both_client_libraries(
    secured: Any,
    mode: Mode,
    change: dict[str, Any],
    refusal: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    target = secured(mode)
    change = {k: v.format(other_ca=target.tls.other_ca) if v else v for k, v in change.items()}
    settings = target.settings(mode, **change)
    before, refused = len(target.front.authenticated), len(target.front.refusals)
    with caplog.at_level(logging.ERROR), pytest.raises(KafkaError):
        KafkaProducer(
            bootstrap_servers=settings.bootstrap_list,
            bootstrap_timeout_ms=2000,
            **settings.kafka_client_options(),
        )
    with pytest.raises(aiokafka.errors.KafkaError):
        asyncio.run(aiokafka_round_trip(settings, b"never"))
    assert len(target.front.authenticated) == before
    if refusal:
        assert any(refusal in r for r in target.front.refusals[refused:])
        assert "SaslAuthenticationFailed" in caplog.text  # what the service log would say


def test_the_services_deliver_over_sasl_ssl(
    secured: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Ingest (kafka-python producer and status follower), processor and connectors
    (Faust) all reach the broker over SASL_SSL with SCRAM-SHA-512; a signal gets through."""
    mode = Mode("SASL_SSL", "SCRAM-SHA-512")
    target = secured(mode)
    ensure_topics(target.settings(mode))
    before = len(target.front.authenticated)
    services = Services(service_env(target.front.bootstrap, tmp_path, target.env(mode)), tmp_path)
    request.addfinalizer(services.stop)
    services.start("ingest", "processor", "connectors")
    posted = services.post(
        {
            "text": f"Her bank card was declined three times and she is fed up [{ULID()}]",
            "reporter": {"employee_id": "e-7"},
        }
    )
    assert posted.status_code == 202, posted.text
    signal_id = posted.json()["signal_id"]
    outbox = tmp_path / "outbox" / "servicedesk.jsonl"
    status_url = f"{services.api}/v1/signals/{signal_id}"
    headers = {"Authorization": f"Bearer {services.env['ANTENNA_API_KEYS']}"}
    deadline = time.monotonic() + 60
    while not (outbox.exists() and signal_id in outbox.read_text()):
        assert time.monotonic() < deadline, f"{signal_id} not delivered over SASL_SSL"
        time.sleep(0.2)
    # Ingest's status follower reads the topics over the same protocol.
    while httpx.get(status_url, headers=headers, timeout=10).json().get("state") != "delivered":
        assert time.monotonic() < deadline, "the status follower did not see the delivery"
        time.sleep(0.2)
    assert {m for _, m in target.front.authenticated[before:]} == {"SCRAM-SHA-512"}
