from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from schemas import Category, Classification, Kind, Signal
from services.processor.domain.dedupe import (
    Decision,
    DedupePolicy,
    Deduper,
    Report,
    report_of,
    resubmission_key,
    topic_overlap,
)
from tests.support.builders import RECEIVED_AT, build_signal

T0 = RECEIVED_AT
CARD = Classification(
    kind=Kind.complaint,
    confidence=0.9,
    category=Category.payments_cards,
    language="en",
    classifier_version="test",
)
MORTGAGE_LEAD = Classification(
    kind=Kind.opportunity,
    confidence=0.9,
    category=Category.mortgage_loans,
    language="en",
    classifier_version="test",
)
PRAISE = Classification(kind=Kind.other, confidence=0.9, language="en", classifier_version="t")


def classified(kind: Kind, category: Category, confidence: float = 0.9) -> Classification:
    return Classification(
        kind=kind, confidence=confidence, category=category, language="en", classifier_version="t"
    )


def report(
    key: str,
    at: timedelta = timedelta(0),
    customer: dict[str, Any] | None = None,
    text: str | None = None,
    reporter: str = "E-1",
    **kw: Any,
) -> Signal:
    return build_signal(
        idempotency_key=key,
        received_at=T0 + at,
        customer=customer,
        text=text or f"Report {key} about the card",
        reporter={"employee_id": reporter},
        **kw,
    )


def decide(deduper: Deduper, signal: Signal, c: Classification = CARD) -> Decision:
    return deduper.decide(signal, c, signal.received_at)


def test_resubmission_key_is_scoped_by_source() -> None:
    a = build_signal(source="api-key-aaaaaaaaaa", idempotency_key="order-17")
    b = build_signal(source="api-key-bbbbbbbbbb", idempotency_key="order-17")
    assert resubmission_key(a) == "api-key-aaaaaaaaaa|order-17"
    assert resubmission_key(a) != resubmission_key(b)


def test_same_idempotency_key_from_the_same_source_is_a_resubmission() -> None:
    d = Deduper({})
    first = decide(d, report("k"))
    again = decide(d, report("k", timedelta(days=13), text="Different words"))
    assert not first.resubmission
    assert again.resubmission and again.duplicate_of == first.cluster_id


def test_a_resubmission_after_the_window_is_new() -> None:
    d = Deduper({})
    decide(d, report("k"))
    assert not decide(d, report("k", timedelta(days=15), text="x")).resubmission


def test_a_redelivered_signal_gets_the_same_decision_and_changes_nothing() -> None:
    d = Deduper({})
    signal = report("k", customer={"phone": "0612345678"})
    first = decide(d, signal)
    snapshot = dict(d.memory)
    assert decide(d, signal) == first
    assert d.memory == snapshot


def test_the_same_text_resent_within_minutes_is_a_duplicate_without_any_customer() -> None:
    d = Deduper({})
    first = report("a", text="Mijn buurvrouw heeft al 3 dagen geen internet!")
    resent = report(
        "b",
        timedelta(minutes=4),
        text="mijn buurvrouw heeft al 3 dagen geen internet",
        reporter="E-2",
    )
    later = report(
        "c", timedelta(minutes=30), text="Mijn buurvrouw heeft al 3 dagen geen internet!"
    )
    assert decide(d, first).duplicate_of is None
    decision = decide(d, resent)
    assert decision.duplicate_of == first.signal_id
    assert decision.reason == "same text re-sent"
    assert decision.reporters_count == 2
    assert decide(d, later).duplicate_of is None  # no customer, not within minutes


