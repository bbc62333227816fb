from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.common.settings import CommonSettings


class ProcessorSettings(CommonSettings):
    # None: the built-in rules (complaints -> servicedesk, opportunities -> crm, rest -> triage)
    routing_rules: Path | None = None
    rules_reload_interval_s: float = Field(default=2.0, gt=0)
    dedupe_window_days: float = Field(default=14, gt=0)
    resend_window_minutes: float = Field(default=10, gt=0)
    # Reports remembered per phone, e-mail, surname, colleague or text: the most recent ones.
    dedupe_index_cap: int = Field(default=20, ge=1, le=1000)
    # Phone numbers written without a country code are read as this region's (ISO 3166).
    dedupe_phone_region: str = Field(default="NL", pattern=r"^[A-Z]{2}$")
    # The largest request the processor's producer sends; match the broker's
    # message.max.bytes. A routed event larger than this stops the judge stage.
    kafka_max_request_bytes: int = Field(default=1_048_576, ge=1024)
    # Tests only: a crash point the worker kills itself at, once (services.common.crash_points).
    test_crash_at: str | None = None
    processor_metrics_host: str = "127.0.0.1"
    processor_metrics_port: int = 9101
