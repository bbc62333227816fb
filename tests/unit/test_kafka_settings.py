"""Kafka security and durability settings, and what each client library is given."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka.errors import TopicAuthorizationFailedError
from pydantic import ValidationError

from schemas import topics
from services.common.faust_app import acked_table, broker_credentials, make_faust_app
from services.common.kafka import align_retention, topic_config
from services.common.settings import CommonSettings
from services.ingest.settings import IngestSettings
from services.notifier.settings import NotifierSettings
from tests.support.tls import KEY_PASSWORD, TlsFiles, make_tls_files

PASSWORD = "sasl-password-0123456789"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> CommonSettings:
    """CommonSettings as a service reads them: from ANTENNA_* variables."""
    for name, value in env.items():
        monkeypatch.setenv(f"ANTENNA_{name.upper()}", value)
    return CommonSettings()


def aiokafka_options(s: CommonSettings) -> dict[str, Any]:
    """What Faust hands its aiokafka producer, consumers and admin requests."""
    return dict(credentials_to_aiokafka_auth(broker_credentials(s)))


def ca_names(context: ssl.SSLContext) -> list[str]:
    return [
        dict(x[0] for x in ca["subject"]).get("commonName", "") for ca in context.get_ca_certs()
    ]


def test_plaintext_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch)
    assert s.kafka_client_options() == {"security_protocol": "PLAINTEXT"}
    assert broker_credentials(s) is None
    assert aiokafka_options(s) == {"security_protocol": "PLAINTEXT"}


def test_tls_verifies_the_brokers_with_the_configured_ca(
    monkeypatch: pytest.MonkeyPatch, tls: TlsFiles
) -> None:
    s = settings(monkeypatch, kafka_security_protocol="SSL", kafka_ssl_cafile=str(tls.ca))
    options = s.kafka_client_options()
    assert set(options) == {"security_protocol", "ssl_context"}
    assert options["security_protocol"] == "SSL"
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert ca_names(context) == ["antenna-test-ca"]  # this CA only, not the system's

    credentials = broker_credentials(s)
    assert isinstance(credentials, faust.SSLCredentials)
    aio = aiokafka_options(s)
    assert aio["security_protocol"] == "SSL"
    assert ca_names(aio["ssl_context"]) == ["antenna-test-ca"]
    assert aio["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_tls_without_a_ca_trusts_the_system_cas(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch, kafka_security_protocol="SSL", kafka_ssl_check_hostname="false")
    context = s.kafka_client_options()["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED  # never "trust anything"
    assert context.check_hostname is False
    assert "antenna-test-ca" not in ca_names(context)


@pytest.mark.parametrize("encrypted", [False, True])
def test_mutual_tls_loads_the_client_certificate(
    monkeypatch: pytest.MonkeyPatch, tls: TlsFiles, encrypted: bool
) -> None:
    env = {
        "kafka_security_protocol": "SSL",
        "kafka_ssl_cafile": str(tls.ca),
        "kafka_ssl_certfile": str(tls.client_cert),
        "kafka_ssl_keyfile": str(tls.client_key_encrypted if encrypted else tls.client_key),
    }
    if encrypted:
        env["kafka_ssl_key_password"] = KEY_PASSWORD
    s = settings(monkeypatch, **env)
    assert s.kafka_ssl_key_password is None or KEY_PASSWORD not in repr(s)
    assert isinstance(s.kafka_client_options()["ssl_context"], ssl.SSLContext)


def test_a_wrong_key_password_fails_at_start_up(
    monkeypatch: pytest.MonkeyPatch, tls: TlsFiles
) -> None:
    with pytest.raises(ValidationError, match="cannot load the Kafka TLS files"):
        settings(
            monkeypatch,
            kafka_security_protocol="SSL",
            kafka_ssl_certfile=str(tls.client_cert),
            kafka_ssl_keyfile=str(tls.client_key_encrypted),
            kafka_ssl_key_password="not-the-password-0123",
        )


def test_a_missing_ca_file_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="kafka_ssl_cafile"):
        settings(monkeypatch, kafka_security_protocol="SSL", kafka_ssl_cafile="/nowhere/ca.pem")


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_over_plaintext(monkeypatch: pytest.MonkeyPatch, mechanism: str) -> None:
    s = settings(
        monkeypatch,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="antenna",
        kafka_sasl_password=PASSWORD,
    )
    assert s.kafka_client_options() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "antenna",
        "sasl_plain_password": PASSWORD,
    }
    assert PASSWORD not in repr(s)
    credentials = broker_credentials(s)
    assert isinstance(credentials, faust.SASLCredentials)
    assert aiokafka_options(s) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "antenna",
        "sasl_plain_password": PASSWORD,
        "ssl_context": None,
    }


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_over_tls(monkeypatch: pytest.MonkeyPatch, tls: TlsFiles, mechanism: str) -> None:
    s = settings(
        monkeypatch,
        kafka_security_protocol="SASL_SSL",
        kafka_ssl_cafile=str(tls.ca),
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="antenna",
        kafka_sasl_password=PASSWORD,
    )
    options = s.kafka_client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert (options["sasl_mechanism"], options["sasl_plain_password"]) == (mechanism, PASSWORD)
    assert ca_names(options["ssl_context"]) == ["antenna-test-ca"]
    aio = aiokafka_options(s)
    assert aio["security_protocol"] == "SASL_SSL"
    assert (aio["sasl_mechanism"], aio["sasl_plain_username"]) == (mechanism, "antenna")
    assert aio["sasl_plain_password"] == PASSWORD
    assert ca_names(aio["ssl_context"]) == ["antenna-test-ca"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"kafka_ssl_cafile": "{ca}"},
            "ANTENNA_KAFKA_SSL_CAFILE set, but ANTENNA_KAFKA_SECURITY_PROTOCOL=PLAINTEXT",
        ),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_ssl_cafile": "{ca}"},
            "does not use them",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_sasl_username": "antenna"},
            "ANTENNA_KAFKA_SASL_USERNAME set, but ANTENNA_KAFKA_SECURITY_PROTOCOL=SSL",
        ),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-256"},
            "SASL_SSL needs ANTENNA_KAFKA_SASL_USERNAME, ANTENNA_KAFKA_SASL_PASSWORD",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "{key}"},
            "ANTENNA_KAFKA_SSL_KEYFILE needs ANTENNA_KAFKA_SSL_CERTFILE",
        ),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "GSSAPI"},
            "kafka_sasl_mechanism",
        ),
        ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
        (
            {
                "kafka_security_protocol": "SASL_PLAINTEXT",
                "kafka_sasl_mechanism": "PLAIN",
                "kafka_sasl_username": "antenna",
                "kafka_sasl_password": "changeme",
            },
            "placeholder",
        ),
        (
            {
                "kafka_security_protocol": "SASL_PLAINTEXT",
                "kafka_sasl_mechanism": "PLAIN",
                "kafka_sasl_username": "antenna",
                "kafka_sasl_password": "short-pw",
            },
            "at least 16 characters",
        ),
    ],
)
def test_inconsistent_security_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, tls: TlsFiles, env: dict[str, str], message: str
) -> None:
    env = {k: v.format(ca=tls.ca, key=tls.client_key) for k, v in env.items()}
    with pytest.raises(ValidationError, match=message):
        settings(monkeypatch, **env)


def test_empty_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """As docker-compose passes `${ANTENNA_KAFKA_SSL_CAFILE:-}` when it is not set."""
    s = settings(
        monkeypatch,
        kafka_ssl_cafile="",
        kafka_sasl_mechanism="",
        kafka_sasl_password="",
        kafka_min_insync_replicas="",
    )
    assert s.kafka_client_options() == {"security_protocol": "PLAINTEXT"}
    assert s.min_insync_replicas == 2


@pytest.mark.parametrize("service", [IngestSettings, NotifierSettings])
def test_empty_kafka_values_mean_unset_in_every_service(
    monkeypatch: pytest.MonkeyPatch, service: type[CommonSettings]
) -> None:
    """The services' own `_empty_is_unset` validators must not replace the Kafka one."""
    monkeypatch.setenv("ANTENNA_API_KEYS", "empty-values-api-key-0123456789")
    for name in ("KAFKA_SSL_CAFILE", "KAFKA_MIN_INSYNC_REPLICAS", "KAFKA_FETCH_MAX_WAIT_MS"):
        monkeypatch.setenv(f"ANTENNA_{name}", "")
    s = service()
    assert (s.kafka_ssl_cafile, s.kafka_min_insync_replicas, s.kafka_fetch_max_wait_ms) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("replication", "min_insync", "expected"),
    [(None, None, (3, 2)), ("1", None, (1, 1)), ("2", None, (2, 1)), ("5", None, (5, 2)),
     ("3", "3", (3, 3)), ("1", "1", (1, 1))],
)  # fmt: skip
def test_replication_defaults_suit_a_cluster_of_three(
    monkeypatch: pytest.MonkeyPatch,
    replication: str | None,
    min_insync: str | None,
    expected: tuple[int, int],
) -> None:
    env = {"kafka_replication_factor": replication, "kafka_min_insync_replicas": min_insync}
    s = settings(monkeypatch, **{k: v for k, v in env.items() if v is not None})
    assert (s.kafka_replication_factor, s.min_insync_replicas) == expected