def test_same_customer_same_problem_in_other_words_via_another_colleague() -> None:
    d = Deduper({})
    first = report("a", customer={"name": "Jan de Vries", "phone": "+31 6 12345678"})
    second = report(
        "b",
        timedelta(days=2),
        reporter="E-2",
        channel="chat",
        customer={"email": "jan@example.nl", "phone": "06-12345678"},
        text="Zijn pas wordt steeds geweigerd",
    )
    third = report(
        "c",
        timedelta(days=3),
        reporter="E-3",
        customer={"name": "J. de Vries"},
        text="Card declined again for J. de Vries",
    )
    decide(d, first)
    assert decide(d, second).duplicate_of == first.signal_id
    third_decision = decide(d, third)
    assert third_decision.duplicate_of == first.signal_id
    assert third_decision.cluster_id == first.signal_id
    assert third_decision.reporters_count == 3


def test_the_same_colleague_reporting_again_does_not_grow_the_count() -> None:
    d = Deduper({})
    decide(d, report("a", customer={"phone": "0612345678"}))
    again = decide(
        d, report("b", timedelta(hours=1), customer={"phone": "0612345678"}, text="still broken")
    )
    assert again.duplicate_of is not None and again.reporters_count == 1


def test_a_different_problem_of_the_same_customer_is_a_new_case() -> None:
    d = Deduper({})
    decide(d, report("a", customer={"phone": "0612345678"}))
    lead = report(
        "b", timedelta(days=1), customer={"phone": "0612345678"}, text="She wants a mortgage offer"
    )
    assert decide(d, lead, MORTGAGE_LEAD).duplicate_of is None


def test_the_same_problem_of_different_customers_is_not_a_duplicate() -> None:
    d = Deduper({})
    decide(d, report("a", customer={"name": "Jan de Vries", "phone": "0612345678"}))
    els = report("b", timedelta(hours=1), customer={"name": "Els de Vries"}, reporter="E-2")
    other = report("c", timedelta(hours=2), customer={"phone": "0687654321"}, reporter="E-3")
    assert decide(d, els).duplicate_of is None
    assert decide(d, other).duplicate_of is None


def test_reports_of_one_matter_join_whatever_kind_the_classifier_gave_them() -> None:
    """Seen: a question the classifier called "other", asked again by another colleague,
    was routed twice; so was a complaint whose follow-up read as a lead."""
    question = classified(Kind.other, Category.invoice_billing, 0.95)
    thanks = classified(Kind.other, Category.payments_cards)
    for first_kind, then in ((question, question), (CARD, thanks), (thanks, CARD)):
        d = Deduper({})
        first = report("a", customer={"phone": "0612345678"})
        decide(d, first, first_kind)
        again = report("b", timedelta(days=1), customer={"phone": "06-12345678"}, text="again")
        assert decide(d, again, then).duplicate_of == first.signal_id


def test_a_sure_complaint_and_a_sure_lead_in_one_topic_are_one_case_only_in_one_thing() -> None:
    """A disputed energy bill and solar panels for the same customer are two cases; a
    complaint about the heat pump she bought and a lead for its maintenance plan are one."""
    energy_complaint = classified(Kind.complaint, Category.energy, 0.95)
    energy_lead = classified(Kind.opportunity, Category.energy, 0.95)
    d = Deduper({})
    bill = report(
        "a",
        customer={"phone": "0612345678"},
        text="Zijn termijnbedrag voor stroom en gas is ineens 274 euro geworden.",
    )
    decide(d, bill, energy_complaint)
    solar = report(
        "b",
        timedelta(days=3),
        customer={"phone": "0612345678"},
        reporter="E-2",
        text="He is considering solar panels including installation; the roof faces south.",
    )
    assert decide(d, solar, energy_lead).duplicate_of is None
    pump = report(
        "c",
        timedelta(days=5),
        customer={"phone": "0687654321"},
        text="De warmtepomp van Vaillant maakt herrie sinds de installatie in Zwolle.",
    )
    decide(d, pump, energy_complaint)
    plan = report(
        "d",
        timedelta(days=6),
        customer={"phone": "0687654321"},
        reporter="E-2",
        text="Warmtepomp Vaillant Zwolle: wil een onderhoudscontract voor de warmtepomp.",
    )
    assert decide(d, plan, energy_lead).duplicate_of == pump.signal_id


