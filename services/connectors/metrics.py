from prometheus_client import Counter, Histogram

DELIVERIES = Counter(
    "antenna_deliveries_total", "Delivery outcomes", ["destination", "connector", "status"]
)
ALREADY_DELIVERED = Counter(
    "antenna_deliveries_skipped_total",
    "Routed events consumed again and not re-delivered",
    ["destination"],
)
DELIVERY_SECONDS = Histogram(
    "antenna_delivery_seconds",
    "Time from consuming a routed event to its outcome, retries included",
    ["destination"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
DEAD_LETTERS = Counter(
    "antenna_connector_dead_letters_total", "Events parked on signals.dlq", ["destination"]
)

# Outcomes (outcomes.py, outcome_sources.py)
POLLS = Counter(
    "antenna_outcome_polls_total",
    "Status reads of a page of records at a polled destination",
    ["destination", "connector"],
)
POLL_FAILURES = Counter(
    "antenna_outcome_poll_failures_total",
    "Status reads that failed (the page is read again at the next tick)",
    ["destination", "connector"],
)
CHANGES_IGNORED = Counter(
    "antenna_record_changes_ignored_total",
    "Record changes from webhooks that were not a status of one of Antenna's records",
    ["destination", "vendor"],
)
OUTCOMES_UNREADABLE = Counter(
    "antenna_outcomes_unreadable_total", "Records on signals.outcomes that are not an Outcome"
)
