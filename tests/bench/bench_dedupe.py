"""Cost per signal of the dedupe memory as it fills: `make bench-dedupe`.

The Deduper alone (no classifier, no broker) decides 100,000 signals arriving one every
20 seconds (23 days, past the 14-day window, so forgetting is part of the cost). Their
classification and matter profile are made beforehand, as the classify stage makes them. 10% of
them are about ten surnames ("Jansen", "de Vries", ...) with ten first names and a few
phones between them; the rest are about other people. The cost per signal at 1,000,
10,000 and 100,000 signals is the mean over the tenth of the signals before that point
(the median of three passes); flat means the ratio largest/smallest is about 1. The
signals about the ten surnames are shown apart: they meet the most candidates, more as
their index keys fill, up to the index cap (--index-cap, default the policy's).

Two memories: a dict (what `antenna dedupe` uses), and a dict that encodes every write
as JSON, as the processor's Faust table does for its changelog record; the largest such
record is printed too (a broker refuses records past its limit, 1 MB by default).
Times are this process's CPU time (other work on the machine shows less); still, compare
the ratio, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import Category, Classification, Kind, Signal, new_signal_id
from services.processor.domain.dedupe import DedupePolicy, Deduper, Memory
from services.processor.domain.matter import Matter, matter_of

SURNAMES = "Jansen|de Vries|van den Berg|Bakker|Visser|Smit|Meijer|de Boer|Mulder|de Groot".split(
    "|"
)
FIRST = ["Jan", "Anna", "Piet", "Els", "Kees", "Maria", "Sanne", "Daan", "Fleur", "Bram"]
SYLLABLES = ["ba", "ko", "ri", "mu", "ten", "vel", "dor", "sa", "lin", "gro", "pe", "hu"]
CATEGORIES = [
    Category.payments_cards,
    Category.energy,
    Category.delivery,
    Category.invoice_billing,
    Category.mortgage_loans,
    Category.internet_telecom,
]
EVERY = timedelta(seconds=20)
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


class ChangelogMemory(dict[str, Any]):
    """Encodes each write as the table's changelog record would be; keeps the largest."""

    largest = 0

    def __setitem__(self, key: str, value: Any) -> None:
        self.largest = max(self.largest, len(json.dumps(value).encode()))
        super().__setitem__(key, value)


def unique_surname(i: int) -> str:
    letters = []
    while True:
        i, rest = divmod(i, len(SYLLABLES))
        letters.append(SYLLABLES[rest])
        if not i:
            return "".join(letters).capitalize() + "ma"


Work = list[tuple[Signal, Classification, bool, Matter]]


def workload(n: int, seed: int = 11) -> Work:
    """(signal, classification, about one of the ten surnames, matter) in arrival order.
    The matter is profiled beforehand, as the classify stage does before the judge stage."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        hot = rng.random() < 0.10
        if hot:
            first, surname = rng.choice(FIRST), rng.choice(SURNAMES)
            name = f"{first[0]}. {surname}" if rng.random() < 0.3 else f"{first} {surname}"
            phone = f"06{rng.randrange(10_000_000, 10_000_050)}" if rng.random() < 0.3 else None
            customer = {"name": name, "phone": phone}
        else:
            customer = {
                "name": f"{rng.choice(FIRST)} {unique_surname(i)}",
                "phone": f"06{20_000_000 + i}" if rng.random() < 0.7 else None,
            }
        category = rng.choice(CATEGORIES)
        signal = Signal(
            signal_id=new_signal_id(),
            idempotency_key=f"bench-{i}",
            channel="api",
            source="bench",
            received_at=T0 + EVERY * i,
            reporter={"employee_id": f"e-{rng.randrange(500)}"},
            customer=customer,
            text=f"Report {i}: {category.value} trouble, {rng.randrange(10**6)}",
        )
        classification = Classification(
            kind=rng.choice([Kind.complaint, Kind.complaint, Kind.opportunity]),
            confidence=round(rng.uniform(0.6, 0.95), 2),
            category=category,
            language="en",
            classifier_version="bench",
        )
        out.append((signal, classification, hot, matter_of(signal.text)))
    return out


def timed_pass(work: Work, memory: Memory, policy: DedupePolicy) -> tuple[list[float], int]:
    """CPU seconds of each decision in arrival order, and the duplicates found."""
    deduper = Deduper(memory, policy)
    clock = time.process_time  # this process's CPU time: less noise from other work
    took, duplicates = [], 0
    for signal, classification, _, matter in work:
        start = clock()
        decision = deduper.decide(signal, classification, signal.received_at, None, matter)
        took.append(clock() - start)
        duplicates += decision.duplicate_of is not None
    return took, duplicates


def at_size(work: Work, took: list[float], n: int) -> dict[str, float]:
    """Mean ms per signal over the last tenth before the n-th signal: the cost once the
    memory holds what n signals left (all of them, or the window's)."""
    span = range(n - n // 10, n)

    def ms(signals: list[int]) -> float:
        return 1000 * sum(took[i] for i in signals) / max(len(signals), 1)

    return {
        "ms_per_signal": ms(list(span)),
        "ms_ten_surnames": ms([i for i in span if work[i][2]]),
        "ms_others": ms([i for i in span if not work[i][2]]),
    }


def measure(
    work: Work,
    sizes: list[int],
    make: Callable[[], Memory],
    repeats: int,
    policy: DedupePolicy,
) -> dict[str, Any]:
    """One pass per repeat over all signals; the median of the repeats per size."""
    passes, memory, duplicates = [], make(), 0
    for _ in range(repeats):
        memory = make()
        took, duplicates = timed_pass(work, memory, policy)
        passes.append([at_size(work, took, n) for n in sizes])
    runs = []
    for i, n in enumerate(sizes):
        median = {k: round(statistics.median(p[i][k] for p in passes), 4) for k in passes[0][i]}
        runs.append({"signals": n, **median})
    result: dict[str, Any] = {
        "runs": runs,
        "largest_over_smallest": {
            k: round(runs[-1][k] / runs[0][k], 2)
            for k in ("ms_per_signal", "ms_ten_surnames", "ms_others")
        },
        "duplicates_found": duplicates,
        "keys_at_end": len(memory),
        "largest_value_bytes": max(len(json.dumps(v).encode()) for v in memory.values()),
    }
    if isinstance(memory, ChangelogMemory):
        result["largest_changelog_record_bytes"] = memory.largest
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--index-cap", type=int, default=DedupePolicy.index_cap)
    args = parser.parse_args()
    policy = DedupePolicy(index_cap=args.index_cap)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    work = workload(sizes[-1])
    memories: dict[str, Callable[[], Memory]] = {"dict": dict, "changelog": ChangelogMemory}
    report: dict[str, Any] = {"index_cap": policy.index_cap}
    for name, make in memories.items():
        report[name] = measure(work, sizes, make, args.repeats, policy)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
