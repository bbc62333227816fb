"""Shared builders for the unit tier: valid Signals and RoutedSignals with overridable fields."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from schemas import RoutedSignal, Signal
from tests.support.builders import build_routed, build_signal


@pytest.fixture
def make_signal() -> Callable[..., Signal]:
    return build_signal


@pytest.fixture
def make_routed() -> Callable[..., RoutedSignal]:
    return build_routed
