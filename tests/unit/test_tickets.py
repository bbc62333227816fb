"""What a service-desk ticket and a duplicate's note say."""

from __future__ import annotations

from schemas import Dedupe
from services.connectors.tickets import (
    note_body,
    note_marker,
    note_subject,
    ticket_body,
    ticket_subject,
)
from tests.support.builders import build_routed, build_signal


def test_subject_is_the_category_and_the_first_line_cut_short() -> None:
    routed = build_routed(build_signal(text="x" * 200 + "\nsecond line"))
    subject = ticket_subject(routed)
    assert subject.startswith("other: xxx") and subject.endswith("…")
    assert len(subject) <= len("other: ") + 80
    assert (
        ticket_subject(build_routed(build_signal(subject="Card blocked"))) == "other: Card blocked"
    )


def test_body_has_the_report_the_customer_and_the_case_id() -> None:
    routed = build_routed(
        build_signal(
            customer={
                "name": "Jan de Vries",
                "email": "jan@example.nl",
                "consent_to_contact": False,
            },
            callback_window={"text": "tomorrow morning"},
            attachments=[{"filename": "bon.pdf", "content_type": "application/pdf", "size": 10}],
            reporter={"employee_id": "E-1", "department": "Retail"},
        )
    )
    body = ticket_body(routed)
    assert body.startswith(routed.signal.text)
    assert "Customer: Jan de Vries" in body and "E-mail: jan@example.nl" in body
    assert "Agreed to be contacted: no" in body
    assert "Call back: tomorrow morning" in body
    assert "Reported by E-1 (Retail) via form on 2025-03-14 09:30 UTC" in body
    assert "Attachments (not transferred): bon.pdf" in body
    assert routed.signal.signal_id in body


def test_without_a_customer_the_body_says_so() -> None:
    assert "Customer: not given" in ticket_body(build_routed())


def test_a_note_carries_its_marker_and_the_count() -> None:
    signal = build_signal()
    routed = build_routed(
        signal, dedupe=Dedupe(duplicate_of=signal.signal_id, cluster_id="c", reporters_count=3)
    )
    assert note_marker(signal.signal_id) in note_subject(routed)
    assert "(3 colleagues so far)" in note_subject(routed)
    assert note_body(routed).startswith("Another colleague reported this case; 3 colleagues")


def test_a_subject_of_only_a_control_character_gives_the_text_s_first_line() -> None:
    # Seen: ingest accepted this subject and ticket_subject raised IndexError.
    for subject in ("\x0b", "\x1c", "\u2028", " \t\x00 "):
        routed = build_routed(build_signal(subject=subject, text="Pinpas geweigerd\nmeer"))
        assert ticket_subject(routed) == "other: Pinpas geweigerd"


def test_control_characters_never_reach_the_subject() -> None:
    routed = build_routed(build_signal(subject="Card\x07 blocked\x1b[31m", text="t"))
    assert ticket_subject(routed) == "other: Card blocked[31m"


def test_nothing_printable_anywhere_still_gives_a_subject() -> None:
    routed = build_routed(build_signal(subject="\x0b", text="\u200b\n\x0c"))
    assert ticket_subject(routed) == "other: (no text)"
