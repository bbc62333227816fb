"""The processor's stages take events in batches (issue 10, part 2): a crash in the
middle of a batch, on the real broker, loses nothing and doubles nothing."""

from __future__ import annotations

import json

from schemas import topics
from tests.integration.test_judgement import (
    FOLLOW_UP,
    MEMORY_CHANGELOG,
    crash_at,
    killed,
    report_about,
    routed_events,
    unique_phone,
)
from tests.integration.test_pipeline import for_signal
from tests.support.http_recorder import Recorder
from tests.support.kafka import records_until_now
from tests.support.services import Services

REPORTS = 12
# Each stage waits this long for its batch to fill, so that a backlog is taken whole.
WHOLE_BATCHES = {"ANTENNA_PROCESSOR_BATCH_WAIT_MS": "2000"}


def test_a_processor_killed_between_remembering_a_batch_and_routing_it_loses_nothing(
    pipeline: Services, recorder: Recorder, kafka: str
) -> None:
    """Reports wait on signals.raw while the processor is down, so that it takes several
    at once. It dies (SIGKILL) once the dedupe memory's writes for its first batch are
    acknowledged, before any of the batch is routed or committed. The memory must then
    hold the decisions of more than one report (it worked in batches), none may be
    routed yet, and after the restart every report reaches the desk once, as its own
    case, and a colleague's report joins the last one's case."""
    phones = [unique_phone() for _ in range(REPORTS)]
    pipeline.stop("processor")
    ids = [report_about(pipeline, phone) for phone in phones]
    armed = {**crash_at(pipeline, "judge.remembered"), **WHOLE_BATCHES}
    with pipeline.running_with("processor", armed) as worker:
        assert killed(worker)
        keys = {json.dumps(f"signal:{signal_id}").encode() for signal_id in ids}  # as Faust
        remembered = records_until_now(kafka, MEMORY_CHANGELOG, lambda r: r.key in keys)
        assert len({r.key for r in remembered}) > 1
        for record in remembered:
            assert json.loads(record.value)["decision"]["cluster_id"].encode() in record.key
        # Nothing of the batch was handed on before its memory was safe: not one routed.
        wanted = {signal_id.encode() for signal_id in ids}
        assert records_until_now(kafka, topics.ROUTED_SERVICEDESK, lambda r: r.key in wanted) == []

    for signal_id in ids:
        [ticket] = recorder.wait_for("/desk", for_signal(signal_id), timeout_s=90)
        assert ticket.json()["dedupe"]["cluster_id"] == signal_id
    follow_up = report_about(pipeline, phones[-1], FOLLOW_UP, "e-79")
    [note] = recorder.wait_for("/desk", for_signal(follow_up), timeout_s=90)
    assert note.json()["dedupe"]["duplicate_of"] == ids[-1]
    for signal_id in ids:
        assert routed_events(recorder, "/desk", signal_id) == ["signal.routed"]


def test_a_dedupe_memory_written_in_batches_is_restored_whole_after_a_restart(
    pipeline: Services, recorder: Recorder
) -> None:
    """Tansu lists a partition's end as the first offset of its last produce batch plus
    one. Here the processor's producer puts many records in a batch, its changelog's too
    (as against a real Kafka), and judges several reports in one run; after a restart,
    each colleague's follow-up about one of those customers must join its case. Fails
    when the memory does not end each wait with a record alone in its batch (AckedTable
    ``ends_alone``): the restore stops short of the last batch, whose customers are then
    unknown, so their follow-ups open cases of their own."""
    batching = {
        "ANTENNA_KAFKA_PRODUCER_MAX_BATCH_BYTES": "16384",
        "ANTENNA_KAFKA_CHANGELOG_ONE_RECORD_BATCHES": "false",
        **WHOLE_BATCHES,
    }
    phones = [unique_phone() for _ in range(REPORTS)]
    pipeline.stop("processor")
    ids = [report_about(pipeline, phone) for phone in phones]
    with pipeline.running_with("processor", batching):
        for signal_id in ids:
            recorder.wait_for("/desk", for_signal(signal_id), timeout_s=90)
        pipeline.restart("processor")
        follow_ups = [report_about(pipeline, phone, FOLLOW_UP, "e-80") for phone in phones]
        for follow_up, signal_id in zip(follow_ups, ids, strict=True):
            [note] = recorder.wait_for("/desk", for_signal(follow_up), timeout_s=90)
            assert note.json()["dedupe"]["duplicate_of"] == signal_id
