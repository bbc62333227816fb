"""docker-compose.yml is a valid Compose file that runs every Antenna service with real
settings, and Prometheus' scrape jobs find them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.connectors.settings import ConnectorSettings
from services.ingest.settings import IngestSettings
from services.processor.settings import ProcessorSettings
from tests.support.deployment import (
    COMPOSE,
    SERVICE_COMMANDS,
    cli_commands,
    compose_services,
    secret_names,
    unknown,
)

ROOT = Path(__file__).parents[2]
REQUIRED = {"ANTENNA_API_KEYS": "compose-test-key-0123456789", "GRAFANA_ADMIN_PASSWORD": "x" * 16}
needs_docker_compose = pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose is not installed (Debian package docker-compose 1.29; "
    "deploy/ci/install-test-tools.sh installs it)",
)


def docker_compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`docker-compose config`: validates the file against the Compose schema, resolves
    anchors and ${...}, checks references; no Docker engine needed. Only ``env`` reaches
    it, so the test does not depend on the shell's environment."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
    return subprocess.run(
        ["docker-compose", "--project-directory", str(ROOT), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        env=clean,
        cwd=ROOT,
        timeout=60,
    )


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (deploy/ci/install-test-tools.sh)")
    result = docker_compose_config(REQUIRED)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


@needs_docker_compose
def test_docker_compose_accepts_the_file(resolved: dict[str, Any]) -> None:
    assert {"kafka", "prometheus", "grafana", *SERVICE_COMMANDS} <= set(resolved["services"])


@needs_docker_compose
def test_docker_compose_refuses_a_broken_file(tmp_path: Path) -> None:
    """The check above can fail: an unknown key in a service is refused."""
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("restart: unless-stopped", "restrat: always"))
    result = subprocess.run(
        ["docker-compose", "-f", str(broken), "config", "-q"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **REQUIRED},
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode != 0
    assert "restrat" in result.stderr


@needs_docker_compose
def test_the_api_key_must_be_set() -> None:
    result = docker_compose_config({"GRAFANA_ADMIN_PASSWORD": "x" * 16})
    assert result.returncode != 0
    assert "set ANTENNA_API_KEYS" in result.stderr


def test_every_antenna_service_runs_in_compose() -> None:
    commands = set(compose_services())
    assert set(SERVICE_COMMANDS) <= commands
    assert commands <= set(cli_commands()), "a service runs no `antenna` command"


def test_every_environment_variable_is_a_real_setting() -> None:
    services = compose_services().values()
    names = {name for service in services for name in service["environment"]}
    assert "ANTENNA_API_KEYS" in names
    assert not unknown(names), "docker-compose.yml sets variables no setting reads"


def test_secrets_come_from_the_shell_not_from_the_file() -> None:
    for service in compose_services().values():
        for name, value in service["environment"].items():
            if name in secret_names():
                assert str(value).startswith("${"), f"{name} has a literal value"


def test_published_ports_and_scrape_targets_match_the_settings() -> None:
    services = compose_services()
    ingest = IngestSettings(api_keys="compose-test-key-0123456789")
    published = {port.rsplit(":", 1)[-1] for port in services["ingest"]["ports"]}
    assert published == {str(ingest.api_port), str(ingest.smtp_port)}
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: target
        for job in scrape["scrape_configs"]
        for target in job["static_configs"][0]["targets"]
    }
    assert targets["antenna-ingest"] == f"ingest:{ingest.api_port}"
    assert targets["antenna-processor"] == f"processor:{ProcessorSettings().processor_metrics_port}"
    connectors_port = ConnectorSettings().connectors_metrics_port
    assert targets["antenna-connectors"] == f"connectors:{connectors_port}"


def test_the_processor_reads_the_mounted_routing_rules() -> None:
    processor = compose_services()["processor"]
    path = processor["environment"]["ANTENNA_ROUTING_RULES"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in processor["volumes"]}
    assert mounts[path] == "./deploy/config/routing.yaml"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus) absent")
def test_compose_scrape_config_passes_promtool() -> None:
    """deploy/prometheus/kubernetes.yml needs Kubernetes discovery, which Debian's build
    leaves out: tests/integration/test_prometheus.py runs its relabelling instead."""
    result = subprocess.run(
        ["promtool", "check", "config", str(ROOT / "deploy" / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
