from prometheus_client import Counter, Gauge, Histogram

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
    "Time from consuming a routed event to its outcome, waits for a paused destination included",
    ["destination"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 600, 3600, 21600, 86400),
)
DEAD_LETTERS = Counter(
    "antenna_connector_dead_letters_total", "Events parked on signals.dlq", ["destination"]
)
FAILED_ATTEMPTS = Counter(
    "antenna_delivery_failed_attempts_total",
    "Failed delivery attempts by kind: outage (pauses the destination), refused, fault, awaiting",
    ["destination", "kind"],
)
# One series per destination and worker; Prometheus takes the max over the workers.
DESTINATION_PAUSED = Gauge(
    "antenna_destination_paused",
    "1 while signals to this destination wait because it does not answer (unreachable, "
    "timeout, 5xx, 429)",
    ["destination"],
)
DESTINATION_PAUSED_SINCE = Gauge(
    "antenna_destination_paused_since_seconds",
    "Unix time of the first failed attempt of the longest-waiting signal; 0 when not paused",
    ["destination"],
)


def paused(destination: str, since: float | None) -> None:
    """The pause observer: sets both gauges of a destination."""
    DESTINATION_PAUSED.labels(destination).set(0 if since is None else 1)
    DESTINATION_PAUSED_SINCE.labels(destination).set(since or 0)


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
OUTCOME_WATCH_CROWDED = Counter(
    "antenna_outcome_watch_crowded_total",
    "Open cases past the dedupe window no longer polled for their outcome because the "
    "partition held its share of ANTENNA_OUTCOME_WATCH_MAX_CASES already (oldest first)",
)
