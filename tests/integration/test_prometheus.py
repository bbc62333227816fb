"""A real Prometheus scrapes the running stack with the shipped scrape jobs (Compose, and
Kubernetes discovery's relabelling) and alert rules."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen
from typing import Any

import httpx
import pytest
import yaml

from services.common.broker import free_port
from services.common.processes import spawn, terminate
from tests.support.services import WORKER_METRICS_PORTS, Services, wait_for

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None,
    reason="prometheus is not installed (Debian package prometheus; "
    "deploy/ci/install-test-tools.sh installs it)",
)

PROMETHEUS_DIR = Path(__file__).parents[2] / "deploy" / "prometheus"
K8S_DIR = Path(__file__).parents[2] / "deploy" / "k8s"
COMPLAINT = "My neighbour's bank card was declined twice at the till and she is upset."
ROUTED = "antenna_signals_routed_total"


def stack_ports(services: Services) -> dict[str, str]:
    """Where each service the test stack runs serves its metrics, by the `antenna`
    command."""
    ports = {"ingest": services.env["ANTENNA_API_PORT"]}
    ports.update({name: services.env[var] for name, var in WORKER_METRICS_PORTS.items()})
    return {name: port for name, port in ports.items() if name in services.procs}


def compose_config(services: Services) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with its targets pointed at the test stack."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    ports = {f"antenna-{name}": port for name, port in stack_ports(services).items()}
    jobs = [job for job in config["scrape_configs"] if job["job_name"] in ports]
    assert {job["job_name"] for job in jobs} == set(ports), "a service has no scrape job"
    for job in jobs:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{ports[job['job_name']]}"]}]
    config["scrape_configs"] = jobs
    return config


def kubernetes_config(services: Services) -> dict[str, Any]:
    """deploy/prometheus/kubernetes.yml, with the pods that Kubernetes discovery would
    find given as static targets: the labels and annotations of deploy/k8s/'s pod
    templates, the pod address and port of the test stack. Its relabelling runs for real."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / "kubernetes.yml").read_text())
    [job] = config["scrape_configs"]
    assert [sd["role"] for sd in job.pop("kubernetes_sd_configs")] == ["pod"]
    ports = stack_ports(services)
    targets = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            if obj.get("kind") != "Deployment":
                continue
            pod = obj["spec"]["template"]
            [container] = pod["spec"]["containers"]
            command = container["args"][0]
            if command not in ports:  # a service the test stack does not run
                continue
            meta = {
                "__meta_kubernetes_pod_ip": "127.0.0.1",
                "__meta_kubernetes_pod_name": f"{obj['metadata']['name']}-0",
            }
            for name, value in pod["metadata"]["labels"].items():
                meta[f"__meta_kubernetes_pod_label_{_label(name)}"] = value
            for name, value in pod["metadata"]["annotations"].items():
                meta[f"__meta_kubernetes_pod_annotation_{_label(name)}"] = value
            meta["__meta_kubernetes_pod_annotation_prometheus_io_port"] = ports[command]
            targets.append({"targets": ["discovered:1"], "labels": meta})
    assert len(targets) == len(ports)
    job["static_configs"] = targets
    return config


def _label(name: str) -> str:
    """How Kubernetes discovery spells a label or annotation name in its meta labels."""
    return "".join(c if c.isalnum() else "_" for c in name)


CONFIGS = {"compose": compose_config, "kubernetes": kubernetes_config}


def start_prometheus(settings: dict[str, Any], workdir: Path) -> tuple[Popen[bytes], str]:
    """A real Prometheus with ``settings`` and the shipped alert rules, scraping and
    evaluating every second."""
    settings["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    settings["rule_files"] = [str(PROMETHEUS_DIR / "alerts.yml")]
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump(settings))
    address = f"127.0.0.1:{free_port()}"
    command = [
        "prometheus",
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address={address}",
    ]
    return spawn(command, workdir / "prometheus.log"), f"http://{address}"


@pytest.fixture(scope="module")
def prometheus(
    pipeline: Services, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """One Prometheus per shipped scrape configuration, side by side: name -> URL."""
    started = {
        name: start_prometheus(make(pipeline), tmp_path_factory.mktemp(f"prometheus-{name}"))
        for name, make in CONFIGS.items()
    }

    def ready(proc: Popen[bytes], url: str) -> bool:
        assert proc.poll() is None, f"prometheus exited, see {proc.args}"
        try:
            return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        for name, (proc, url) in started.items():
            wait_for(lambda p=proc, u=url: ready(p, u), f"prometheus ({name}) to start")
        yield {name: url for name, (_, url) in started.items()}
    finally:
        for proc, _ in started.values():
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
    pipeline: Services, prometheus: dict[str, str]
) -> None:
    before = routed_so_far(pipeline)
    response = pipeline.post(
        {"text": f"{COMPLAINT} [{time.time_ns()}]", "reporter": {"employee_id": "e-7"}}
    )
    assert response.status_code == 202, response.text
    expr = f'sum({ROUTED}{{kind="complaint",destination="servicedesk"}})'

    jobs = {f"antenna-{name}" for name in stack_ports(pipeline)}
    for name, url in prometheus.items():

        def scraped_after_routing(url: str = url) -> list[dict[str, Any]]:
            return [r for r in query(url, expr) if float(r["value"][1]) >= before + 1]

        def every_job_scraped(url: str = url) -> dict[str, str]:
            up = {r["metric"]["job"]: r["value"][1] for r in query(url, "up")}
            return up if set(up) == jobs else {}

        wait_for(scraped_after_routing, f"{expr} >= {before + 1} in Prometheus ({name})")
        # The job names the alert rules expect (up{job=~"antenna-.*"}), each one up.
        assert wait_for(every_job_scraped, f"every job ({name})") == dict.fromkeys(jobs, "1")
        ready = {r["metric"]["app"]: r["value"][1] for r in query(url, "antenna_worker_ready")}
        assert ready == {
            "antenna-processor": "1",
            "antenna-connectors": "1",
            "antenna-notifier": "1",
        }, name


def test_prometheus_loads_and_evaluates_the_alert_rules(prometheus: dict[str, str]) -> None:
    shipped = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    names = {rule["alert"] for group in shipped["groups"] for rule in group["rules"]}
    assert names
    for name, url in prometheus.items():

        def evaluated(url: str = url) -> dict[str, str]:
            body = httpx.get(f"{url}/api/v1/rules", timeout=5).json()
            rules = {r["name"]: r for g in body["data"]["groups"] for r in g["rules"]}
            pending = [r for r in rules.values() if r["lastEvaluation"].startswith("0001")]
            return {n: r["health"] for n, r in rules.items()} if not pending else {}

        health = wait_for(evaluated, f"every alert rule evaluated once ({name})")
        assert set(health) == names
        assert set(health.values()) == {"ok"}, (name, health)


def test_worker_probes_answer_on_the_metrics_port(pipeline: Services) -> None:
    """What the Kubernetes probes of deploy/k8s/ ask the running workers."""
    for name, variable in WORKER_METRICS_PORTS.items():
        if name not in pipeline.procs:
            continue  # a worker the session pipeline does not run (insight)
        base = f"http://127.0.0.1:{pipeline.env[variable]}"
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200
