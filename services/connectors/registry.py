"""Find connector plugins by name through entry points."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from services.connectors.base import Connector, ConnectorContext

GROUP = "antenna.connectors"


class UnknownConnector(LookupError):
    pass


def available() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=GROUP))


def connector_class(name: str) -> type[Connector]:
    for ep in entry_points(group=GROUP, name=name):
        cls: type[Connector] = ep.load()
        return cls
    raise UnknownConnector(f"no connector named {name!r}; installed: {', '.join(available())}")


def build(name: str, options: dict[str, Any], context: ConnectorContext) -> Connector:
    """Validate ``options`` with the plugin's own config model and instantiate it."""
    cls = connector_class(name)
    return cls(cls.config_model.model_validate(options), context)
