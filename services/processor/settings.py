from __future__ import annotations

from pydantic import Field

from services.common.settings import CommonSettings


class ProcessorSettings(CommonSettings):
    min_confidence: float = Field(default=0.6, ge=0, le=1)
    resubmission_window_days: float = Field(default=14, gt=0)
    processor_metrics_host: str = "127.0.0.1"
    processor_metrics_port: int = 9101
