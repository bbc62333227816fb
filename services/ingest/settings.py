from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from services.common.settings import CommonSettings, check_secret


class IngestSettings(CommonSettings):
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Comma-separated. `antenna up` generates a development key when none is set.
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(min_length=1)
    max_body_bytes: int = Field(default=1_000_000, gt=0)
    publish_timeout_s: float = Field(default=10.0, gt=0)
    idempotency_cache_size: int = Field(default=100_000, ge=0)
    idempotency_ttl_s: float = Field(default=24 * 3600, gt=0)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("api_keys")
    @classmethod
    def _real_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        return [check_secret(key, "API key") for key in keys]
