from prometheus_client import Counter, Gauge, Histogram

FACTS = Counter(
    "antenna_insight_facts_total",
    "Facts the insight app counted: report, record or outcome",
    ["fact"],
)
KEPT = Gauge(
    "antenna_insight_entries",
    "Entries in the insight app's tables (reports, cases): bounded by the horizon and caps",
    ["table"],
)
SNAPSHOTS = Counter(
    "antenna_insight_snapshots_published_total", "Summaries published to insight.summary"
)
LAST_SNAPSHOT = Gauge(
    "antenna_insight_snapshot_published_timestamp_seconds",
    "When the latest summary was published (unix time)",
)
SUMMARY_SECONDS = Histogram(
    "antenna_insight_summary_seconds",
    "Time to derive one summary from the tables",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DEAD_LETTERS = Counter(
    "antenna_insight_dead_letters_total", "Events the insight app could not read, on signals.dlq"
)
