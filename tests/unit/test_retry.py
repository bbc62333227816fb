from __future__ import annotations

import random

import pytest

from services.connectors.retry import RetryPolicy, next_delay

POLICY = RetryPolicy(max_attempts=10, base_delay_s=0.5, max_delay_s=30.0, max_retry_after_s=120.0)


class _Top(random.Random):
    """Always picks the upper bound, so the ceiling itself can be asserted."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.mark.parametrize("attempt", [10, 11, 50])
def test_gives_up_when_attempts_are_used_up(attempt: int) -> None:
    assert next_delay(POLICY, attempt, rand=random.Random(1)) is None
    assert next_delay(POLICY, attempt, retry_after_s=1.0) is None


def test_default_policy_gives_up_after_five_attempts() -> None:
    policy = RetryPolicy()
    assert next_delay(policy, 4, rand=random.Random(1)) is not None
    assert next_delay(policy, 5, rand=random.Random(1)) is None


def test_backoff_doubles_per_attempt() -> None:
    ceilings = [next_delay(POLICY, attempt, rand=_Top()) for attempt in range(1, 7)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]


def test_jittered_delay_stays_between_half_and_full_ceiling() -> None:
    rand = random.Random(20250314)
    for attempt in range(1, 7):
        ceiling = 0.5 * 2 ** (attempt - 1)
        for _ in range(50):
            delay = next_delay(POLICY, attempt, rand=rand)
            assert delay is not None
            assert ceiling / 2 <= delay <= ceiling, (attempt, delay)


def test_seeded_random_makes_delays_reproducible() -> None:
    first = [next_delay(POLICY, a, rand=random.Random(7)) for a in range(1, 6)]
    again = [next_delay(POLICY, a, rand=random.Random(7)) for a in range(1, 6)]
    assert first == again
    assert len(set(first)) == 5


def test_delay_is_capped_by_max_delay() -> None:
    assert next_delay(POLICY, 9, rand=_Top()) == 30.0  # 0.5 * 2**8 = 128 -> 30
    rand = random.Random(3)
    for _ in range(50):
        delay = next_delay(POLICY, 9, rand=rand)
        assert delay is not None
        assert 15.0 <= delay <= 30.0


def test_retry_after_is_honoured() -> None:
    assert next_delay(POLICY, 1, retry_after_s=7.0, rand=random.Random(1)) == 7.0
    assert next_delay(POLICY, 3, retry_after_s=0.0) == 0.0
    # Retry-After wins over the backoff cap as long as it is within max_retry_after_s.
    assert next_delay(POLICY, 1, retry_after_s=120.0) == 120.0


def test_retry_after_beyond_the_maximum_gives_up() -> None:
    assert next_delay(POLICY, 1, retry_after_s=120.5) is None
    assert next_delay(POLICY, 1, retry_after_s=3600.0) is None
