"""Topic names: part of the contract with the teams that consume Antenna's events."""

RAW = "signals.raw"
ROUTED_CRM = "signals.routed.crm"
ROUTED_SERVICEDESK = "signals.routed.servicedesk"
TRIAGE = "signals.triage"
DUPLICATES = "signals.duplicates"
DLQ = "signals.dlq"
DELIVERED = "signals.delivered"

ALL = (RAW, ROUTED_CRM, ROUTED_SERVICEDESK, TRIAGE, DUPLICATES, DLQ, DELIVERED)

# Destinations that connectors deliver to, and the topic each one reads.
ROUTED_BY_DESTINATION = {"servicedesk": ROUTED_SERVICEDESK, "crm": ROUTED_CRM}
