"""Shared builders for the unit tier: valid Signals and RoutedSignals with overridable
fields. And isolation: the unit tier never sees the shell's ANTENNA_* or KAFKA_*."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from schemas import RoutedSignal, Signal
from tests.support.builders import build_routed, build_signal

SHELL_PREFIXES = ("ANTENNA_", "KAFKA_")


@pytest.fixture(scope="package", autouse=True)
def without_shell_settings() -> Iterator[None]:
    """Package scope, so that it also holds for module- and session-scoped fixtures of
    this tier, and ends with it: the other tiers may pick their broker from the shell."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.upper().startswith(SHELL_PREFIXES):
                patch.delenv(name)
        # The built-in classifier, not a model someone activated in this checkout's var/.
        patch.setenv("ANTENNA_CLASSIFIER_MODEL_DIR", os.devnull + "/no-models")
        yield


@pytest.fixture
def make_signal() -> Callable[..., Signal]:
    return build_signal


@pytest.fixture
def make_routed() -> Callable[..., RoutedSignal]:
    return build_routed