def told(d: Deduper, c: Classification, topic: dict[str, float], **signal: Any) -> Decision:
    """A report (see ``report``) decided with the classify stage's topic profile."""
    key, days = signal.pop("key"), signal.pop("days", 0)
    one = report(key, timedelta(days=days), **signal)
    return d.decide(one, c, one.received_at, topic)


def test_one_matter_in_two_languages_and_two_topics_joins_by_the_amount_it_names() -> None:
    """Seen on text the classifier never saw: one double debit, once in Dutch and once in
    English, in two categories with topic profiles that hardly overlap. The amount both
    name makes it one matter; the same amount for another customer does not."""
    card = classified(Kind.complaint, Category.payments_cards, 0.95)
    bill = classified(Kind.complaint, Category.invoice_billing, 0.99)
    meijer = {"name": "Joost Meijer", "phone": "06-12 34 63 97"}
    d = Deduper({})
    english = told(
        d,
        card,
        {"payments_cards": 0.9, "other": 0.1},
        key="a",
        customer=meijer,
        text="Hi, double charge of €86.51 at the DIY store, he is now overdrawn.",
    )
    topic = {"invoice_billing": 0.86, "payments_cards": 0.14}
    dutch = "Een oud-collega ziet een dubbele afschrijving van €86,51 van de bouwmarkt."
    again = told(d, bill, topic, key="b", days=1, customer=meijer, reporter="E-2", text=dutch)
    assert again.duplicate_of == english.cluster_id
    stranger, same_words = {"phone": "0687654321"}, "Dubbele afschrijving: €86,51, bouwmarkt."
    alike = told(d, bill, topic, key="c", days=1, customer=stranger, text=same_words)
    assert alike.duplicate_of is None


def test_two_debits_of_one_customer_with_their_own_amounts_are_two_cases() -> None:
    """One customer, one topic, the same words, but each report names its own amount:
    two double debits, two cases (the matter check used to join them on the topic). A
    year is no amount: the report that names one still joins."""
    d = Deduper({})
    topic, customer = {"payments_cards": 1.0}, {"phone": "0612346397"}
    debit = "Hij ziet een dubbele afschrijving van €{} van de bouwmarkt op zijn rekening."
    first = told(d, CARD, topic, key="a", customer=customer, text=debit.format("86,51"))
    other = told(d, CARD, topic, key="b", days=2, customer=customer, text=debit.format("68,16"))
    assert other.duplicate_of is None
    dated = "Double charge of 86.51 in March 2026, he wants it reversed."
    again = told(d, CARD, topic, key="c", days=3, customer=customer, text=dated)
    assert again.duplicate_of == first.cluster_id


def test_a_time_or_a_reference_beside_a_sum_of_money_does_not_split_a_case() -> None:
    """Only sums of money that differ make two matters: a time or a reference number in
    one report and a fee in the other are one blocked card."""
    d = Deduper({})
    topic, customer = {"payments_cards": 1.0}, {"phone": "0612346397"}
    blocked = "Pas geblokkeerd om 14.30 in Marokko, referentie 48213."
    first = told(d, CARD, topic, key="a", customer=customer, text=blocked)
    fee = "His card was blocked abroad and he was charged a €250 fee to unblock it."
    again = told(d, CARD, topic, key="b", days=1, customer=customer, reporter="E-2", text=fee)
    assert again.duplicate_of == first.cluster_id


def test_a_number_from_the_customers_phone_or_of_two_digits_is_no_shared_detail() -> None:
    """A phone number written in the text, or an age, names no matter: a card blocked
    abroad and a mortgage of the same customer stay two cases."""
    d = Deduper({})
    customer = {"phone": "0612341537"}
    card = "Card blocked in Morocco, he is 85; call him on 06 1234 1537 please."
    told(d, CARD, {"payments_cards": 1.0}, key="a", customer=customer, text=card)
    mortgage = "He is 85 and wants a mortgage adviser; call 06 1234 1537."
    lead = told(
        d, MORTGAGE_LEAD, {"mortgage_loans": 1.0}, key="b", days=1, customer=customer, text=mortgage
    )
    assert lead.duplicate_of is None


