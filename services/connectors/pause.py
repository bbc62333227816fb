"""Which destinations are paused, and the evidence that tells a bad payload from an
outage. Pure state shared by the agents of one worker; the clock's reading is passed in.

A destination is paused while at least one of its signals waits after an outage-like
failure; it is paused since the first failure of the longest-waiting one. The last
successful delivery is the evidence for ``retry.decide``: a signal that keeps failing
while others get through is a bad payload. Only this worker's deliveries count, so the
evidence needs another partition (or the duplicates topic) of the same destination on
the same worker."""

from __future__ import annotations

from collections.abc import Callable, Hashable

# Told the destination and since when it is paused (None: resumed); sets the gauges.
Observer = Callable[[str, float | None], None]


class DestinationHealth:
    def __init__(self, destination: str, observer: Observer | None = None) -> None:
        self.destination = destination
        self.delivered_at: float | None = None
        self._waiting: dict[Hashable, float] = {}  # who waits -> since
        self._observer = observer
        self._reported: float | None = None

    @property
    def paused_since(self) -> float | None:
        return min(self._waiting.values(), default=None)

    def delivered(self, now: float) -> None:
        if self.delivered_at is None or now > self.delivered_at:
            self.delivered_at = now

    def waiting(self, who: Hashable, since: float) -> None:
        self._waiting[who] = since
        self._report()

    def done(self, who: Hashable) -> None:
        self._waiting.pop(who, None)
        self._report()

    def _report(self) -> None:
        since = self.paused_since
        if since != self._reported:
            self._reported = since
            if self._observer is not None:
                self._observer(self.destination, since)
