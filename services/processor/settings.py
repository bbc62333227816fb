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
    processor_metrics_host: str = "127.0.0.1"
    processor_metrics_port: int = 9101
