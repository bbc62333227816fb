from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "antenna_ingest_signals_total",
    "Signals offered to ingest, by channel and outcome",
    ["channel", "outcome"],  # outcome: accepted, replayed, unavailable
)
PUBLISH_SECONDS = Histogram(
    "antenna_ingest_publish_seconds",
    "Time until the broker acknowledged a signal",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
