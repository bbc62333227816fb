"""Topic names: part of the contract with the teams that consume Antenna's events."""

RAW = "signals.raw"
ROUTED_CRM = "signals.routed.crm"
ROUTED_SERVICEDESK = "signals.routed.servicedesk"
TRIAGE = "signals.triage"
DUPLICATES = "signals.duplicates"
DLQ = "signals.dlq"
DELIVERED = "signals.delivered"
# What became of each case in its destination (Outcome), keyed by case_id.
OUTCOMES = "signals.outcomes"
# A destination's change to one of its records whose case must be looked up there
# (RecordChange), keyed by record_id: HubSpot deal webhooks name only the deal.
RECORD_CHANGES = "signals.record-changes"
# Each employee's NotificationPreference, keyed by employee_id; compacted.
PREFERENCES = "employees.preferences"
# The insight app's latest summary (InsightSnapshot) under one key; compacted.
INSIGHT = "insight.summary"
# Possible outages: several customers, one problem (Incident), keyed by incident_id.
INCIDENTS = "signals.incidents"
# An incident's ticket and notes for the service desk (RoutedSignal), keyed by incident_id.
INCIDENTS_DESK = "signals.incidents.desk"
# What operators decided a signal is, on the triage page (Label), keyed by label_id;
# compacted. Training data: `antenna labels export`.
LABELS = "signals.labels"
# Operators' "same case" / "not the same case" about two signals (CaseCorrection), keyed
# by the pair; compacted. The processor's dedupe follows them.
CASE_CORRECTIONS = "signals.case-corrections"

ALL = (
    RAW,
    ROUTED_CRM,
    ROUTED_SERVICEDESK,
    TRIAGE,
    DUPLICATES,
    DLQ,
    DELIVERED,
    OUTCOMES,
    PREFERENCES,
    RECORD_CHANGES,
    INSIGHT,
    INCIDENTS,
    INCIDENTS_DESK,
    LABELS,
    CASE_CORRECTIONS,
)
# Topics that keep the latest record per key for good, instead of for a retention time.
COMPACTED = frozenset({PREFERENCES, INSIGHT, LABELS, CASE_CORRECTIONS})

# Destinations that connectors deliver to, and the topic each one reads.
ROUTED_BY_DESTINATION = {"servicedesk": ROUTED_SERVICEDESK, "crm": ROUTED_CRM}
