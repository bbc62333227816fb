"""Opting out: the preference records, the check, and reading the topic."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import NotificationPreference, Reporter
from services.notifier.preferences import PreferenceBook, wants_news


def preference(employee: str, notify: bool) -> bytes:
    value = NotificationPreference(
        employee_id=employee, notify=notify, updated_at=datetime(2025, 3, 14, tzinfo=UTC)
    )
    return value.model_dump_json().encode()


def test_no_preference_means_yes() -> None:
    assert wants_news({}, Reporter(employee_id="E-1", email="e1@bank.example"))


def test_an_opt_out_under_the_employee_id_or_the_address_means_no() -> None:
    book = PreferenceBook()
    assert book.apply(b"E-1", preference("E-1", notify=False))
    assert book.apply(b"Sanne@Bank.Example", preference("sanne@bank.example", notify=False))
    assert not wants_news(book.notify, Reporter(employee_id="E-1"))
    assert not wants_news(book.notify, Reporter(email="SANNE@bank.example"))
    assert wants_news(book.notify, Reporter(employee_id="E-2", email="other@bank.example"))
    assert book.opted_out == 2


def test_the_latest_record_wins_and_a_tombstone_restores_the_default() -> None:
    book = PreferenceBook()
    book.apply(b"E-1", preference("E-1", notify=False))
    book.apply(b"E-1", preference("E-1", notify=True))
    assert wants_news(book.notify, Reporter(employee_id="E-1"))
    book.apply(b"E-1", preference("E-1", notify=False))
    assert book.opted_out == 1
    assert book.apply(b"E-1", None)
    assert wants_news(book.notify, Reporter(employee_id="E-1"))
    assert book.opted_out == 0


def test_unreadable_records_are_skipped() -> None:
    book = PreferenceBook()
    assert not book.apply(b"E-1", b"not json")
    assert not book.apply(None, preference("E-1", notify=False))
    assert not book.apply(b"E-2", preference("E-1", notify=False))  # key is not its employee
    assert not book.apply(b"\xff", None)
    assert book.notify == {}
