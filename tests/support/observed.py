"""A list that a server thread appends to and a test waits on, woken by each append."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Observed(Generic[T]):
    def __init__(self) -> None:
        self._items: list[T] = []
        self._changed = threading.Condition()

    def append(self, item: T) -> None:
        with self._changed:
            self._items.append(item)
            self._changed.notify_all()

    def all(self) -> list[T]:
        with self._changed:
            return list(self._items)

    def wait_for(
        self, predicate: Callable[[T], bool], count: int = 1, timeout_s: float = 60
    ) -> list[T]:
        """Block until ``count`` items match ``predicate``; return the matching ones."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                found = [item for item in self._items if predicate(item)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)}/{count} matching in {timeout_s}s")
                self._changed.wait(left)
