from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from schemas import INCIDENT_SOURCE
from services.connectors import outbox
from services.connectors.base import ConnectorContext, Delivered, DeliveryError
from services.connectors.outbox import OutboxConfig, OutboxConnector
from tests.support.builders import build_duplicate, build_routed, build_signal


def _connector(tmp_path, destination: str = "servicedesk") -> OutboxConnector:
    return OutboxConnector(OutboxConfig(), ConnectorContext(destination, tmp_path))


def _deliver(connector: OutboxConnector, *routed) -> list[Delivered]:
    async def go() -> list[Delivered]:
        return [await connector.deliver(r) for r in routed]

    return asyncio.run(go())


def _lines(connector: OutboxConnector) -> list[str]:
    return connector.path.read_text(encoding="utf-8").splitlines()


def test_writes_to_var_outbox_destination_jsonl(tmp_path, make_routed) -> None:
    connector = _connector(tmp_path, "crm")
    routed = make_routed()
    [delivered] = _deliver(connector, routed)
    assert connector.path == tmp_path / "outbox" / "crm.jsonl"
    assert delivered == Delivered(
        external_id=routed.signal.signal_id, external_url=connector.path.resolve().as_uri()
    )


def test_an_incident_s_ticket_and_notes_have_a_file_of_their_own(tmp_path, make_routed) -> None:
    """The outbox of employees' reports holds only their reports: an incident's records
    (signal.source antenna-incidents) go to outbox/incidents/<destination>.jsonl."""
    connector = _connector(tmp_path)
    report = make_routed()
    ticket = make_routed(build_signal(source=INCIDENT_SOURCE), rule_id="incident")
    _deliver(connector, report, ticket, ticket)
    assert [json.loads(line)["signal_id"] for line in _lines(connector)] == [
        report.signal.signal_id
    ]
    incidents = tmp_path / "outbox" / "incidents" / "servicedesk.jsonl"
    assert [json.loads(line)["signal_id"] for line in incidents.read_text().splitlines()] == [
        ticket.signal.signal_id
    ]
    restarted = _connector(tmp_path)  # remembers what each file holds
    _deliver(restarted, ticket)
    assert len(incidents.read_text().splitlines()) == 1


def test_configured_directory_wins(tmp_path, make_routed) -> None:
    connector = OutboxConnector(
        OutboxConfig(directory=tmp_path / "elsewhere"),
        ConnectorContext("servicedesk", tmp_path / "var"),
    )
    _deliver(connector, make_routed())
    assert connector.path == tmp_path / "elsewhere" / "servicedesk.jsonl"
    assert len(_lines(connector)) == 1


def test_each_line_is_json_with_the_signal_id(tmp_path, make_routed) -> None:
    first = make_routed()
    second = make_routed()
    connector = _connector(tmp_path)
    _deliver(connector, first, second)
    records = [json.loads(line) for line in _lines(connector)]
    assert [r["signal_id"] for r in records] == [first.signal.signal_id, second.signal.signal_id]
    assert records[0]["routed"] == first.model_dump(mode="json")


def test_same_signal_twice_writes_one_line(tmp_path, make_routed) -> None:
    connector = _connector(tmp_path)
    routed = make_routed()
    results = _deliver(connector, routed, routed)
    assert len(_lines(connector)) == 1
    assert results[0] == results[1]


def test_concurrent_deliveries_of_one_signal_write_one_line(tmp_path, make_routed) -> None:
    connector = _connector(tmp_path)
    routed = make_routed()

    async def go() -> None:
        await asyncio.gather(*(connector.deliver(routed) for _ in range(5)))

    asyncio.run(go())
    assert len(_lines(connector)) == 1


def test_restart_does_not_write_a_delivered_signal_again(tmp_path, make_routed) -> None:
    routed, fresh = make_routed(), make_routed()
    _deliver(_connector(tmp_path), routed)
    restarted = _connector(tmp_path)
    _deliver(restarted, routed)
    assert len(_lines(restarted)) == 1
    _deliver(restarted, fresh)
    ids = [json.loads(line)["signal_id"] for line in _lines(restarted)]
    assert ids == [routed.signal.signal_id, fresh.signal.signal_id]


def test_a_report_noted_on_a_case_and_then_split_off_gets_a_line_as_a_case(tmp_path) -> None:
    """An operator said the report is not the same case as the one it joined: after its
    note, it is delivered as a case of its own, once, also after a restart."""
    first = build_routed()
    note = build_duplicate(first)
    own_case = build_routed(note.signal)
    _deliver(_connector(tmp_path), first, note, note)
    restarted = _connector(tmp_path)
    _deliver(restarted, note, own_case, own_case)
    _deliver(_connector(tmp_path), own_case, note)
    records = [json.loads(line) for line in _lines(restarted)]
    assert [(r["signal_id"], r["routed"]["dedupe"]["cluster_id"]) for r in records] == [
        (first.signal.signal_id, first.signal.signal_id),
        (note.signal.signal_id, first.signal.signal_id),
        (note.signal.signal_id, note.signal.signal_id),
    ]