def test_more_insync_replicas_than_copies_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="no write could ever succeed"):
        settings(monkeypatch, kafka_replication_factor="1", kafka_min_insync_replicas="2")


def test_topics_are_created_with_min_insync_replicas_and_the_dlq_with_its_retention(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = settings(monkeypatch)
    assert topic_config(s, topics.RAW) == {"min.insync.replicas": "2"}
    assert topic_config(s, topics.DLQ) == {
        "min.insync.replicas": "2",
        "retention.ms": str(30 * 24 * 3600 * 1000),
    }
    s = settings(monkeypatch, dlq_retention_days="7", kafka_replication_factor="1")
    assert topic_config(s, topics.DLQ) == {"min.insync.replicas": "1", "retention.ms": "604800000"}


def test_faust_gets_the_replication_and_the_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    s = settings(
        monkeypatch,
        var_dir=str(tmp_path),
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="antenna",
        kafka_sasl_password=PASSWORD,
    )
    app = make_faust_app("settings-test", s)
    assert app.conf.topic_replication_factor == 3
    assert isinstance(app.conf.broker_credentials, faust.SASLCredentials)
    table = acked_table(app, "memory", partitions=1)
    assert table.changelog_topic.config == {"min.insync.replicas": "2"}
    assert table.changelog_topic.replicas in (None, 3)  # None: the app's replication factor


class FakeAdmin:
    """Answers describe_configs in kafka-python's shape; records alter_configs. The real
    round trip needs a broker that keeps topic configs, which Tansu does not."""

    def __init__(self, reported: str | None, refuse: bool = False) -> None:
        self.reported, self.refuse = reported, refuse
        self.altered: list[dict[str, Any]] = []

    def describe_configs(self, resources: list[Any], config_filter: str) -> dict[str, Any]:
        configs = {} if self.reported is None else {"retention.ms": {"value": self.reported}}
        return {"topic": {resources[0].name: configs}}

    def alter_configs(self, resources: list[Any]) -> None:
        if self.refuse:
            raise TopicAuthorizationFailedError("no AlterConfigs permission")
        self.altered.append(resources[0].configs)


@pytest.mark.parametrize(
    ("reported", "altered"),
    [
        ("604800000", [{"retention.ms": 2_592_000_000}]),  # 7 days, from before the setting
        ("2592000000", []),
        (None, []),  # a broker that reports no configs (Tansu)
    ],
)
def test_an_existing_dlq_gets_the_configured_retention(
    reported: str | None, altered: list[dict[str, Any]]
) -> None:
    admin = FakeAdmin(reported)
    align_retention(admin, topics.DLQ, 2_592_000_000)  # type: ignore[arg-type]
    assert admin.altered == altered


def test_a_refused_retention_change_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    align_retention(FakeAdmin("604800000", refuse=True), topics.DLQ, 1000)  # type: ignore[arg-type]
    assert "could not check or set retention.ms=1000" in caplog.text
