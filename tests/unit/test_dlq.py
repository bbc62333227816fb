"""`antenna dlq`: letter ids, what became of each letter, what a replay takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas import DeliveryResult, DeliveryStatus, topics
from services.common.dead_letters import dead_letter
from services.dlq import (
    DELIVERED,
    PARKED,
    PARKED_AGAIN,
    REPLAYED,
    Letter,
    letter_from,
    matches,
    parse_since,
    table,
    to_replay,
    views,
)
from tests.support.builders import build_routed

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def _letter(
    partition: int,
    offset: int,
    destination: str | None = "servicedesk",
    at: datetime = NOW,
    replay_of: str | None = None,
    routed=None,
) -> Letter:
    routed = routed or build_routed()
    dead = dead_letter(
        f"connectors/{destination}",
        "HTTP 422: unknown queue",
        topics.ROUTED_SERVICEDESK,
        0,
        7,
        routed.signal.signal_id.encode(),
        routed.model_dump_json().encode(),
        now=at,
        destination=destination,
        status=DeliveryStatus.dead,
        replay_of=replay_of,
    )
    letter = letter_from(partition, offset, dead.model_dump_json().encode())
    assert letter is not None
    return letter


def _delivered(signal_id: str, at: datetime) -> DeliveryResult:
    return DeliveryResult(
        signal_id=signal_id,
        destination="servicedesk",
        connector="webhook",
        status=DeliveryStatus.delivered,
        external_id="T-7",
        attempts=1,
        at=at,
    )


def test_a_letter_is_known_by_its_place_and_its_signal() -> None:
    routed = build_routed()
    letter = _letter(2, 137, routed=routed)
    assert letter.id == "2-137"
    assert letter.signal_id == routed.signal.signal_id
    assert letter.destination == "servicedesk"
    assert letter_from(0, 1, b"not a letter") is None
    poison = dead_letter("connectors", "not a valid RoutedSignal", "t", 0, 0, b"k", b"\xff")
    parsed = letter_from(0, 2, poison.model_dump_json().encode())
    assert parsed is not None and parsed.signal_id is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW - timedelta(minutes=30)),
        ("2h", NOW - timedelta(hours=2)),
        ("1.5d", NOW - timedelta(days=1.5)),
        ("1w", NOW - timedelta(weeks=1)),
        ("2025-03-13", datetime(2025, 3, 13, tzinfo=UTC)),
        ("2025-03-13T09:30:00+01:00", datetime(2025, 3, 13, 8, 30, tzinfo=UTC)),
    ],
)
def test_since_takes_a_duration_or_a_date(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


def test_since_refuses_anything_else() -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_since("yesterday", NOW)


def test_what_became_of_each_letter() -> None:
    parked = _letter(0, 1)
    replayed = _letter(0, 2)
    delivered_later = _letter(1, 3)
    delivered_before = _letter(1, 4)
    first_try = _letter(2, 5)
    parked_again = _letter(2, 9, replay_of="2-5", routed=None)
    results = [
        _delivered(delivered_later.signal_id or "", NOW + timedelta(minutes=5)),
        _delivered(delivered_before.signal_id or "", NOW - timedelta(minutes=5)),
    ]
    got = {
        v.letter.id: (v.state, v.detail, v.replays)
        for v in views(
            [parked, replayed, delivered_later, delivered_before, first_try, parked_again],
            results,
            ["0-2", "2-5"],
        )
    }
    assert got == {
        "0-1": (PARKED, "", 0),
        "0-2": (REPLAYED, "", 1),
        "1-3": (DELIVERED, "T-7", 0),  # a later delivery supersedes the letter
        "1-4": (PARKED, "", 0),  # an earlier one does not
        "2-5": (PARKED_AGAIN, "2-9", 1),
        "2-9": (PARKED, "", 0),
    }


def test_filters_by_destination_time_and_id() -> None:
    [crm, desk, old] = views(
        [
            _letter(0, 1, destination="crm"),
            _letter(0, 2),
            _letter(0, 3, at=NOW - timedelta(days=2)),
        ],
        [],
        [],
    )
    assert [v.letter.id for v in (crm, desk, old) if matches(v, destination="crm")] == ["0-1"]
    since = NOW - timedelta(days=1)
    assert [v.letter.id for v in (crm, desk, old) if matches(v, since=since)] == ["0-1", "0-2"]
    assert [v.letter.id for v in (crm, desk, old) if matches(v, ids=["0-3"])] == ["0-3"]


def test_a_replay_takes_parked_letters_and_says_why_it_skips_others() -> None:
    letters = [_letter(0, 1), _letter(0, 2), _letter(0, 3), _letter(0, 4, replay_of="0-3")]
    delivered_signal = letters[0].signal_id or ""
    all_views = views(
        letters, [_delivered(delivered_signal, NOW + timedelta(seconds=1))], ["0-2", "0-3"]
    )
    replay, skipped = to_replay(all_views, again=False)
    assert [v.letter.id for v in replay] == ["0-4"]
    reasons = {v.letter.id: why for v, why in skipped}
    assert "delivered since" in reasons["0-1"]
    assert "--again" in reasons["0-2"]
    assert "parked again as 0-4" in reasons["0-3"]
    replay, skipped = to_replay(all_views, again=True)  # deliberately: all of them
    assert [v.letter.id for v in replay] == ["0-1", "0-2", "0-3", "0-4"]
    assert skipped == []


def test_the_table_has_one_line_per_letter() -> None:
    text = table(views([_letter(0, 1), _letter(1, 22)], [], []))
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["ID", "PARKED", "(UTC)"]
    assert lines[1].startswith("0-1 ") and lines[2].startswith("1-22")
    assert "HTTP 422: unknown queue" in lines[1]