def test_a_customer_written_only_into_the_text_is_known_by_phone_and_address() -> None:
    """Chat shorthand: no customer fields, the number in the message. It joins the case
    of the report whose form held that number; the address in a third joins too."""
    d = Deduper({})
    topic = {"payments_cards": 1.0}
    customer = {"name": "T. Willems", "phone": "06 1234 3876", "email": "t.willems@example.nl"}
    card = "Pinpas geblokkeerd in Marokko, hij kan niets betalen."
    first = told(d, CARD, topic, key="a", customer=customer, text=card)
    chat = "pas geblokkeerd in marokko!! gaat om T Willems, 0612343876"
    by_phone = told(d, CARD, topic, key="b", days=1, reporter="E-2", text=chat)
    assert by_phone.duplicate_of == first.cluster_id
    mail = "Card blocked in Morocco, details: T.Willems@example.nl"
    by_address = told(d, CARD, topic, key="c", days=1, reporter="E-3", text=mail)
    assert by_address.duplicate_of == first.cluster_id


def test_the_colleague_s_own_address_in_the_text_is_no_customer_s() -> None:
    """Two customers' card problems from one colleague whose signature holds her own
    address: two cases."""
    d = Deduper({})
    decisions = []
    for key, text in (("a", "Card blocked abroad."), ("b", "Card declined in the shop.")):
        signal = build_signal(
            idempotency_key=key,
            received_at=T0 + timedelta(hours=len(decisions)),
            text=f"{text}\n--\nAnna Smit, anna.smit@bank.example",
            reporter={"employee_id": "E-1", "email": "anna.smit@bank.example"},
        )
        decisions.append(d.decide(signal, CARD, signal.received_at, {"payments_cards": 1.0}))
    assert decisions[1].duplicate_of is None


def test_a_case_older_than_the_window_is_not_joined() -> None:
    d = Deduper({}, DedupePolicy(window=timedelta(days=14)))
    decide(d, report("a", customer={"phone": "0612345678"}))
    late = report("b", timedelta(days=15), customer={"phone": "0612345678"}, text="again")
    assert decide(d, late).duplicate_of is None


def test_duplicates_follow_the_route_of_their_case() -> None:
    d = Deduper({})
    first = decide(d, report("a", customer={"phone": "0612345678"}))
    d.remember_route(first, "servicedesk", "payments")
    dup = decide(d, report("b", timedelta(hours=1), customer={"phone": "0612345678"}, text="x"))
    assert (dup.destination, dup.target) == ("servicedesk", "payments")


def test_expire_forgets_everything_outside_the_window() -> None:
    d = Deduper({}, DedupePolicy(window=timedelta(days=14)))
    first = decide(d, report("a", customer={"name": "Jan de Vries", "phone": "0612345678"}))
    d.remember_route(first, "servicedesk", None)
    decide(d, report("b", timedelta(days=2), customer={"phone": "0612345678"}, reporter="E-2"))
    assert d.expire(T0 + timedelta(days=1)) == 0
    assert d.expire(T0 + timedelta(days=15)) == 1
    assert "cluster:" + first.cluster_id in d.memory  # its latest report is still in the window
    assert d.expire(T0 + timedelta(days=20)) == 1
    assert d.memory == {}


def test_topic_overlap_is_a_histogram_intersection() -> None:
    assert topic_overlap({"energy": 1.0}, {"energy": 1.0}) == 1.0
    assert topic_overlap({"energy": 1.0}, {"delivery": 1.0}) == 0.0
    assert topic_overlap(
        {"energy": 0.6, "invoice_billing": 0.4}, {"invoice_billing": 0.7, "energy": 0.3}
    ) == pytest.approx(0.7)


