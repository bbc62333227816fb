from prometheus_client import Counter, Gauge, Histogram

SIGNALS_ROUTED = Counter(
    "antenna_signals_routed_total",
    "Signals routed, by kind and destination",
    ["kind", "destination", "rule_id"],
)
RESUBMISSIONS_DROPPED = Counter(
    "antenna_resubmissions_dropped_total", "Exact re-submissions dropped (same key or signal_id)"
)
DEAD_LETTERS = Counter("antenna_dead_letters_total", "Messages parked on signals.dlq", ["stage"])
PROCESSING_SECONDS = Histogram(
    "antenna_processing_seconds",
    "Time to judge and route one signal",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
DUPLICATES = Counter(
    "antenna_duplicates_total", "Signals recognised as a case already reported", ["reason"]
)
RULES_RELOADS = Counter("antenna_routing_rules_reloads_total", "Routing rules reloaded")
RULES_RELOAD_FAILURES = Counter(
    "antenna_routing_rules_reload_failures_total",
    "Routing rule files refused as invalid (the previous rules stay in force)",
)
MODEL_RELOADS = Counter(
    "antenna_classifier_model_reloads_total",
    "Switches to a newly activated classifier model file (outcome reloaded), and activated "
    "files that could not be loaded (outcome refused: the model in use stays)",
    ["outcome"],
)
OVER_BUDGET = Counter(
    "antenna_classify_over_budget_total",
    "Signals whose classification ran past ANTENNA_CLASSIFY_BUDGET_S (parked on signals.dlq)",
)
INCIDENTS_OPEN = Gauge(
    "antenna_incidents_open",
    "Incidents open now (several customers with one problem), by category; exported by the "
    "worker that runs the incident stage",
    ["category"],
)
INCIDENT_CHANGES = Counter(
    "antenna_incidents_total",
    "Incidents opened, updated (a report joined) and closed, by category",
    ["category", "status"],
)
DECISIONS_APPLIED = Counter(
    "antenna_operator_decisions_applied_total",
    "Operators' decisions the judge stage applied to dedupe, by decision (same_case, "
    "not_same_case, label) and effect (split: routed as a case of its own; joined; "
    "routed_case: a triage case's later reports follow it; recorded: nothing to change)",
    ["decision", "effect"],
)
