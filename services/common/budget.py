"""Run a pure function in a child process, with a time budget that really holds.

``re``, the e-mail package and the classifier hold the GIL while they work: a thread that
runs them cannot be interrupted, and while a long regular expression runs, the event loop
of the whole service waits. ``ProcessPoolExecutor`` cannot stop work that has started.
A ``ChildPool`` keeps a few worker processes; ``run`` hands one call to an idle worker and
awaits the answer without blocking the event loop. A call that is still running when its
budget is spent gets its worker killed (SIGKILL) and the caller gets ``OverBudget``; the
next call gets a new worker. A worker that dies on its own gives ``WorkerLost``.

Workers are forked from the service process (``start`` forks them all, at start-up, before
the service runs threads; otherwise on first use and when one is replaced): they start in
milliseconds with everything the service has loaded (the processor's trained model
included, which would otherwise be trained again in every worker) and share those pages
copy-on-write, where a spawned worker would import and train for seconds. A worker closes
every file descriptor it inherited except its own socket to the parent (listeners and
broker connections stay the parent's alone), ignores Ctrl-C (the parent stops it), and
exits when the parent goes away; it also arms an alarm of twice the budget for each call,
so that even a worker whose parent was killed stops. A fork copies the locks of the
parent's other threads as they are; a worker only runs the function it is given, and one
that would ever wait on such a lock is over budget and replaced like any other.

The function and its arguments travel pickled: pass module-level functions (or a
``functools.partial`` of one). What the function raises is raised by ``run``, with the
worker's traceback as a note. POSIX only (fork).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import pickle
import signal
import socket
import struct
import threading
import traceback
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_HEADER = struct.Struct("!Q")  # the length of the pickle that follows
_FIRST_READ = 1 << 16  # most answers fit, with their length, in one read
# A worker's own alarm: twice the budget plus this, in case its parent cannot kill it.
_ALARM_GRACE_S = 1.0


class ChildFailed(Exception):
    """The call did not return: see the subclasses. Nothing it did survives it."""


class OverBudget(ChildFailed):
    """The call was still running when its time budget was spent; its worker was killed."""


class WorkerLost(ChildFailed):
    """The worker died during the call (killed from outside, out of memory, a crash)."""


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What one item of ``ChildPool.run_each`` came to: its value, or what it raised."""

    value: T | None = None
    error: Exception | None = None


@dataclass
class _Worker:
    pid: int
    sock: socket.socket