def test_a_neighbouring_category_with_an_overlapping_topic_is_the_same_case() -> None:
    d = Deduper({}, DedupePolicy(min_topic_overlap=0.5))
    bill = Classification(
        kind=Kind.complaint,
        confidence=0.9,
        category=Category.invoice_billing,
        language="en",
        classifier_version="t",
    )
    energy = Classification(
        kind=Kind.complaint,
        confidence=0.9,
        category=Category.energy,
        language="nl",
        classifier_version="t",
    )
    first = report("a", customer={"phone": "0612345678"})
    d.decide(first, bill, first.received_at, {"invoice_billing": 0.55, "energy": 0.45})
    again = report("b", timedelta(days=1), customer={"phone": "0612345678"}, text="x")
    close = d.decide(again, energy, again.received_at, {"energy": 0.6, "invoice_billing": 0.4})
    assert close.duplicate_of == first.signal_id
    far = report("c", timedelta(days=1), customer={"phone": "0612345678"}, text="y")
    assert (
        d.decide(far, energy, far.received_at, {"delivery": 0.9, "energy": 0.1}).duplicate_of
        is None
    )


def test_kinds_may_differ_only_when_the_classifier_was_unsure() -> None:
    unsure = Classification(
        kind=Kind.opportunity,
        confidence=0.55,
        category=Category.payments_cards,
        language="en",
        classifier_version="t",
    )
    sure = Classification(
        kind=Kind.opportunity,
        confidence=0.95,
        category=Category.payments_cards,
        language="en",
        classifier_version="t",
    )
    for follow_up, expected in ((unsure, True), (sure, False)):
        d = Deduper({})
        first = report("a", customer={"phone": "0612345678"})
        decide(d, first)  # a confident card complaint
        again = report("b", timedelta(hours=2), customer={"phone": "0612345678"}, text="z")
        assert (d.decide(again, follow_up, again.received_at).duplicate_of is not None) is expected


def test_a_surname_without_a_first_name_is_not_enough() -> None:
    d = Deduper({})
    decide(d, report("a", customer={"name": "L. de Jong"}))
    title_only = report("b", timedelta(hours=1), customer={"name": "dhr. de Jong"}, text="card")
    assert decide(d, title_only).duplicate_of is None


# Bounded memory ----------------------------------------------------------------------


