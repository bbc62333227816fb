"""Antenna's contracts: the models on every topic. Versioned by ``schema_version``."""

from schemas.classification import Category, Classification, Kind, Urgency
from schemas.dead_letter import DeadLetter
from schemas.delivery import DeliveryResult, DeliveryStatus
from schemas.incident import INCIDENT_SOURCE, Incident, IncidentReport, IncidentStatus
from schemas.insight import InsightSnapshot
from schemas.label import CaseCorrection, Label, LabelSource, Verdict
from schemas.outcome import Outcome, OutcomeStatus
from schemas.preference import NotificationPreference
from schemas.record_change import RecordChange
from schemas.routing import Dedupe, Destination, RoutedSignal
from schemas.signal import (
    SCHEMA_VERSION,
    Attachment,
    CallbackWindow,
    Channel,
    Customer,
    Reporter,
    Signal,
    new_signal_id,
    signal_id_for,
)

__all__ = [
    "INCIDENT_SOURCE",
    "SCHEMA_VERSION",
    "Attachment",
    "CallbackWindow",
    "CaseCorrection",
    "Category",
    "Channel",
    "Classification",
    "Customer",
    "DeadLetter",
    "Dedupe",
    "DeliveryResult",
    "DeliveryStatus",
    "Destination",
    "Incident",
    "IncidentReport",
    "IncidentStatus",
    "InsightSnapshot",
    "Kind",
    "Label",
    "LabelSource",
    "NotificationPreference",
    "Outcome",
    "OutcomeStatus",
    "RecordChange",
    "Reporter",
    "RoutedSignal",
    "Signal",
    "Urgency",
    "Verdict",
    "new_signal_id",
    "signal_id_for",
]
