"""A real Prometheus scrapes the running stack with the shipped scrape jobs and alert rules."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from services.common.broker import free_port
from services.common.processes import spawn, terminate
from tests.support.services import WORKER_METRICS_PORTS, Services

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None,
    reason="prometheus is not installed (Debian package prometheus; "
    "deploy/ci/install-test-tools.sh installs it)",
)

PROMETHEUS_DIR = Path(__file__).parents[2] / "deploy" / "prometheus"
COMPLAINT = "My neighbour's bank card was declined twice at the till and she is upset."
ROUTED = "antenna_signals_routed_total"


def wait_for(what: str, found: Callable[[], Any], timeout_s: float = 60) -> Any:
    """Poll ``found`` until it returns something truthy (the event happened)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = found()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def scrape_config(services: Services, rules: Path) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with its targets pointed at the test stack, faster."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    ports = {"antenna-ingest": services.env["ANTENNA_API_PORT"]}
    for name, variable in WORKER_METRICS_PORTS.items():
        ports[f"antenna-{name}"] = services.env[variable]
    jobs = [job for job in config["scrape_configs"] if job["job_name"] in ports]
    assert {job["job_name"] for job in jobs} == set(ports), "a service has no scrape job"
    for job in jobs:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{ports[job['job_name']]}"]}]
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(rules)]
    config["scrape_configs"] = jobs
    return config


@pytest.fixture(scope="module")
def prometheus(pipeline: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("prometheus")
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(pipeline, PROMETHEUS_DIR / "alerts.yml")))
    url = f"http://127.0.0.1:{free_port()}"
    log = workdir / "prometheus.log"
    proc = spawn(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}",
        ],
        log,
    )

    def ready() -> bool:
        assert proc.poll() is None, f"prometheus exited: {log.read_text()[-2000:]}"
        try:
            return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for("prometheus to start", ready)
        yield url
    finally:
        terminate(proc)


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def routed_so_far(services: Services) -> float:
    """The processor's own count of complaints routed to the service desk, before ours."""
    port = services.env[WORKER_METRICS_PORTS["processor"]]
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(ROUTED + "{")
        and 'kind="complaint"' in line
        and 'destination="servicedesk"' in line
    )


def test_prometheus_scrapes_every_service_and_sees_a_routed_signal(
    pipeline: Services, prometheus: str
) -> None:
    before = routed_so_far(pipeline)
    response = pipeline.post(
        {"text": f"{COMPLAINT} [{time.time_ns()}]", "reporter": {"employee_id": "e-7"}}
    )
    assert response.status_code == 202, response.text
    expr = f'sum({ROUTED}{{kind="complaint",destination="servicedesk"}})'

    def scraped_after_routing() -> list[dict[str, Any]]:
        result = query(prometheus, expr)
        return [r for r in result if float(r["value"][1]) >= before + 1]

    [sample] = wait_for(f"{expr} >= {before + 1} in Prometheus", scraped_after_routing)
    assert float(sample["value"][1]) >= before + 1

    up = {r["metric"]["job"]: r["value"][1] for r in query(prometheus, "up")}
    assert up == {"antenna-ingest": "1", "antenna-processor": "1", "antenna-connectors": "1"}
    ready = {r["metric"]["app"]: r["value"][1] for r in query(prometheus, "antenna_worker_ready")}
    assert ready == {"antenna-processor": "1", "antenna-connectors": "1"}


def test_prometheus_loads_and_evaluates_the_alert_rules(prometheus: str) -> None:
    shipped = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    names = {rule["alert"] for group in shipped["groups"] for rule in group["rules"]}
    assert names

    def evaluated() -> dict[str, str]:
        body = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()
        rules = {r["name"]: r for g in body["data"]["groups"] for r in g["rules"]}
        unevaluated = [r for r in rules.values() if r.get("lastEvaluation", "").startswith("0001")]
        return {n: r["health"] for n, r in rules.items()} if not unevaluated else {}

    health = wait_for("every alert rule to be evaluated once", evaluated)
    assert set(health) == names
    assert set(health.values()) == {"ok"}, health


def test_worker_probes_answer_on_the_metrics_port(pipeline: Services) -> None:
    """What the Kubernetes probes of deploy/k8s/ ask the running workers."""
    for variable in WORKER_METRICS_PORTS.values():
        base = f"http://127.0.0.1:{pipeline.env[variable]}"
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200