class RecordingMemory(dict[str, Any]):
    """A dict that keeps the writes made to it in order, as a changelog would."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, Any]] = []

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes.append((key, value))
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.writes.append((key, None))
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        if key in self:
            self.writes.append((key, None))
        return super().pop(key, *default)


def largest_value(memory: dict[str, Any]) -> int:
    return max(len(json.dumps(v)) for v in memory.values())


def hammer(d: Deduper, n: int, customer: Any, every: timedelta = timedelta(minutes=1)) -> None:
    for i in range(n):
        decide(d, report(f"k{i}", every * i, customer(i), text=f"card {i}", reporter=f"E-{i}"))


@pytest.mark.parametrize(
    "customer",
    [
        pytest.param(lambda i: {"name": f"{'ABCDEFGHIJ'[i % 10]}. Jansen"}, id="one surname"),
        pytest.param(lambda i: {"name": f"Klant {i}"}, id="names that differ by digits"),
        pytest.param(lambda i: {"phone": "0612345678"}, id="one phone"),
        pytest.param(lambda i: {"name": "Jan de Vries", "phone": "0612345678"}, id="one case"),
    ],
)
def test_no_value_grows_with_the_number_of_reports(customer: Any) -> None:
    """Seen: one list per identity key, rewritten whole on each report; 2,000 reports
    about "Jansen" made a 1.2 MB value, past what a changelog record may be."""
    few, many = Deduper({}), Deduper({})
    hammer(few, 1000, customer)
    hammer(many, 2000, customer)
    assert largest_value(many.memory) <= largest_value(few.memory) + 16  # longer numbers
    assert largest_value(many.memory) < 8_000


def test_a_case_reported_by_many_colleagues_counts_them_exactly_up_to_the_cap() -> None:
    d = Deduper({}, DedupePolicy(reporters_kept=5))
    for i in range(8):
        decision = decide(
            d, report(f"k{i}", timedelta(hours=i), {"phone": "0612345678"}, reporter=f"E-{i}")
        )
    assert decision.reporters_count == 8
    again = decide(
        d, report("k-again", timedelta(hours=9), {"phone": "0612345678"}, reporter="E-7")
    )
    assert again.reporters_count == 8  # a recent colleague reporting again


def test_the_index_keeps_the_most_recent_reports_of_a_customer() -> None:
    d = Deduper({}, DedupePolicy(index_cap=3))
    lead = decide(d, report("lead", customer={"phone": "0612345678"}), MORTGAGE_LEAD)
    for i in range(3):  # three card complaints push the lead out of the phone's index
        decide(d, report(f"c{i}", timedelta(hours=i + 1), {"phone": "0612345678"}))
    entries = d.memory["index:phone:612345678"]["entries"]
    assert len(entries) == 3 and lead.cluster_id not in [e[0] for e in entries]
    card = decide(d, report("c-later", timedelta(hours=5), {"phone": "0612345678"}, text="x"))
    assert card.duplicate_of is not None


def test_the_memory_holds_the_window_and_no_more() -> None:
    """One report an hour for 60 days, window 14 days: what is remembered stays what
    the last 14 days left, whatever ran before."""
    d = Deduper({}, DedupePolicy(window=timedelta(days=14)))
    sizes = {}
    for i in range(60 * 24):
        customer = {"name": f"{'ABCDE'[i % 5]}. Jansen", "phone": f"06{10000000 + i % 300}"}
        decide(d, report(f"k{i}", timedelta(hours=i), customer, text=f"t{i}", reporter=f"E{i}"))
        sizes[i // 24] = len(d.memory)
    assert sizes[59] <= sizes[15] * 1.05
    assert sizes[59] <= 8 * 14 * 24  # about six keys per report in the window


def test_the_memory_holds_at_most_max_reports_within_the_window() -> None:
    """A busy window: past max_reports the oldest reports go early, with every key that
    only they kept alive (their cases, their indexes), and the memory stops growing."""
    d = Deduper({}, DedupePolicy(window=timedelta(days=14), max_reports=50))
    sizes, ids = [], []
    for i in range(400):
        customer = {"name": f"Jan {'ABCDEFGHIJ'[i % 10]}{i}", "phone": f"06{10000000 + i}"}
        signal = report(f"k{i}", timedelta(minutes=i), customer, text=f"t{i}", reporter=f"E{i}")
        ids.append(decide(d, signal).cluster_id)
        sizes.append(len(d.memory))
    queue = d.memory["expiry"]
    assert queue["tail"] - queue["head"] == 50
    assert sizes[-1] == sizes[199]  # full at 50 reports: steady from there on
    assert f"signal:{ids[0]}" not in d.memory and f"signal:{ids[399]}" in d.memory
    assert not [k for k in d.memory if k.startswith("cluster:")][50:]
    # A report still remembered is still matched.
    again = decide(d, report("again", timedelta(minutes=401), {"phone": "0610000399"}))
    assert again.duplicate_of == ids[399]


def test_expiry_is_a_few_reports_per_decision() -> None:
    d = Deduper({}, DedupePolicy(window=timedelta(days=1), expire_per_report=2))
    hammer(d, 10, lambda i: {"phone": "0612345678"}, every=timedelta(seconds=1))
    later = report("late", timedelta(days=3), {"phone": "0687654321"}, text="other")
    decide(d, later)
    assert d.memory["expiry"]["head"] == 2  # two of the ten stale reports forgotten
    assert d.expire(T0 + timedelta(days=3), limit=3) == 3
    assert d.expire(T0 + timedelta(days=3)) == 5


def test_a_worker_stopped_halfway_through_remembering_decides_the_same_again() -> None:
    """The changelog holds whichever prefix of the writes reached the broker before a
    crash; the redelivered signal must get the same decision and leave the same memory
    (seen: a stored re-submission key made a signal a re-submission of itself)."""
    base = RecordingMemory()
    d = Deduper(base)
    decide(d, report("a", customer={"name": "Jan de Vries", "phone": "0612345678"}))
    before = dict(base)
    base.writes.clear()
    again = report("b", timedelta(hours=1), {"name": "J. de Vries"}, text="card", reporter="E-2")
    expected = decide(d, again)
    writes, after = list(base.writes), dict(base)
    assert len(writes) > 5
    for cut in range(len(writes)):
        memory = dict(before)
        for key, value in writes[:cut]:
            if value is None:
                memory.pop(key, None)
            else:
                memory[key] = value
        assert decide(Deduper(memory), again) == expected, cut
        assert memory == after, cut


def test_a_report_reads_back_as_it_was_stored() -> None:
    signal = report("a", customer={"name": "J. de Vries", "phone": "0612345678"})
    stored = report_of(signal, CARD, {"payments_cards": 0.8, "energy": 0.2})
    assert Report.from_json(json.loads(json.dumps(stored.to_json()))) == stored


# Chasers, nicknames, other countries' numbers -------------------------------------------

WAITING = classified(Kind.complaint, Category.service_waiting)


def test_a_chaser_joins_the_customer_s_latest_case_by_surname_alone() -> None:
    """Seen: "has anyone called him back yet?" naming the customer only in passing was
    routed as a new service-waiting complaint."""
    d = Deduper({})
    first = report("a", customer={"name": "Steven Baker", "phone": "+44 7700 900123"})
    decide(d, first)
    chaser = report(
        "b",
        timedelta(days=4),
        customer={"name": "mr Baker"},
        reporter="E-2",
        text="Has anyone called him back yet? Mr Baker is still waiting.",
    )
    decision = decide(d, chaser, WAITING)
    assert decision.duplicate_of == first.signal_id
    assert decision.reason == "chaser of an earlier report"
    not_a_chaser = report(
        "c", timedelta(days=5), customer={"name": "mr Baker"}, text="Card declined again"
    )
    assert decide(d, not_a_chaser).duplicate_of is None  # a surname alone is not enough


def test_a_chaser_by_first_name_is_found_through_its_colleague() -> None:
    d = Deduper({})
    first = report("a", customer={"name": "Steven Baker"}, reporter="E-7")
    decide(d, first)
    chaser = report(
        "b",
        timedelta(days=2),
        customer={"name": "Steve"},
        reporter="E-7",
        text="Any news for Steve? Nobody got back to him yet",
    )
    assert decide(d, chaser, WAITING).duplicate_of == first.signal_id


def test_a_chaser_that_names_the_customer_only_in_its_text() -> None:
    d = Deduper({})
    first = report("a", customer={"name": "Anna de Vries", "phone": "0612345678"})
    decide(d, first)
    by_phone = report(
        "b", timedelta(days=1), reporter="E-2", text="Al iets gehoord over 06-12345678?"
    )
    assert decide(d, by_phone, WAITING).duplicate_of == first.signal_id
    by_name = report(
        "c", timedelta(days=2), reporter="E-3", text="Is mevrouw De Vries al teruggebeld?"
    )
    assert decide(d, by_name, WAITING).duplicate_of == first.signal_id


def test_a_chaser_naming_nobody_joins_its_colleague_s_only_case() -> None:
    d = Deduper({})
    first = report("a", customer={"phone": "0612345678"}, reporter="E-5")
    decide(d, first)
    text = "Has anyone called her back yet?"
    assert decide(
        d, report("b", timedelta(days=1), reporter="E-5", text=text), WAITING
    ).duplicate_of
    other = report("c", timedelta(days=1), reporter="E-6", text="Did someone call her back?")
    assert decide(d, other, WAITING).duplicate_of is None  # another colleague: whose case?
    decide(d, report("d", timedelta(days=2), customer={"phone": "0687654321"}, reporter="E-5"))
    ambiguous = report("e", timedelta(days=3), reporter="E-5", text="Any news? " + text)
    assert decide(d, ambiguous, WAITING).duplicate_of is None  # two cases: which one?


def test_a_chaser_about_another_topic_of_many_words_is_its_own_case() -> None:
    d = Deduper({})
    decide(d, report("a", customer={"phone": "0612345678"}), MORTGAGE_LEAD)
    complaint = report(
        "b",
        timedelta(days=1),
        customer={"phone": "0612345678"},
        reporter="E-2",
        text="Still no news from the claims desk about the water damage in her kitchen "
        "after the storm; the insurer promised an assessor within five working days.",
    )
    claim = classified(Kind.complaint, Category.insurance_claims)
    assert decide(d, complaint, claim).duplicate_of is None


@pytest.mark.parametrize(
    ("first", "again"),
    [
        ({"name": "Kees Visser"}, {"name": "C.J. Visser"}),
        ({"name": "Bep Jansen-Koster"}, {"name": "E. Jansen-Koster"}),
        ({"name": "Emre Çelik"}, {"name": "Celik, Emre"}),
        ({"name": "Lotte Verhoeven"}, {"email": "lotteverhoeven93@example.nl"}),
        ({"phone": "+44 7700 900123"}, {"phone": "07700 900123"}),
        ({"phone": "+32 470 12 34 56"}, {"phone": "0032 470-123456"}),
    ],
)
def test_one_customer_written_two_ways_is_one_case(
    first: dict[str, str], again: dict[str, str]
) -> None:
    d = Deduper({})
    one = report("a", customer=first)
    decide(d, one)
    other = report("b", timedelta(days=3), customer=again, reporter="E-2", text="card again")
    assert decide(d, other).duplicate_of == one.signal_id


def test_a_report_stored_before_surname_keys_still_reads() -> None:
    """A deployment's memory holds reports written by the previous version for 14 days."""
    stored = report_of(report("a", customer={"name": "J. de Vries"}), CARD).to_json()
    stored["identity"]["name"] = {"surname": "devries", "first": "j"}
    old = Report.from_json(stored)
    assert old.identity.name is not None and old.identity.name.surnames == ("devries",)


