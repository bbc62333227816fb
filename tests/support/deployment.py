"""For tests of the deployment files: the environment variables Antenna really reads
(every name that docker-compose.yml or deploy/k8s/ sets must be one of them), the
`antenna` commands, and the services docker-compose.yml runs."""

from __future__ import annotations

import argparse
import functools
import importlib
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

import services
from services.cli import parser
from services.common.settings import CommonSettings
from services.connectors.registry import available, connector_class

ROOT = Path(__file__).parents[2]
ENV_EXAMPLE = ROOT / "deploy" / "config" / "antenna.env.example"
COMPOSE = ROOT / "docker-compose.yml"
# `antenna <command>` of each service
SERVICE_COMMANDS = ("ingest", "processor", "connectors", "notifier", "insight")

# Kafka security and replication settings (PLAN.md contract 5, owner: infra) that the
# manifests pass already. Until CommonSettings has them they count as known; once it has
# a kafka_security_protocol field, each must be a real setting, so a rename fails here.
KAFKA_SECURITY = frozenset(
    {
        "ANTENNA_KAFKA_SECURITY_PROTOCOL",
        "ANTENNA_KAFKA_SASL_MECHANISM",
        "ANTENNA_KAFKA_SASL_USERNAME",
        "ANTENNA_KAFKA_SASL_PASSWORD",
        "ANTENNA_KAFKA_SSL_CAFILE",
        "ANTENNA_KAFKA_REPLICATION_FACTOR",
        "ANTENNA_KAFKA_MIN_INSYNC_REPLICAS",
    }
)


@dataclass(frozen=True)
class Setting:
    field: FieldInfo
    nested: dict[str, FieldInfo]  # for a model-valued field: the options below it (NAME__OPT)

    @property
    def secret(self) -> bool:
        return _mentions(self.field.annotation, SecretStr)


def _mentions(annotation: Any, wanted: type) -> bool:
    if annotation is wanted:
        return True
    return any(_mentions(arg, wanted) for arg in typing.get_args(annotation))


def settings_classes() -> list[type[BaseSettings]]:
    """CommonSettings and every service's settings (services/<name>/settings.py)."""
    for path in sorted(Path(services.__file__).parent.glob("*/settings.py")):
        importlib.import_module(f"services.{path.parent.name}.settings")
    found: list[type[BaseSettings]] = []
    todo: list[type[BaseSettings]] = [CommonSettings]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def _connector_options() -> dict[str, FieldInfo]:
    """ANTENNA_<DESTINATION>__<OPTION>: `connector`, or any installed connector's option."""
    options: dict[str, FieldInfo] = {}
    for name in available():
        options.update(connector_class(name).config_model.model_fields)
    return options


@functools.cache
def settings() -> dict[str, Setting]:
    """Environment variable name -> the setting it fills."""
    names: dict[str, Setting] = {}
    for cls in settings_classes():
        prefix = str(cls.model_config.get("env_prefix", "")).upper()
        for field_name, field in cls.model_fields.items():
            nested: dict[str, FieldInfo] = {}
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                nested = {**annotation.model_fields, **_connector_options()}
            alias = field.validation_alias
            env_names = (
                [str(c) for c in alias.choices]
                if isinstance(alias, AliasChoices)
                else [prefix + field_name.upper()]
            )
            for env_name in env_names:
                names[env_name.upper()] = Setting(field, nested)
    return names


def example_names() -> set[str]:
    """Names in deploy/config/antenna.env.example, set or commented out."""
    pattern = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)
    return set(pattern.findall(ENV_EXAMPLE.read_text()))


def kafka_security_pending() -> frozenset[str]:
    landed = "kafka_security_protocol" in CommonSettings.model_fields
    return frozenset() if landed else KAFKA_SECURITY


def unknown(names: set[str]) -> list[str]:
    """The names in ``names`` that no setting reads."""
    known = settings()
    extra = example_names() | kafka_security_pending()
    missing = []
    for name in sorted(names):
        head, _, rest = name.partition("__")
        if name in known or name in extra:
            continue
        setting = known.get(head)
        if rest and setting is not None and _nested_known(setting, rest):
            continue
        missing.append(name)
    return missing


def _nested_known(setting: Setting, rest: str) -> bool:
    option, _, deeper = rest.partition("__")
    field = setting.nested.get(option.lower())
    if field is None:
        return False
    # A dict option takes one more level: ANTENNA_SERVICEDESK__QUEUES__<TARGET>.
    return not deeper or typing.get_origin(field.annotation) is dict


@functools.cache
def secret_names() -> frozenset[str]:
    """Names whose value is a secret: it may come from a Secret, never from a literal."""
    names = {name for name, setting in settings().items() if setting.secret}
    for name, setting in settings().items():
        names |= {
            f"{name}__{option.upper()}"
            for option, field in setting.nested.items()
            if _mentions(field.annotation, SecretStr)
        }
    return frozenset(names | {n for n in kafka_security_pending() if "PASSWORD" in n})


def cli_commands() -> list[str]:
    [subparsers] = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return list(subparsers.choices)


def compose_services() -> dict[str, dict[str, Any]]:
    """docker-compose.yml's services built from deploy/Dockerfile, by the `antenna`
    command they run (PyYAML resolves the file's anchors and merge keys)."""
    config: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return {
        service["command"][0]: service
        for service in config["services"].values()
        if service.get("build", {}).get("dockerfile") == "deploy/Dockerfile"
    }
