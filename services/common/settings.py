"""Settings every service shares. Each service extends ``CommonSettings`` with its own.

Values come from the environment (prefix ``ANTENNA_``), never from code: secrets
have no defaults, and well-known placeholder secrets are rejected at start-up.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Secrets that appear in examples and tutorials; refusing them stops a copy-pasted config
# from reaching production.
PLACEHOLDER_SECRETS = frozenset(
    {"changeme", "changethis", "secret", "password", "test", "dev", "example", "xxx"}
)
MIN_SECRET_LENGTH = 16


def check_secret(value: SecretStr, what: str) -> SecretStr:
    raw = value.get_secret_value()
    if raw.strip().lower() in PLACEHOLDER_SECRETS:
        raise ValueError(f"{what} is a placeholder value; set a real secret")
    if len(raw) < MIN_SECRET_LENGTH:
        raise ValueError(f"{what} must be at least {MIN_SECRET_LENGTH} characters")
    return value


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
    # Tansu makes a joining consumer wait about half the session timeout: keep it short.
    kafka_session_timeout_s: float = Field(default=10.0, gt=1)
    # Tansu 0.6 advances a partition's high watermark by one per produced *batch*, so a
    # table's changelog looks shorter than it is and a restarted worker stops restoring
    # early. One record per batch (1 byte) avoids that; `antenna up` sets it for the
    # embedded broker. Keep Kafka's default against a real Kafka.
    kafka_producer_max_batch_bytes: int = Field(default=16384, ge=1)
    var_dir: Path = Path("var")
    log_level: str = "INFO"

    @property
    def bootstrap_list(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap_servers.split(",") if s.strip()]