class ChildPool:
    """At most ``size`` worker processes; calls beyond that wait for a free worker (the
    wait does not count against the budget). Usable from any event loop and thread."""

    def __init__(self, size: int, name: str) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one worker")
        self.size = size
        self.name = name
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._workers: dict[int, _Worker] = {}  # every live worker, idle or busy
        self._starting = 0  # forks under way, counted against size
        self._waiters: deque[asyncio.Future[_Worker]] = deque()
        self._closed = False
        # Kill the workers when the pool is dropped or the interpreter exits; only in the
        # process that owns them (a process forked for another purpose must not).
        self._finalizer = weakref.finalize(self, _stop_workers, self._workers, os.getpid())

    @property
    def pids(self) -> list[int]:
        """The live workers' process ids."""
        with self._lock:
            return list(self._workers)

    def start(self) -> None:
        """Fork all workers now: at start-up, while the service has no threads yet."""
        while worker := self._reserve_and_fork():
            self._release(worker)

    async def run(self, budget_s: float, fn: Callable[..., T], /, *args: Any) -> T:
        """``fn(*args)`` in a worker; OverBudget after ``budget_s`` seconds, WorkerLost when
        the worker dies; what ``fn`` raises is raised here."""
        worker = await self._acquire()
        answer: tuple[str, Any, str] | None = None
        try:
            async with asyncio.timeout(budget_s):
                answer = await _call(worker, (fn, args, budget_s))
        except TimeoutError:
            raise OverBudget(
                f"{self.name}: {_name(fn)} did not finish within its budget of {budget_s:g} s;"
                " its worker was stopped"
            ) from None
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            raise WorkerLost(f"{self.name}: the worker died during {_name(fn)}") from exc
        finally:
            if answer is None:  # over budget, lost or cancelled: the worker is in an
                self._kill(worker)  # unknown state, so it goes
            else:
                self._release(worker)
        status, value, trace = answer
        if status == "ok":
            return value  # type: ignore[no-any-return]
        if isinstance(value, BaseException):
            value.add_note(f"in {self.name} worker {worker.pid}:\n{trace}")
            raise value
        raise ChildFailed(f"{self.name}: {value}")

    async def run_each(
        self, budget_s: float, fn: Callable[[Any], T], items: list[Any]
    ) -> list[Outcome[T]]:
        """``fn(item)`` for each of ``items``: all in one call (one round trip to a worker)
        when the whole batch finishes within ``budget_s``; otherwise, or when its worker
        was lost, one call per item, each with ``budget_s``, so that only an item that
        alone takes longer comes back OverBudget (and one that kills its worker,
        WorkerLost). The budget holds per item: no item is cut short that would have
        finished in time on its own."""
        if len(items) > 1:
            try:
                answers = await self.run(budget_s, _each, fn, items)
            except ChildFailed:
                pass  # over budget or lost: item by item, to find the culprit
            else:
                return [Outcome(value) if ok else Outcome(error=value) for ok, value in answers]
        outcomes: list[Outcome[T]] = []
        for item in items:
            try:
                outcomes.append(Outcome(await self.run(budget_s, fn, item)))
            except Exception as exc:
                outcomes.append(Outcome(error=exc))
        return outcomes

    def close(self) -> None:
        """Stop every worker (idle ones see their socket close; all are killed and reaped)."""
        with self._lock:
            self._closed = True
            waiters, self._waiters = list(self._waiters), deque()
        for waiter in waiters:
            self._settle(waiter, exception=ChildFailed(f"{self.name}: the pool is closed"))
        self._finalizer()

    # --- workers ------------------------------------------------------------------------

    async def _acquire(self) -> _Worker:
        while True:
            waiter: asyncio.Future[_Worker] | None = None
            with self._lock:
                if self._closed:
                    raise ChildFailed(f"{self.name}: the pool is closed")
                while self._idle:
                    worker = self._idle.pop()
                    if _alive(worker):
                        return worker
                    self._workers.pop(worker.pid, None)  # died while idle: replace it
                    worker.sock.close()
                if len(self._workers) + self._starting >= self.size:
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.append(waiter)
            if waiter is None:
                forked = self._reserve_and_fork()
                if forked is not None:
                    return forked
                continue  # another caller took the last place meanwhile
            try:
                return await waiter
            except _Retry:
                continue
            except asyncio.CancelledError:
                with self._lock, contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    self._release(waiter.result())  # handed over just as we gave up
                raise

    def _reserve_and_fork(self) -> _Worker | None:
        with self._lock:
            if self._closed or len(self._workers) + self._starting >= self.size:
                return None
            self._starting += 1
        try:
            worker = _fork_worker()
        finally:
            with self._lock:
                self._starting -= 1
        with self._lock:
            self._workers[worker.pid] = worker
        return worker

    def _release(self, worker: _Worker) -> None:
        """Back to the pool: to the first caller still waiting, or idle."""
        while True:
            waiter: asyncio.Future[_Worker] | None = None
            with self._lock:
                if self._closed:
                    break
                if not self._waiters:
                    self._idle.append(worker)
                    return
                waiter = self._waiters.popleft()
            if self._settle(waiter, result=worker):
                return
        self._kill(worker)

    def _kill(self, worker: _Worker) -> None:
        with self._lock:
            self._workers.pop(worker.pid, None)
        _stop_worker(worker)
        # A place is free: a waiting caller may fork the replacement.
        with self._lock:
            waiter = self._waiters.popleft() if self._waiters else None
        if waiter is not None:
            self._settle(waiter, exception=_Retry())

    def _settle(
        self,
        waiter: asyncio.Future[_Worker],
        *,
        result: _Worker | None = None,
        exception: BaseException | None = None,
    ) -> bool:
        """Complete a waiter on its own loop (maybe another thread's); False when that loop
        is closed, so that the worker goes to the next waiter."""

        def complete() -> None:
            if waiter.done():  # its caller gave up meanwhile
                if result is not None:
                    self._release(result)
                return
            if exception is not None:
                waiter.set_exception(exception)
            else:
                waiter.set_result(result)  # type: ignore[arg-type]

        try:
            waiter.get_loop().call_soon_threadsafe(complete)
        except RuntimeError:  # its loop is closed
            return False
        return True


class _Retry(Exception):
    """Internal: a place in the pool came free; try to take it."""


async def _call(worker: _Worker, request: tuple[Any, ...]) -> tuple[str, Any, str]:
    # As few system calls and event-loop wake-ups as possible: one send, and usually one
    # receive for the length and the whole answer (one call per signal is the hot path).
    loop = asyncio.get_running_loop()
    payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
    await loop.sock_sendall(worker.sock, _HEADER.pack(len(payload)) + payload)
    received = await _receive(loop, worker.sock, _HEADER.size, _FIRST_READ)
    (size,) = _HEADER.unpack_from(received)
    body = received[_HEADER.size :]
    if len(body) < size:
        body += await _receive(loop, worker.sock, size - len(body), size - len(body))
    answer: tuple[str, Any, str] = pickle.loads(body)  # noqa: S301 - our own worker's answer
    return answer


