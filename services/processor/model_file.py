"""The processor follows the active classifier model file (issue #9, part 3): after
`antenna train --activate` it switches to the new model without a restart.

The classify workers are forked processes; each follows the file itself
(``store.follow_active_model``, set before they fork) and loads the new model on its first
signal after the switch. The service process checks on a timer as well, so that a worker
forked later starts with the new model, and it is the one that logs and counts: a file
that cannot be loaded (altered, truncated, made by other feature code) keeps the model in
use and is counted once in ``antenna_classifier_model_reloads_total{outcome="refused"}``.
"""

from __future__ import annotations

import logging

from services.common.logging import fields
from services.processor import metrics
from services.processor.classifier import store

log = logging.getLogger(__name__)


def follow(interval_s: float) -> None:
    """Load the model now and follow the active file from now on (before the fork)."""
    store.follow_active_model(interval_s)
    store.current_model()


def reload_if_changed() -> store.Reload:
    outcome, error = store.reload_if_changed()
    if outcome is store.Reload.reloaded:
        metrics.MODEL_RELOADS.labels(outcome.value).inc()
        log.info("classifier model reloaded", extra=fields(version=store.current_model().version))
    elif outcome is store.Reload.refused:
        metrics.MODEL_RELOADS.labels(outcome.value).inc()
        log.error(
            "classifier model file refused; keeping the model in use",
            extra=fields(version=store.current_model().version, error=error[:300]),
        )
    return outcome
