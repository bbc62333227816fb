"""The operations files name metrics that the services really export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

import services.common.faust_app
import services.connectors.metrics
import services.ingest.metrics
import services.insight.metrics
import services.notifier.metrics
import services.processor.metrics  # noqa: F401 - these imports register the metrics

DEPLOY = Path(__file__).parents[2] / "deploy"
METRIC = re.compile(r"\bantenna_[a-z_]+")


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported() -> set[str]:
    """Series names, also for labelled metrics that have no sample yet."""
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def referenced() -> set[str]:
    texts = [(DEPLOY / "prometheus" / "alerts.yml").read_text()]
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "antenna.json").read_text())
    texts += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    return {m for text in texts for m in METRIC.findall(text)}


def test_alerts_and_dashboards_use_exported_metrics() -> None:
    names = exported()
    missing = sorted(m for m in referenced() if m not in names)
    assert referenced(), "no antenna metrics referenced at all"
    assert not missing, f"deploy/ references metrics no service exports: {missing}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus) absent")
def test_alert_rules_pass_promtool() -> None:
    result = subprocess.run(
        ["promtool", "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus) absent")
def test_a_destination_paused_for_15_minutes_pages() -> None:
    """deploy/prometheus/alerts.test.yml: not at 14 minutes paused, at 16 it pages; an open
    incident pages while a worker exports it."""
    result = subprocess.run(
        ["promtool", "test", "rules", str(DEPLOY / "prometheus" / "alerts.test.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
