from __future__ import annotations

from pydantic import Field

from services.common.settings import CommonSettings


class InsightSettings(CommonSettings):
    # Weeks the insight page covers (this one included); older reports are forgotten.
    insight_horizon_weeks: int = Field(default=26, ge=1, le=520)
    # How often a changed summary is published to insight.summary (at most).
    insight_publish_interval_s: float = Field(default=30.0, gt=0)
    # Hard caps on the tables, whatever the horizon: the oldest entries go first. About
    # 230 bytes a report and 210 a case in memory: key, table entry and one short string
    # (services/insight/tally.py); the summary keeps no copy of them.
    insight_max_reports: int = Field(default=100_000, ge=1)
    insight_max_cases: int = Field(default=50_000, ge=1)
    insight_metrics_host: str = "127.0.0.1"
    insight_metrics_port: int = 9104
