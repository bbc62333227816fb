import functools

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "antenna_ingest_signals_total",
    "Signals offered to ingest, by channel and outcome",
    ["channel", "outcome"],  # outcome: accepted, replayed, unavailable
)


@functools.cache  # a few channels x three outcomes
def signals_counter(channel: str, outcome: str) -> Counter:
    """REQUESTS' child for (channel, outcome), looked up once: ``labels`` takes a lock and
    builds the label tuple on every call, and ingest counts every post."""
    return REQUESTS.labels(channel, outcome)


SIGN_IN_REFUSALS = Counter(
    "antenna_ingest_sign_in_refusals_total",
    "Refused Basic sign-ins on the employee pages",
    ["reason"],  # wrong_password, throttled
)
KEY_REUSES = Counter(
    "antenna_ingest_idempotency_key_reuses_total",
    # Each ingest replica follows signals.raw and counts the same reuse: use max(), not sum().
    "Idempotency-Keys found reused for another report (one signal_id, two bodies)",
)
PUBLISH_SECONDS = Histogram(
    "antenna_ingest_publish_seconds",
    "Time until the broker acknowledged a signal",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Outcome webhooks (services.ingest.api.routes.outcomes)
OUTCOME_WEBHOOKS = Counter(
    "antenna_ingest_outcome_webhooks_total",
    "Verified vendor webhook requests, by vendor and outcome",
    # outcome: published, replayed, ignored, invalid, unsupported_media, unavailable
    ["vendor", "outcome"],
)
WEBHOOK_REFUSALS = Counter(
    "antenna_ingest_webhook_refusals_total",
    "Vendor webhook requests refused, by vendor and reason",
    ["vendor", "reason"],  # missing, invalid, stale (signature); not_configured
)

# The triage page (services.ingest.api.routes.triage)
LABELS_RECORDED = Counter(
    "antenna_triage_labels_total",
    "Operators' triage decisions recorded as labels (a repeated click not counted), by kind",
    ["kind"],  # complaint, opportunity, other
)
CASE_CORRECTIONS = Counter(
    "antenna_case_corrections_total",
    "Operators' same-case corrections published, by verdict",
    ["verdict"],  # same_case, not_same_case
)
