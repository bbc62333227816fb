"""How the CPU time of a function grows with its input: linear work grows 4x for 4x the
input, quadratic work 16x. Measured as this process's CPU time (best of a few runs, a
spoiled measurement repeated), so that a busy machine does not fail a test: a ratio,
never a wall time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

MAX_GROWTH = 9.0  # for 4x the input: about 3x per doubling
REPETITIONS = 3
ATTEMPTS = 3  # a quadratic function fails every attempt; noise does not
FLOOR_S = 20e-6  # below this a measurement is mostly the clock


def _cost(fn: Callable[[Any], object], arg: Any, loops: int) -> float:
    best = float("inf")
    for _ in range(REPETITIONS):
        started = time.process_time()
        for _ in range(loops):
            fn(arg)
        best = min(best, time.process_time() - started)
    return best


def growth(fn: Callable[[Any], object], small: Any, large: Any, loops: int = 1) -> float:
    """How much more CPU time ``fn`` takes on ``large`` than on ``small`` (``loops``
    calls each, for inputs too small to time one call)."""
    ratio = 0.0
    for _ in range(ATTEMPTS):
        ratio = _cost(fn, large, loops) / max(_cost(fn, small, loops), FLOOR_S)
        if ratio <= MAX_GROWTH:
            break
    return ratio
