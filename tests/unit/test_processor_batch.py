"""The processor's stages work in batches (services/processor/batch.py): one call to a
classify worker per batch, yet one hostile or broken message parks only itself; each
judged event hands on what it would have on its own."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator, Sequence
from functools import partial

import pytest

from services.common.budget import ChildPool, WorkerLost
from services.processor.batch import (
    Classified,
    Parked,
    classify_batch,
    classify_messages,
    judged_outputs,
)
from services.processor.domain.dedupe import Deduper
from services.processor.domain.route import DEFAULT_RULES
from services.processor.handlers import Judgement, assess, judge
from tests.support.builders import RECEIVED_AT, build_signal

RUNAWAY = re.compile(r"(a*)*b")
HOSTILE = b"hostile"
BUDGET_S = 1.0  # far above a quick call, far below the runaway's hours


def answer_or_run_away(values: Sequence[bytes | None]) -> list[Classified]:
    """A classify worker's stand-in: each value upper-cased; the hostile one backtracks
    for hours inside one C call (the GIL held), as a slow text once did."""
    for value in values:
        if value == HOSTILE:
            RUNAWAY.match("a" * 40)
    return [(value or b"").upper() for value in values]


@pytest.fixture
def pool() -> Iterator[ChildPool]:
    children = ChildPool(1, "test")
    yield children
    children.close()


def test_a_hostile_message_parks_only_itself_and_the_others_of_its_batch_are_classified(
    pool: ChildPool,
) -> None:
    """Seen without the fallback: the batch's one call ran over the budget and every
    message of the batch was parked with the hostile one."""
    run = partial(pool.run, BUDGET_S, answer_or_run_away)
    results = asyncio.run(classify_batch(run, [b"first", HOSTILE, b"last"], BUDGET_S))
    assert results[0] == b"FIRST" and results[2] == b"LAST"
    assert isinstance(results[1], Parked)
    assert "longer than its budget of 1 s" in results[1].reason
    assert "ANTENNA_CLASSIFY_BUDGET_S" in results[1].reason


def test_a_batch_is_one_call_to_a_worker() -> None:
    calls: list[Sequence[bytes | None]] = []

    async def classify(values: Sequence[bytes | None]) -> list[Classified]:
        calls.append(values)
        return [b"ok", "not a valid Signal: empty message"]

    results = asyncio.run(classify_batch(classify, [b"good", b""], BUDGET_S))
    assert calls == [[b"good", b""]]
    assert results == [b"ok", Parked("not a valid Signal: empty message")]


def test_a_lost_worker_is_the_culprits_alone_when_each_message_is_tried_on_its_own() -> None:
    calls: list[Sequence[bytes | None]] = []

    async def classify(values: Sequence[bytes | None]) -> list[Classified]:
        calls.append(values)
        if b"crash" in values:
            raise WorkerLost("classify: the worker died")
        return list(values)

    results = asyncio.run(classify_batch(classify, [b"a", b"crash", b"b"], BUDGET_S))
    assert calls == [[b"a", b"crash", b"b"], [b"a"], [b"crash"], [b"b"]]
    assert results == [b"a", Parked("WorkerLost: classify: the worker died"), b"b"]


def test_the_worker_answers_each_message_of_a_batch_in_order_poison_with_its_reason() -> None:
    good, other = build_signal(), build_signal(text="Graag een hypotheekgesprek.")
    encoded = [signal.model_dump_json().encode() for signal in (good, other)]
    answers = classify_messages([encoded[0], b"\xff not json", None, encoded[1]])
    assert answers[0] == assess(good).model_dump_json().encode()
    assert answers[3] == assess(other).model_dump_json().encode()
    assert isinstance(answers[1], str) and "not a valid Signal" in answers[1]
    assert isinstance(answers[2], str) and "empty message" in answers[2]


def test_a_judged_batch_hands_on_routed_events_and_dead_letters_and_drops_resubmissions() -> None:
    deduper = Deduper({})
    first = build_signal(customer={"phone": "0612345678"})
    resent = build_signal(customer={"phone": "0612345678"})  # same report, another id
    judged: list[Judgement | Parked] = []
    for signal in (first, resent):
        classification = assess(signal).classification
        judged.append(judge(signal, classification, deduper, DEFAULT_RULES, RECEIVED_AT))
    judged.insert(1, Parked("not a valid ClassifiedSignal"))

    handed = judged_outputs(judged)
    assert [index for index, _ in handed] == [0, 1]  # the re-submission hands on nothing
    (topic, key, value), parked = handed[0][1], handed[1][1]
    routed = judged[0]
    assert isinstance(routed, Judgement) and routed.topic == topic
    assert key == first.signal_id.encode()
    assert json.loads(value)["dedupe"]["cluster_id"] == first.signal_id
    assert parked == Parked("not a valid ClassifiedSignal")
    last = judged[2]
    assert isinstance(last, Judgement) and last.decision.resubmission
