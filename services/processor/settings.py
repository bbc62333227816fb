from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from services.common.settings import CommonSettings
from services.processor.domain.incidents import IncidentPolicy


class ProcessorSettings(CommonSettings):
    # None: the built-in rules (complaints -> servicedesk, opportunities -> crm, rest -> triage)
    routing_rules: Path | None = None
    rules_reload_interval_s: float = Field(default=2.0, gt=0)
    # How often the processor and its classify workers look for a newly activated model file.
    model_reload_interval_s: float = Field(default=10.0, gt=0)
    dedupe_window_days: float = Field(default=14, gt=0)
    resend_window_minutes: float = Field(default=10, gt=0)
    # Reports remembered per phone, e-mail, surname+initial or text: the most recent ones.
    dedupe_index_cap: int = Field(default=20, ge=1, le=1000)
    # Reports remembered at most (the most recent): bounds the processor's memory.
    dedupe_max_reports: int = Field(default=10_000, ge=100)
    # Phone numbers written without a country code are read as this region's (ISO 3166).
    dedupe_phone_region: str = Field(default="NL", pattern=r"^[A-Z]{2}$")
    # Tests only: a crash point the worker kills itself at, once (services.common.crash_points).
    test_crash_at: str | None = None
    # Classification runs in worker processes; a message that takes longer than the budget
    # is parked on signals.dlq and the partition goes on (seconds; a signal takes ~5 ms).
    classify_budget_s: float = Field(default=5.0, gt=0)
    # Signals classified at once, each in its own worker. 1 keeps each partition's order;
    # more replicas of the processor scale out without giving it up.
    classify_workers: int = Field(default=1, ge=1)
    processor_metrics_host: str = "127.0.0.1"
    processor_metrics_port: int = 9101
    # Incidents (services/processor/domain/incidents.py): this many alike complaints of one
    # category, about this many customers, from this many employees, within the window.
    incidents_enabled: bool = True
    incident_window_minutes: float = Field(default=60, gt=0)
    incident_min_reports: int = Field(default=5, ge=2)
    incident_min_customers: int = Field(default=4, ge=1)
    incident_min_employees: int = Field(default=3, ge=1)
    incident_quiet_minutes: float = Field(default=120, gt=0)
    incident_by_place: bool = False
    incident_place_key: str = Field(default="place", min_length=1)
    # How often the processor checks for incidents that have gone quiet.
    incident_clock_interval_s: float = Field(default=60, gt=0)

    @model_validator(mode="after")
    def _valid_incident_policy(self) -> Self:
        self.incident_policy()  # raises ValueError naming the setting that does not fit
        return self

    def incident_policy(self) -> IncidentPolicy:
        return IncidentPolicy(
            window=timedelta(minutes=self.incident_window_minutes),
            min_reports=self.incident_min_reports,
            min_customers=self.incident_min_customers,
            min_employees=self.incident_min_employees,
            quiet=timedelta(minutes=self.incident_quiet_minutes),
            by_place=self.incident_by_place,
            place_key=self.incident_place_key,
        )