def test_a_report_is_remembered_under_a_handful_of_keys() -> None:
    signal = report(
        "a",
        customer={"name": "Bep Jansen-Vandermeer", "email": "b@example.nl", "phone": "0612345678"},
    )
    keys = report_of(signal, CARD).keys
    assert len(keys) == len(set(keys)) <= 7


def test_the_phone_region_reads_numbers_written_without_a_country_code() -> None:
    """Configurable (ANTENNA_DEDUPE_PHONE_REGION): in the US "1 202 ..." is a national
    number with its trunk prefix, in the Netherlands it is not."""
    for region, same in (("US", True), ("NL", False)):
        d = Deduper({}, DedupePolicy(phone_region=region))
        first = report("a", customer={"phone": "+1 202 555 0123"})
        decide(d, first)
        again = report("b", timedelta(days=1), customer={"phone": "1 202 555 0123"}, text="x")
        assert (decide(d, again).duplicate_of == first.signal_id) is same


def test_the_phone_region_setting_is_a_country_code() -> None:
    from pydantic import ValidationError

    from services.processor.settings import ProcessorSettings

    assert ProcessorSettings().dedupe_phone_region == "NL"
    assert ProcessorSettings(dedupe_phone_region="BE").dedupe_phone_region == "BE"
    with pytest.raises(ValidationError):
        ProcessorSettings(dedupe_phone_region="Belgium")
