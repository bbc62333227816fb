"""Read one sample from a running service's Prometheus endpoint, as Prometheus would."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def sample(url: str, name: str, **labels: str) -> float:
    """The value of ``name`` (a counter's ``_total`` sample, a gauge) with ``labels``
    at ``url``; 0 when the service has not counted any yet."""
    text = httpx.get(url, timeout=5).text
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0
