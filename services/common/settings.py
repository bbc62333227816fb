"""Settings every service shares. Each service extends ``CommonSettings`` with its own.

Values come from the environment (prefix ``ANTENNA_``), never from code: secrets
have no defaults, and well-known placeholder secrets are rejected at start-up.
"""

from __future__ import annotations

import ssl
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import AliasChoices, Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Secrets that appear in examples and tutorials; refusing them stops a copy-pasted config
# from reaching production.
PLACEHOLDER_SECRETS = frozenset(
    {"changeme", "changethis", "secret", "password", "test", "dev", "example", "xxx"}
)
MIN_SECRET_LENGTH = 16
DAY_MS = 86_400_000


def check_secret(value: SecretStr, what: str) -> SecretStr:
    raw = value.get_secret_value()
    if raw.strip().lower() in PLACEHOLDER_SECRETS:
        raise ValueError(f"{what} is a placeholder value; set a real secret")
    if len(raw) < MIN_SECRET_LENGTH:
        raise ValueError(f"{what} must be at least {MIN_SECRET_LENGTH} characters")
    return value


class KafkaSecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class KafkaSaslMechanism(StrEnum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


_TLS_PROTOCOLS = frozenset({KafkaSecurityProtocol.SSL, KafkaSecurityProtocol.SASL_SSL})
_SASL_PROTOCOLS = frozenset({KafkaSecurityProtocol.SASL_PLAINTEXT, KafkaSecurityProtocol.SASL_SSL})
_TLS_FIELDS = (
    "kafka_ssl_cafile",
    "kafka_ssl_certfile",
    "kafka_ssl_keyfile",
    "kafka_ssl_key_password",
)
_SASL_FIELDS = ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password")


def _env_name(field: str) -> str:
    return f"ANTENNA_{field.upper()}"


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ANTENNA_", env_nested_delimiter="__", extra="ignore"
    )

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "ANTENNA_KAFKA_BOOTSTRAP_SERVERS"),
        description="Comma-separated host:port list. `antenna up` sets it to its embedded broker.",
    )
    topic_partitions: int = Field(default=3, ge=1)
    # Every topic Antenna creates (its own and Faust's changelogs) gets this many copies.
    # The defaults suit a cluster of three or more brokers; `antenna up` and the tests
    # set 1 for the embedded broker, which is a single node.
    kafka_replication_factor: int = Field(default=3, ge=1)
    # Unset: 2, or 1 when the replication factor is below 3 (see min_insync_replicas).
    kafka_min_insync_replicas: int | None = Field(default=None, ge=1)
    # How long signals.dlq keeps a parked message: the time an operator has to replay it.
    dlq_retention_days: float = Field(default=30.0, gt=0)
    # How every client reaches the brokers. SSL/SASL_SSL use TLS (ssl_* below); SASL_*
    # authenticate with a user name and password (sasl_* below).
    kafka_security_protocol: KafkaSecurityProtocol = KafkaSecurityProtocol.PLAINTEXT
    kafka_ssl_cafile: FilePath | None = None  # unset: the system's trusted CAs
    kafka_ssl_certfile: FilePath | None = None  # a client certificate (mutual TLS)
    kafka_ssl_keyfile: FilePath | None = None  # its key, unless the certfile holds it
    kafka_ssl_key_password: SecretStr | None = None
    kafka_ssl_check_hostname: bool = True
    kafka_sasl_mechanism: KafkaSaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # Tansu makes a joining consumer wait about half the session timeout: keep it short.
    kafka_session_timeout_s: float = Field(default=10.0, gt=1)
    # The largest batch of records the stream workers' producer sends per partition.
    kafka_producer_max_batch_bytes: int = Field(default=16384, ge=1)
    # The largest request the stream workers' producer sends; match the broker's
    # message.max.bytes. A record larger than this stops the worker (stop_worker).
    kafka_max_request_bytes: int = Field(default=1_048_576, ge=1024)
    # Tansu 0.6 answers "where does this partition end?" (ListOffsets) with the first
    # offset of its last batch plus one: a changelog whose last batch holds several records
    # looks shorter than it is, and a restarted worker would stop restoring its table
    # early. With this set, a table's recovery reads each changelog's true end from a
    # fetch instead (its high watermark), and changelogs batch like every other topic;
    # `antenna up` and the tests set it for the embedded broker. Kafka needs none.
    kafka_listed_ends_per_batch: bool = False
    # How long a fetch may wait at the broker for data (ms); unset: each client's default
    # (Faust 1500, kafka-python 500). Kafka answers as soon as data arrives; Tansu waits
    # the whole time, on every hop, so `antenna up` and the tests set a short one for it.
    kafka_fetch_max_wait_ms: int | None = Field(default=None, ge=0)
    var_dir: Path = Path("var")
    log_level: str = "INFO"

    @field_validator(
        *_TLS_FIELDS,
        *_SASL_FIELDS,
        "kafka_min_insync_replicas",
        "kafka_fetch_max_wait_ms",
        mode="before",
    )
    @classmethod
    def _empty_kafka_setting_is_unset(cls, value: object) -> object:
        # `FOO=` in an env file or compose means "not configured". (Named apart from the
        # services' own `_empty_is_unset`, which would otherwise replace this one.)
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("kafka_sasl_password")
    @classmethod
    def _real_password(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None else check_secret(value, "ANTENNA_KAFKA_SASL_PASSWORD")

    @model_validator(mode="after")
    def _consistent_kafka_security(self) -> Self:
        protocol = self.kafka_security_protocol
        for fields, needs in ((_TLS_FIELDS, _TLS_PROTOCOLS), (_SASL_FIELDS, _SASL_PROTOCOLS)):
            stray = [_env_name(f) for f in fields if getattr(self, f) is not None]
            if stray and protocol not in needs:
                # Refused rather than ignored: a half-applied config would send customer
                # data in the clear while the operator believes it is protected.
                raise ValueError(
                    f"{', '.join(stray)} set, but ANTENNA_KAFKA_SECURITY_PROTOCOL={protocol} "
                    f"does not use them (use {' or '.join(sorted(needs))})"
                )
        if protocol in _SASL_PROTOCOLS:
            missing = [_env_name(f) for f in _SASL_FIELDS if getattr(self, f) is None]
            if missing:
                raise ValueError(f"{protocol} needs {', '.join(missing)}")
        if self.kafka_ssl_keyfile is not None and self.kafka_ssl_certfile is None:
            raise ValueError("ANTENNA_KAFKA_SSL_KEYFILE needs ANTENNA_KAFKA_SSL_CERTFILE")
        if self.kafka_ssl_key_password is not None and self.kafka_ssl_certfile is None:
            raise ValueError("ANTENNA_KAFKA_SSL_KEY_PASSWORD needs ANTENNA_KAFKA_SSL_CERTFILE")
        if self.min_insync_replicas > self.kafka_replication_factor:
            raise ValueError(
                f"ANTENNA_KAFKA_MIN_INSYNC_REPLICAS={self.min_insync_replicas} is more than "
                f"ANTENNA_KAFKA_REPLICATION_FACTOR={self.kafka_replication_factor}: "
                "no write could ever succeed"
            )
        self.kafka_ssl_context()  # unreadable certificates fail at start-up, not on first use
        return self

    @property
    def bootstrap_list(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap_servers.split(",") if s.strip()]

    @property
    def min_insync_replicas(self) -> int:
        """How many copies must hold a write before acks=all succeeds: 2 by default, so
        that one broker may be down; 1 where fewer than 3 copies leave no such margin."""
        if self.kafka_min_insync_replicas is not None:
            return self.kafka_min_insync_replicas
        return min(2, max(1, self.kafka_replication_factor - 1))

    @property
    def dlq_retention_ms(self) -> int:
        return int(self.dlq_retention_days * DAY_MS)

    def kafka_ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context every client uses (kafka-python, aiokafka, Faust), or None
        without TLS. Verifies the brokers' certificates and, by default, their names."""
        if self.kafka_security_protocol not in _TLS_PROTOCOLS:
            return None
        cafile = self.kafka_ssl_cafile
        try:
            context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
            context.check_hostname = self.kafka_ssl_check_hostname
            if self.kafka_ssl_certfile is not None:
                password = self.kafka_ssl_key_password
                context.load_cert_chain(
                    str(self.kafka_ssl_certfile),
                    str(self.kafka_ssl_keyfile) if self.kafka_ssl_keyfile else None,
                    password.get_secret_value() if password else None,
                )
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"cannot load the Kafka TLS files: {exc}") from None
        return context

    def kafka_client_options(self) -> dict[str, Any]:
        """Keyword options for every kafka-python client (KafkaProducer, KafkaConsumer,
        KafkaAdminClient): ``KafkaConsumer(bootstrap_servers=..., **options, ...)``.
        Faust and aiokafka take the same settings from faust_app.broker_credentials."""
        options: dict[str, Any] = {"security_protocol": self.kafka_security_protocol.value}
        context = self.kafka_ssl_context()
        if context is not None:
            options["ssl_context"] = context
        if self.kafka_security_protocol in _SASL_PROTOCOLS:
            assert self.kafka_sasl_mechanism is not None and self.kafka_sasl_password is not None
            options["sasl_mechanism"] = self.kafka_sasl_mechanism.value
            options["sasl_plain_username"] = self.kafka_sasl_username
            options["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        return options
