from __future__ import annotations

import asyncio

import pytest

from services.ingest.idempotency import IdempotencyCache, KeyReused


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Action:
    """Counts its runs and returns a new id each time (like a publish)."""

    def __init__(self, fail_first: int = 0, pause: float = 0.0) -> None:
        self.runs = 0
        self.fail_first = fail_first
        self.pause = pause

    async def __call__(self) -> str:
        self.runs += 1
        if self.pause:
            await asyncio.sleep(self.pause)
        if self.runs <= self.fail_first:
            raise RuntimeError("broker down")
        return f"id-{self.runs}"


BODY = b'{"text": "Klant is boos"}'


def test_same_request_runs_once_and_is_replayed() -> None:
    cache, action = IdempotencyCache(100, 60), Action()

    async def go():
        return [await cache.run_once("client-a", "k1", BODY, action) for _ in range(3)]

    assert asyncio.run(go()) == [("id-1", False), ("id-1", True), ("id-1", True)]
    assert action.runs == 1


def test_same_key_with_a_different_body_is_refused() -> None:
    cache, action = IdempotencyCache(100, 60), Action()

    async def go():
        await cache.run_once("client-a", "k1", BODY, action)
        await cache.run_once("client-a", "k1", b'{"text": "iets anders"}', action)

    with pytest.raises(KeyReused):
        asyncio.run(go())
    assert action.runs == 1


def test_the_key_is_scoped_per_client() -> None:
    cache, action = IdempotencyCache(100, 60), Action()

    async def go():
        return [
            await cache.run_once("client-a", "k1", BODY, action),
            await cache.run_once("client-b", "k1", BODY, action),
        ]

    assert asyncio.run(go()) == [("id-1", False), ("id-2", False)]
    assert action.runs == 2


def test_different_keys_run_separately() -> None:
    cache, action = IdempotencyCache(100, 60), Action()

    async def go():
        return [await cache.run_once("client-a", k, BODY, action) for k in ("k1", "k2")]

    assert asyncio.run(go()) == [("id-1", False), ("id-2", False)]


def test_a_failed_action_is_forgotten() -> None:
    cache, action = IdempotencyCache(100, 60), Action(fail_first=1)

    async def go():
        with pytest.raises(RuntimeError, match="broker down"):
            await cache.run_once("client-a", "k1", BODY, action)
        first = await cache.run_once("client-a", "k1", BODY, action)
        second = await cache.run_once("client-a", "k1", BODY, action)
        return first, second

    assert asyncio.run(go()) == (("id-2", False), ("id-2", True))
    assert action.runs == 2


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache, action = IdempotencyCache(100, ttl_s=60, clock=clock), Action()

    async def go():
        results = [await cache.run_once("c", "k1", BODY, action)]
        clock.now += 59
        results.append(await cache.run_once("c", "k1", BODY, action))
        clock.now += 2  # 61 s after the first request
        results.append(await cache.run_once("c", "k1", BODY, action))
        return results

    assert asyncio.run(go()) == [("id-1", False), ("id-1", True), ("id-2", False)]


def test_an_expired_key_may_be_used_with_a_new_body() -> None:
    clock = Clock()
    cache, action = IdempotencyCache(100, ttl_s=10, clock=clock), Action()

    async def go():
        await cache.run_once("c", "k1", BODY, action)
        clock.now += 11
        return await cache.run_once("c", "k1", b"{}", action)

    assert asyncio.run(go()) == ("id-2", False)


def test_concurrent_requests_with_one_key_run_the_action_once() -> None:
    cache, action = IdempotencyCache(100, 60), Action(pause=0.01)

    async def go():
        return await asyncio.gather(
            *(cache.run_once("client-a", "k1", BODY, action) for _ in range(3))
        )

    results = asyncio.run(go())
    assert action.runs == 1
    assert sorted(results) == [("id-1", False), ("id-1", True), ("id-1", True)]


def test_concurrent_waiters_see_the_failure_and_a_retry_runs_again() -> None:
    cache, action = IdempotencyCache(100, 60), Action(fail_first=1, pause=0.01)

    async def go():
        outcomes = await asyncio.gather(
            cache.run_once("c", "k1", BODY, action),
            cache.run_once("c", "k1", BODY, action),
            return_exceptions=True,
        )
        retry = await cache.run_once("c", "k1", BODY, action)
        return outcomes, retry

    outcomes, retry = asyncio.run(go())
    assert [type(o) for o in outcomes] == [RuntimeError, RuntimeError]
    assert action.runs == 2
    assert retry == ("id-2", False)


def test_the_cache_is_bounded() -> None:
    cache, action = IdempotencyCache(max_entries=2, ttl_s=60), Action()

    async def go():
        for key in ("k1", "k2", "k3"):
            await cache.run_once("c", key, BODY, action)
        return await cache.run_once("c", "k1", BODY, action)  # k1 was evicted

    assert asyncio.run(go()) == ("id-4", False)
