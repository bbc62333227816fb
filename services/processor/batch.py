"""What the processor's stages decide about a batch of events, apart from Faust: which
signals a classify worker answers for, which of them are parked, and what each judged
event hands on. The agents in app.py only take batches, call these and send."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from schemas import Signal
from services.common.budget import OverBudget
from services.common.logging import fields
from services.processor import metrics
from services.processor.handlers import InvalidSignal, Judgement, assess_many, decode_signal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parked:
    """An event set aside on signals.dlq, and why."""

    reason: str


# What a stage hands on for one event: a record (topic, key, value), or a dead letter.
Output = tuple[str, bytes | None, bytes] | Parked
# A classify worker's answer for each message of a batch: the hand-over (JSON) or why
# the message is not a valid Signal.
Classified = bytes | str
# Runs ``classify_messages`` on a batch in a worker, under the budget (ChildPool.run).
Classifier = Callable[[Sequence[bytes | None]], Awaitable[Sequence[Classified]]]


def classify_messages(values: Sequence[bytes | None]) -> list[Classified]:
    """Raw signals in; for each, in order, the hand-over to the judge stage (JSON) or,
    for a message that is not a valid Signal, why (str). What a classify worker runs:
    one call per batch, so poison is answered per message, not raised for the batch."""
    decoded: list[Signal | str] = []
    for value in values:
        try:
            decoded.append(decode_signal(value))
        except InvalidSignal as exc:
            decoded.append(str(exc))
    assessed = iter(assess_many([item for item in decoded if isinstance(item, Signal)]))
    return [
        item if isinstance(item, str) else next(assessed).model_dump_json().encode()
        for item in decoded
    ]


def over_budget_reason(budget_s: float) -> str:
    return (
        f"classification took longer than its budget of {budget_s:g} s "
        "(ANTENNA_CLASSIFY_BUDGET_S): parked so that the partition goes on"
    )


async def classify_batch(
    classify: Classifier, values: Sequence[bytes | None], budget_s: float
) -> list[bytes | Parked]:
    """The hand-over of each message, or why it is parked. One call for the batch; when
    it fails (over budget, a worker lost, a bug), each message gets a call of its own and
    a budget of its own, so that one hostile message parks only itself."""
    if len(values) > 1:
        try:
            return [_answer(result) for result in await classify(values)]
        except Exception as exc:
            log.warning(
                "a batch was not classified; classifying its signals one by one",
                extra=fields(signals=len(values), error=type(exc).__name__),
            )
    return [await _classify_one(classify, value, budget_s) for value in values]


async def _classify_one(
    classify: Classifier, value: bytes | None, budget_s: float
) -> bytes | Parked:
    try:
        [result] = await classify([value])
    except OverBudget:
        metrics.OVER_BUDGET.inc()
        return Parked(over_budget_reason(budget_s))
    except Exception as exc:  # a bug, or a worker lost: park it, the partition goes on
        log.exception("cannot classify message")
        return Parked(f"{type(exc).__name__}: {exc}")
    return _answer(result)


def _answer(result: Classified) -> bytes | Parked:
    return Parked(result) if isinstance(result, str) else result


def judged_outputs(judged: Sequence[Judgement | Parked]) -> list[tuple[int, Output]]:
    """What a judged batch hands on, in the batch's order, each with the index of its
    event: a routed event or a duplicate for its topic, a dead letter for a parked event,
    nothing for a dropped re-submission."""
    handed: list[tuple[int, Output]] = []
    for index, result in enumerate(judged):
        if isinstance(result, Parked):
            handed.append((index, result))
        elif result.topic is not None and result.routed is not None:
            routed = result.routed.model_dump_json().encode()
            handed.append((index, (result.topic, result.key, routed)))
    return handed