def test_a_torn_last_line_is_tolerated(tmp_path, make_routed) -> None:
    routed = make_routed()
    connector = _connector(tmp_path)
    _deliver(connector, routed)
    with connector.path.open("a", encoding="utf-8") as out:
        out.write('{"signal_id": "01JD6W2Q7X5N6G2M3K4P5R6S7T", "routed": {"sig')
    before = connector.path.read_bytes()

    restarted = _connector(tmp_path)  # must not raise
    _deliver(restarted, routed)
    assert connector.path.read_bytes() == before


def test_a_record_after_a_torn_line_is_readable(tmp_path, make_routed) -> None:
    connector = _connector(tmp_path)
    connector.path.write_text('{"signal_id": "01JD6W2Q7X5N6G2M3K4P5R6S7T", "rou', encoding="utf-8")
    routed = make_routed()
    _deliver(_connector(tmp_path), routed)
    ids = []
    for line in _lines(connector):
        try:
            ids.append(json.loads(line)["signal_id"])
        except ValueError:
            continue
    assert ids == [routed.signal.signal_id]


def test_a_torn_multibyte_character_is_tolerated(tmp_path, make_routed) -> None:
    routed = make_routed()
    connector = _connector(tmp_path)
    _deliver(connector, routed)
    with connector.path.open("ab") as out:
        out.write('{"signal_id": "01JD6W2Q7X5N6G2M3K4P5R6S7T", "text": "geï'.encode()[:-1])
    before = connector.path.read_bytes()
    restarted = _connector(tmp_path)
    _deliver(restarted, routed)
    assert connector.path.read_bytes() == before


DAY = 86400.0


def _windowed(tmp_path, days: float = 1.0) -> OutboxConnector:
    context = ConnectorContext("servicedesk", tmp_path, dedupe_window=timedelta(days=days))
    return OutboxConnector(OutboxConfig(), context)


def test_the_ids_remembered_are_bounded_by_the_dedupe_window(
    tmp_path, make_routed, monkeypatch
) -> None:
    clock = [1_800_000_000.0]
    monkeypatch.setattr(outbox, "now", lambda: clock[0])
    connector = _windowed(tmp_path)
    first, second = make_routed(), make_routed()
    _deliver(connector, first)
    clock[0] += DAY / 2
    _deliver(connector, second)
    clock[0] += DAY / 2 + 1  # the first is older than the window now
    _deliver(connector, make_routed())
    assert first.signal.signal_id not in connector._files[connector.path].written
    assert second.signal.signal_id in connector._files[connector.path].written
    assert len(connector._files[connector.path].written) == 2

    restarted = _windowed(tmp_path)  # reads back only what is within the window
    assert list(restarted._files[restarted.path].written) == list(
        connector._files[connector.path].written
    )
    _deliver(restarted, second)
    assert len(_lines(restarted)) == 3  # still written once within the window


def test_start_up_reads_the_file_from_its_end(tmp_path, make_routed, monkeypatch) -> None:
    clock = [1_800_000_000.0]
    monkeypatch.setattr(outbox, "now", lambda: clock[0])
    connector = _windowed(tmp_path)
    old = [make_routed() for _ in range(3)]
    _deliver(connector, *old)
    with connector.path.open("a", encoding="utf-8") as out:  # a line older tools wrote
        routed = make_routed()
        out.write(json.dumps({"signal_id": "legacy", "routed": routed.model_dump(mode="json")}))
        out.write("\n")
    clock[0] += 3 * DAY
    fresh = make_routed()
    _deliver(_windowed(tmp_path), fresh)
    read: list[bytes] = []
    real = outbox._record

    def counting(line: bytes):
        read.append(line)
        return real(line)

    monkeypatch.setattr(outbox, "_record", counting)
    restarted = _windowed(tmp_path)
    assert list(restarted._files[restarted.path].written) == [fresh.signal.signal_id]
    assert len(read) == 2  # the fresh line, then the first one past the window


def test_a_disk_that_refuses_the_write_pauses_like_an_outage(tmp_path, make_routed) -> None:
    connector = _connector(tmp_path)
    connector.path.mkdir()  # appending to a directory fails with an OSError
    with pytest.raises(DeliveryError) as info:
        _deliver(connector, make_routed())
    assert info.value.retryable is True
