"""deploy/k8s/: valid Kubernetes objects (JSON schemas of the pinned PyPI package
kubernetes-validate), and right in what a schema cannot see."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from services.connectors.registry import available, connector_class
from services.connectors.settings import ConnectorSettings
from services.ingest.settings import IngestSettings
from services.processor.domain.route import parse_rules
from tests.support.deployment import (
    SERVICE_COMMANDS,
    compose_services,
    secret_names,
    settings,
    unknown,
)

ROOT = Path(__file__).parents[2]
K8S = ROOT / "deploy" / "k8s"
# The oldest Kubernetes we claim, and the newest the pinned schemas know.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def load_objects() -> list[dict[str, Any]]:
    return [doc for path in manifest_files() for doc in yaml.safe_load_all(path.read_text())]


OBJECTS = load_objects()


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in OBJECTS if o["kind"] == kind}


def deployments() -> dict[str, dict[str, Any]]:
    """The Deployments by the `antenna` command their container runs."""
    found = {}
    for deployment in of_kind("Deployment").values():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        found[container["args"][0]] = deployment
    return found


def container(command: str) -> dict[str, Any]:
    [found] = deployments()[command]["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = found
    return result


def env_values(command: str) -> dict[str, str]:
    """What the container's environment holds: envFrom ConfigMaps, then literal env."""
    configmaps = of_kind("ConfigMap")
    values: dict[str, str] = {}
    for source in container(command).get("envFrom", []):
        values.update(configmaps[source["configMapRef"]["name"]]["data"])
    for item in container(command).get("env", []):
        values[item["name"]] = item.get("value", "<from a reference>")
    return values


def secret_refs() -> set[tuple[str, str, str, str]]:
    """(Secret, key, variable, service) for every secretKeyRef."""
    refs = set()
    for command in deployments():
        for item in container(command).get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs.add((ref["name"], ref["key"], item["name"], command))
    return refs


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "obj", OBJECTS, ids=[f"{o['kind']}-{o['metadata']['name']}" for o in OBJECTS]
)
def test_manifest_is_a_valid_kubernetes_object(obj: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (("spec", "template", "spec", "containers", 0, "imagePulPolicy"), "Always"),
        (("spec", "replicas"), "2"),
        (("spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"), "9101"),
    ],
)
def test_the_schema_check_catches_mistakes(path: tuple[Any, ...], bad: str) -> None:
    broken = copy.deepcopy(deployments()["processor"])
    node = broken
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = bad
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in manifest_files())


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_renders_every_object() -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    rendered = list(yaml.safe_load_all(result.stdout))
    assert len(rendered) == len(OBJECTS)


def test_every_service_has_a_deployment_and_the_processor_two_replicas() -> None:
    assert set(deployments()) >= set(SERVICE_COMMANDS)
    # What docker-compose.yml runs, Kubernetes runs too.
    assert set(deployments()) == set(compose_services()), "a service has no Deployment"
    assert deployments()["processor"]["spec"]["replicas"] == 2


def test_every_object_sits_in_the_antenna_namespace() -> None:
    for obj in OBJECTS:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "antenna", obj["metadata"]["name"]


def test_every_environment_variable_is_a_real_setting() -> None:
    names = {name for command in deployments() for name in env_values(command)}
    assert "ANTENNA_API_KEYS" in names and "KAFKA_BOOTSTRAP_SERVERS" in names
    assert not unknown(names), "deploy/k8s sets variables no setting reads"


def documented_secrets() -> set[tuple[str, str, str, str]]:
    """The rows of the Secrets table in deploy/k8s/README.md, one per service."""
    rows = re.findall(
        r"^\| (antenna-[a-z-]+) \| ([a-z-]+) \| ([A-Z_]+) \| ([a-z, ]+) \| (?:yes|no) \|$",
        (K8S / "README.md").read_text(),
        re.MULTILINE,
    )
    return {
        (secret, key, variable, service.strip())
        for secret, key, variable, services in rows
        for service in services.split(",")
    }


def test_every_secret_reference_is_documented_and_every_documented_one_used() -> None:
    assert secret_refs(), "no Secret referenced at all"
    assert secret_refs() == documented_secrets()


def test_secrets_come_only_from_secrets() -> None:
    secrets = secret_names()
    for command in deployments():
        for name, value in env_values(command).items():
            if name in secrets:
                assert value == "<from a reference>", f"{name} has a literal value in {command}"
    assert "ANTENNA_API_KEYS" in {variable for _, _, variable, _ in secret_refs()}


def test_every_connector_secret_can_be_given_for_every_destination() -> None:
    """Whichever installed connector serves a destination, its secrets reach it."""
    wired = {variable for _, _, variable, command in secret_refs() if command == "connectors"}
    wanted = {
        f"ANTENNA_{destination.upper()}__{option.upper()}"
        for destination in ConnectorSettings().destinations()
        for name in available()
        for option, field in connector_class(name).config_model.model_fields.items()
        if "SecretStr" in str(field.annotation)
    }
    assert wanted, "no connector has a secret option"
    assert not wanted - wired, "add these to deploy/k8s/connectors.yaml and its README table"


def test_required_secrets_are_not_optional() -> None:
    """Ingest cannot start without API keys; with two replicas the report page's form
    tokens must verify on either, so they share a CSRF secret."""
    optional = {
        item["name"]: item["valueFrom"]["secretKeyRef"].get("optional", False)
        for item in container("ingest")["env"]
        if "valueFrom" in item
    }
    assert optional["ANTENNA_API_KEYS"] is False
    assert optional["ANTENNA_CSRF_SECRET"] is False


def ports(command: str) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container(command)["ports"]}


