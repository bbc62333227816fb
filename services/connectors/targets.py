"""Routing targets (a rule's queue, group or request type name) as connector settings
use them. Environment variable names lose their case, so targets match without it:
``ANTENNA_SERVICEDESK__QUEUES__PAYMENTS-URGENT=Cards`` serves target ``Payments-Urgent``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


def targets_ignore_case(value: Mapping[str, T]) -> dict[str, T]:
    """For a config model's validator: the mapping keyed by lower-case targets."""
    return {target.lower(): item for target, item in value.items()}


def for_target(mapping: Mapping[str, T], target: str | None, default: T) -> T:
    """What ``mapping`` (from ``targets_ignore_case``) says for ``target``, else ``default``."""
    return mapping.get((target or "").lower(), default)
