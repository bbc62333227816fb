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
# Each employee's NotificationPreference, keyed by employee_id; compacted.
PREFERENCES = "employees.preferences"
# Possible outages: several customers, one problem (Incident), keyed by incident_id.
INCIDENTS = "signals.incidents"

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
    INCIDENTS,
)
# Topics that keep the latest record per key for good, instead of for a retention time.
COMPACTED = frozenset({PREFERENCES})

# Destinations that connectors deliver to, and the topic each one reads.
ROUTED_BY_DESTINATION = {"servicedesk": ROUTED_SERVICEDESK, "crm": ROUTED_CRM}