def test_container_ports_are_the_ports_the_settings_listen_on() -> None:
    env = env_values("ingest")
    ingest = IngestSettings(api_keys="k8s-test-key-0123456789")
    assert ports("ingest") == {
        "http": int(env.get("ANTENNA_API_PORT", ingest.api_port)),
        "smtp": int(env.get("ANTENNA_SMTP_PORT", ingest.smtp_port)),
    }
    for command in workers():
        name = f"ANTENNA_{command.upper()}_METRICS_PORT"
        port = env_values(command).get(name, settings()[name].field.default)
        assert ports(command) == {"metrics": int(port)}, command


def workers() -> list[str]:
    """The stream workers (Faust): every service but ingest, metrics on their own port."""
    return [command for command in deployments() if command != "ingest"]


def test_services_listen_on_every_interface_in_the_pod() -> None:
    """The settings default to 127.0.0.1, which no probe or Service could reach."""
    hosts = {"ingest": ["ANTENNA_API_HOST", "ANTENNA_SMTP_HOST"]}
    hosts.update({command: [f"ANTENNA_{command.upper()}_METRICS_HOST"] for command in workers()})
    assert len(hosts) == len(deployments())
    for command, names in hosts.items():
        for name in names:
            assert env_values(command)[name] == "0.0.0.0", name


def test_probes_ask_the_right_endpoints() -> None:
    expected = {"ingest": ("http", "/healthz", "/readyz")}
    expected.update({command: ("metrics", "/healthz", "/readyz") for command in workers()})
    for command, (port, alive, ready) in expected.items():
        spec = container(command)
        for probe, path in (
            ("startupProbe", alive),
            ("livenessProbe", alive),
            ("readinessProbe", ready),
        ):
            assert spec[probe]["httpGet"] == {"path": path, "port": port}, (command, probe)
        assert port in ports(command)
        # /readyz of ingest asks the broker with a 2 s timeout.
        assert spec["readinessProbe"]["timeoutSeconds"] > (2 if command == "ingest" else 1)


def test_scrape_annotations_point_at_the_metrics() -> None:
    for command, deployment in deployments().items():
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        port = ports(command)["http" if command == "ingest" else "metrics"]
        assert int(annotations["prometheus.io/port"]) == port


def test_services_and_budgets_select_their_pods() -> None:
    for kind in ("Service", "PodDisruptionBudget"):
        for name, obj in of_kind(kind).items():
            selector = obj["spec"]["selector"]
            selector = selector.get("matchLabels", selector)
            matched = [
                d
                for d in deployments().values()
                if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
            ]
            assert len(matched) == 1, f"{kind} {name} selects {len(matched)} Deployments"
            [deployment] = matched
            assert deployment["spec"]["selector"]["matchLabels"] == selector
            [spec] = deployment["spec"]["template"]["spec"]["containers"]
            if kind == "Service":
                names = {p["name"] for p in spec["ports"]}
                assert {p["targetPort"] for p in obj["spec"]["ports"]} <= names
            else:  # a budget that always lets one replica go, and keeps one
                assert obj["spec"]["maxUnavailable"] < deployment["spec"]["replicas"]
    assert {d["metadata"]["name"] for d in of_kind("PodDisruptionBudget").values()} >= {
        "antenna-processor"
    }


def test_pods_run_unprivileged_on_a_read_only_root() -> None:
    for command, deployment in deployments().items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        # Service links would put ANTENNA_<SERVICE>_PORT=tcp://... where settings read.
        assert pod["enableServiceLinks"] is False
        spec = container(command)
        assert spec["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in spec["volumeMounts"]}
        # The image's /tmp, not this machine's: Python needs a writable one.
        for writable in (env_values(command)["ANTENNA_VAR_DIR"], "/tmp"):  # noqa: S108
            assert "emptyDir" in mounts[writable], f"{command}: {writable} is not writable"


def test_every_container_states_its_resources() -> None:
    for command in deployments():
        resources = container(command)["resources"]
        assert set(resources["requests"]) == {"cpu", "memory"}, command
        assert "memory" in resources["limits"], command
        assert set(resources["limits"]) <= {"cpu", "memory"}, command


def test_the_image_is_this_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for command in deployments():
        assert container(command)["image"] == f"antenna:{version}"


def test_the_processor_reads_the_routing_configmap_and_it_equals_the_sample_rules() -> None:
    path = Path(env_values("processor")["ANTENNA_ROUTING_RULES"])
    pod = deployments()["processor"]["spec"]["template"]["spec"]
    [mount] = [
        m for m in container("processor")["volumeMounts"] if m["mountPath"] == str(path.parent)
    ]
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    configmap = of_kind("ConfigMap")[volume["configMap"]["name"]]
    # A directory mount, not subPath: only then does a changed ConfigMap reach the file.
    assert "subPath" not in mount
    text = configmap["data"][path.name]
    sample = (ROOT / "deploy" / "config" / "routing.yaml").read_text()
    assert parse_rules(text, "deploy/k8s/routing.yaml") == parse_rules(sample)


def test_the_kafka_ca_is_mounted_where_the_settings_look() -> None:
    cafile = Path(of_kind("ConfigMap")["antenna-config"]["data"]["ANTENNA_KAFKA_SSL_CAFILE"])
    for command, deployment in deployments().items():
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container(command)["volumeMounts"]}
        secret = mounts[str(cafile.parent)]["secret"]
        assert secret["secretName"] == "antenna-kafka-tls", command


def test_outbox_is_not_the_connector_in_kubernetes() -> None:
    """The outbox writes files inside its pod: lost on restart, split between replicas."""
    config = of_kind("ConfigMap")["antenna-config"]["data"]
    for destination in ConnectorSettings().destinations():
        assert config[f"ANTENNA_{destination.upper()}__CONNECTOR"] != "outbox"
