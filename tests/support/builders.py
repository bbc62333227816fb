"""Valid Signals and RoutedSignals with overridable fields, for any test tier."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas import (
    Classification,
    Dedupe,
    DeliveryResult,
    DeliveryStatus,
    Destination,
    Kind,
    Outcome,
    OutcomeStatus,
    RoutedSignal,
    Signal,
    new_signal_id,
)

RECEIVED_AT = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


def build_signal(**overrides: Any) -> Signal:
    data: dict[str, Any] = {
        "signal_id": new_signal_id(),
        "idempotency_key": "client-key-1",
        "channel": "form",
        "source": "api-key-0123456789",
        "received_at": RECEIVED_AT,
        "reporter": {"employee_id": "E-1001", "name": "Sanne de Vries"},
        "text": "The customer is furious: her bank card was declined twice at the ATM.",
    }
    data.update(overrides)
    return Signal.model_validate(data)


def build_routed(signal: Signal | None = None, **overrides: Any) -> RoutedSignal:
    signal = signal or build_signal()
    data: dict[str, Any] = {
        "signal": signal,
        "classification": Classification(
            kind=Kind.complaint, confidence=0.9, language="en", classifier_version="test-1"
        ),
        "dedupe": Dedupe(cluster_id=signal.signal_id),
        "destination": Destination(name="servicedesk"),
        "rule_id": "complaints-to-servicedesk",
        "routed_at": datetime(2025, 3, 14, 9, 31, tzinfo=UTC),
    }
    data.update(overrides)
    return RoutedSignal.model_validate(data)


def build_duplicate(first: RoutedSignal, **signal: Any) -> RoutedSignal:
    """A colleague's later report of ``first``'s case, as the processor routes it."""
    again = build_signal(
        text="Zijn pinpas werkt weer niet, hij wil dat het opgelost wordt.",
        reporter={"employee_id": "E-2002", "department": "Branches"},
        **signal,
    )
    case = first.signal.signal_id
    return build_routed(
        again,
        dedupe=Dedupe(duplicate_of=case, cluster_id=case, reporters_count=2),
        destination=first.destination,
    )


def build_delivered(case_id: str, record: str) -> DeliveryResult:
    """A case's ticket at a Request Tracker service desk, delivered now."""
    return DeliveryResult(
        signal_id=case_id,
        destination="servicedesk",
        connector="request_tracker",
        status=DeliveryStatus.delivered,
        external_id=record,
        external_url=f"https://rt.example.com/Ticket/Display.html?id={record}",
        attempts=1,
        at=datetime.now(UTC),
    )


def build_outcome(case_id: str, status: OutcomeStatus, at: datetime, record: str) -> Outcome:
    """What became of that ticket, as the Request Tracker poller publishes it."""
    return Outcome(
        case_id=case_id,
        status=status,
        changed_at=at,
        record_id=record,
        record_url=f"https://rt.example.com/Ticket/Display.html?id={record}",
        destination="servicedesk",
        connector="request_tracker",
        event_id=f"rt:{record}:{status.value}:{at.isoformat()}",
        observed_at=datetime.now(UTC),
    )