async def _receive(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, at_least: int, at_most: int
) -> bytes:
    data = bytearray(at_most)
    view = memoryview(data)
    got = 0
    while got < at_least:
        count = await loop.sock_recv_into(sock, view[got:])
        if count == 0:
            raise EOFError("the worker closed its socket")
        got += count
    return bytes(view[:got])


def _name(fn: Callable[..., Any]) -> str:
    inner = getattr(fn, "func", fn)  # functools.partial
    return str(getattr(inner, "__qualname__", type(inner).__name__))


def _alive(worker: _Worker) -> bool:
    try:
        pid, _ = os.waitpid(worker.pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return pid == 0


def _stop_worker(worker: _Worker) -> None:
    with contextlib.suppress(OSError):
        worker.sock.close()
    with contextlib.suppress(ProcessLookupError):
        os.kill(worker.pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(worker.pid, 0)  # SIGKILL cannot be ignored: this returns at once


def _stop_workers(workers: dict[int, _Worker], owner: int) -> None:
    if os.getpid() != owner:
        return
    for worker in list(workers.values()):
        _stop_worker(worker)
    workers.clear()


# --- the worker process -------------------------------------------------------------------


def _fork_worker() -> _Worker:
    parent_end, child_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child (the tests see its effects)
        status = 1
        try:
            _serve(child_end)
            status = 0
        finally:
            os._exit(status)
    child_end.close()
    parent_end.setblocking(False)
    return _Worker(pid, parent_end)


def _each(fn: Callable[[Any], Any], items: list[Any]) -> list[tuple[bool, Any]]:
    """Runs in a worker: ``fn`` over ``items``, each item's value or exception."""
    answers: list[tuple[bool, Any]] = []
    for item in items:
        try:
            answers.append((True, fn(item)))
        except Exception as exc:
            exc.add_note(f"in a worker:\n{traceback.format_exc()}")
            answers.append((False, _picklable(exc)))
    return answers


def _picklable(exc: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301 - ours
    except Exception:
        return ChildFailed(f"{type(exc).__name__}: {exc}")
    return exc


def _serve(sock: socket.socket) -> None:  # pragma: no cover - runs in the child
    _close_inherited_files(keep=sock.fileno())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which stops us
    for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGALRM, signal.SIGCHLD):
        signal.signal(number, signal.SIG_DFL)
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)  # the parent's event loop's, closed here
    gc.freeze()  # inherited objects stay as they are: no collection, no copied pages
    sock.setblocking(True)
    while True:
        header = _read(sock, _HEADER.size)
        if header is None:
            return  # the parent closed our socket, or went away
        (size,) = _HEADER.unpack(header)
        body = _read(sock, size)
        if body is None:
            return
        fn, args, budget_s = pickle.loads(body)  # noqa: S301 - from our parent
        signal.setitimer(signal.ITIMER_REAL, budget_s * 2 + _ALARM_GRACE_S)
        try:
            answer: tuple[str, Any, str] = ("ok", fn(*args), "")
        except Exception as exc:
            answer = ("error", exc, traceback.format_exc())
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        payload = _dumps(answer)
        sock.sendall(_HEADER.pack(len(payload)) + payload)


def _dumps(answer: tuple[str, Any, str]) -> bytes:  # pragma: no cover - runs in the child
    try:
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)  # noqa: S301 - an exception that pickles may still not unpickle
        return data
    except Exception:
        status, value, trace = answer
        if status == "ok":
            raise  # a result that does not pickle is a bug in the caller: the worker dies
        text = f"{type(value).__name__}: {value}"
        return pickle.dumps(("error", text, trace), protocol=pickle.HIGHEST_PROTOCOL)


def _read(sock: socket.socket, size: int) -> bytes | None:  # pragma: no cover - in the child
    data = bytearray(size)
    view = memoryview(data)
    got = 0
    while got < size:
        count = sock.recv_into(view[got:])
        if count == 0:
            return None
        got += count
    return bytes(data)


def _close_inherited_files(keep: int) -> None:  # pragma: no cover - runs in the child
    try:
        numbers = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        numbers = list(range(3, 1024))
    for number in numbers:
        if number > 2 and number != keep:
            with contextlib.suppress(OSError):
                os.close(number)
