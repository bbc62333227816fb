"""services.common.budget: a pure function in a child process, with a budget that holds.

The runaway here is a regular expression that backtracks exponentially: one call into
``re`` that holds the GIL and would run for hours, the way the issue's slow texts froze
the ingest. The tests wait on events (which of two calls finishes first), not on sleeps.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.budget import ChildFailed, ChildPool, OverBudget, WorkerLost

RUNAWAY = re.compile(r"(a*)*b")
LONG = 60.0  # seconds: a budget the quick calls never reach


def runaway() -> object:
    return RUNAWAY.match("a" * 40)  # about 2**40 steps, inside one C call


def add(a: int, b: int) -> int:
    return a + b


def my_pid() -> int:
    return os.getpid()


def fail() -> None:
    raise LookupError("no such customer")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def open_files() -> list[str]:
    return sorted(os.listdir("/proc/self/fd"))


def unpicklable() -> None:
    class Local(Exception):
        pass

    raise Local("defined in a function: cannot be pickled")


@pytest.fixture
def pool() -> Iterator[ChildPool]:
    children = ChildPool(2, "test")
    yield children
    children.close()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_call_returns_what_the_function_returns(pool: ChildPool) -> None:
    assert asyncio.run(pool.run(LONG, add, 2, 3)) == 5
    [pid] = pool.pids
    assert pid != os.getpid()


def test_a_runaway_call_is_stopped_while_the_event_loop_goes_on(pool: ChildPool) -> None:
    async def scenario() -> None:
        slow = asyncio.create_task(pool.run(0.5, runaway))
        quick = asyncio.create_task(pool.run(LONG, add, 1, 1))
        done, _ = await asyncio.wait({slow, quick}, return_when=asyncio.FIRST_COMPLETED)
        # The loop handled the quick call's answer while the runaway held its worker's GIL.
        assert done == {quick} and quick.result() == 2
        with pytest.raises(OverBudget, match=r"runaway did not finish within its budget of 0\.5 s"):
            await slow

    asyncio.run(scenario())


def test_the_runaway_worker_is_killed_and_replaced(pool: ChildPool) -> None:
    async def scenario() -> tuple[int, int]:
        first = await pool.run(LONG, my_pid)
        with pytest.raises(OverBudget):
            await pool.run(0.2, runaway)
        return first, await pool.run(LONG, my_pid)

    first, second = asyncio.run(scenario())
    assert _gone(first)  # killed and reaped: not even a zombie
    assert second != first
    assert pool.pids == [second]


def test_what_the_function_raises_is_raised_with_the_workers_traceback(pool: ChildPool) -> None:
    with pytest.raises(LookupError, match="no such customer") as raised:
        asyncio.run(pool.run(LONG, fail))
    assert any("in fail" in note and "Traceback" in note for note in raised.value.__notes__)
    with pytest.raises(ChildFailed, match="Local: defined in a function"):
        asyncio.run(pool.run(LONG, unpicklable))
    assert asyncio.run(pool.run(LONG, add, 1, 2)) == 3  # the worker is still fine


def test_a_worker_that_dies_during_a_call_is_lost_and_replaced(pool: ChildPool) -> None:
    with pytest.raises(WorkerLost):
        asyncio.run(pool.run(LONG, die))
    assert asyncio.run(pool.run(LONG, add, 1, 2)) == 3


def test_a_worker_that_died_while_idle_is_replaced_before_a_call(pool: ChildPool) -> None:
    pid = asyncio.run(pool.run(LONG, my_pid))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)  # it is gone for sure
    assert asyncio.run(pool.run(LONG, my_pid)) != pid  # no WorkerLost for this call


def test_more_calls_than_workers_wait_their_turn(pool: ChildPool) -> None:
    async def scenario() -> list[int]:
        return await asyncio.gather(*(pool.run(LONG, add, i, i) for i in range(20)))

    assert asyncio.run(scenario()) == [2 * i for i in range(20)]
    assert len(pool.pids) <= pool.size


def test_a_waiting_call_gets_the_place_of_a_killed_worker() -> None:
    one = ChildPool(1, "one")
    try:

        async def scenario() -> int:
            slow = asyncio.create_task(one.run(0.3, runaway))
            waiting = asyncio.create_task(one.run(LONG, add, 20, 22))
            with pytest.raises(OverBudget):
                await slow
            return await waiting

        assert asyncio.run(scenario()) == 42
    finally:
        one.close()


def test_a_cancelled_call_takes_its_worker_with_it(pool: ChildPool) -> None:
    async def scenario() -> int:
        call = asyncio.create_task(pool.run(LONG, runaway))
        await asyncio.sleep(0)  # let it start
        [pid] = pool.pids
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        return pid

    pid = asyncio.run(scenario())
    assert _gone(pid)
    assert asyncio.run(pool.run(LONG, add, 1, 1)) == 2


def test_workers_keep_no_file_of_the_service(pool: ChildPool, tmp_path: Path) -> None:
    """A forked worker that held the service's listening socket would keep its port after
    the service stopped; one that held a broker connection could write to it."""
    listener = socket.create_server(("127.0.0.1", 0))
    log = (tmp_path / "service.log").open("w")
    try:
        pool.start()
        files = asyncio.run(pool.run(LONG, open_files))
        # stdin, stdout, stderr, its own socket to the pool, and the directory it lists.
        assert len(files) == 5, files
    finally:
        listener.close()
        log.close()


def test_close_stops_every_worker_and_refuses_later_calls() -> None:
    closing = ChildPool(2, "closing")
    closing.start()
    pids = closing.pids
    assert len(pids) == 2
    closing.close()
    assert all(_gone(pid) for pid in pids)
    with pytest.raises(ChildFailed, match="closed"):
        asyncio.run(closing.run(LONG, add, 1, 1))


def test_one_pool_serves_one_event_loop_after_another(pool: ChildPool) -> None:
    # The ingest shares one pool between the API and the SMTP listener, and tests run
    # each app on a loop of its own.
    assert [asyncio.run(pool.run(LONG, add, i, 1)) for i in range(3)] == [1, 2, 3]


def item(value: str) -> tuple[str, int]:
    """One item of a batch: an error for "bad", a runaway for "runaway", else its worker."""
    if value == "bad":
        raise LookupError("no such customer")
    if value == "runaway":
        runaway()
    return value, os.getpid()


def test_a_batch_runs_in_one_call_each_item_with_its_own_value_or_error(pool: ChildPool) -> None:
    outcomes = asyncio.run(pool.run_each(LONG, item, ["a", "bad", "b"]))
    assert [o.value[0] if o.value else None for o in outcomes] == ["a", None, "b"]
    assert isinstance(outcomes[1].error, LookupError)
    # One call: both items were handled by the same worker, which is still there.
    a, b = (o.value for o in (outcomes[0], outcomes[2]))
    assert a is not None and b is not None and a[1] == b[1] and a[1] in pool.pids


def test_a_batch_over_budget_runs_again_item_by_item_and_only_the_culprit_is_over(
    pool: ChildPool,
) -> None:
    outcomes = asyncio.run(pool.run_each(0.5, item, ["a", "runaway", "b", "bad"]))
    assert [o.value[0] if o.value else None for o in outcomes] == ["a", None, "b", None]
    assert isinstance(outcomes[1].error, OverBudget)
    assert isinstance(outcomes[3].error, LookupError)
