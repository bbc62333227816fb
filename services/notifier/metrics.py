from prometheus_client import Counter, Gauge

NOTICES = Counter(
    "antenna_notifications_total",
    "Notices settled: sent, failed (refused for good), opted_out, stale, no_channel",
    ["channel", "kind", "outcome"],
)
FAILED_ATTEMPTS = Counter(
    "antenna_notification_attempts_failed_total",
    "Attempts a channel did not take and that are tried again",
    ["channel"],
)
PAUSED = Gauge(
    "antenna_notifier_channel_paused",
    "1 while a notice waits for its channel to be reachable again",
    ["channel"],
)
DEAD_LETTERS = Counter(
    "antenna_notifier_dead_letters_total", "Events the notifier could not read, on signals.dlq"
)
OPTED_OUT = Gauge(
    "antenna_notifier_opted_out_employees",
    "Employees whose preference says: tell me nothing (as read from employees.preferences)",
)
OPEN_CASES_CROWDED = Counter(
    "antenna_notifier_open_cases_crowded_total",
    "Open cases past the dedupe window forgotten before their outcome was told, because the "
    "partition held its share of ANTENNA_OUTCOME_WATCH_MAX_CASES already (oldest first)",
)
