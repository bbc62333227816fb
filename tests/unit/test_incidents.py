"""The incident detector (services/processor/domain/incidents.py) on generated bursts and
on quiet days, through the same calls `antenna incidents` and the processor make."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas import Category, IncidentStatus, Kind, Signal
from services.processor.domain.incidents import (
    MAX_WORDS,
    Change,
    DeskAction,
    IncidentDetector,
    IncidentPolicy,
    Report,
    Terms,
    alike,
    report_of,
    shared,
    stem,
)
from tests.support.builders import build_signal
from tests.support.incident_traffic import (
    APP_LOGIN_EN,
    CARD_PAYMENTS_EN,
    CARD_PAYMENTS_NL,
    MORTGAGE_PORTAL_EN,
    OUTAGES,
    POLICY,
    burst,
    complaint,
    incidents_in,
    labelled_rows,
    outage_reports,
    quiet_day,
    report,
)

MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


# --- generated bursts ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OUTAGES))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_outage_told_by_several_employees_is_one_incident(name: str, seed: int) -> None:
    """8 customers, 6 employees, 40 minutes, each in their own words."""
    rows = burst(random.Random(seed), OUTAGES[name], MORNING)
    [incident] = incidents_in(rows)
    assert incident.category.value == OUTAGES[name].category
    listed = {r.signal_id for r in incident.reports}
    assert incident.reports_count == len(listed) >= 7  # a report in odd words may stay out
    assert incident.customers_count == incident.reports_count
    assert incident.employees_count >= 5
    assert incident.summary.startswith(f"Possible outage: {incident.reports_count} reports about")


def test_the_summary_says_how_many_reports_in_how_many_minutes_about_what() -> None:
    [incident] = incidents_in(burst(random.Random(7), CARD_PAYMENTS_EN, MORNING))
    assert incident.summary.startswith("Possible outage: 8 reports about payments and cards in 40")
    assert {"card", "declined"} <= set(incident.words)
    assert incident.first_report_at == MORNING
    assert incident.last_report_at == MORNING + timedelta(minutes=40)


def test_one_customer_reported_eight_times_is_no_incident() -> None:
    rows = burst(random.Random(1), CARD_PAYMENTS_EN, MORNING, customers=1, employees=8)
    assert incidents_in(rows) == []


def test_one_customer_known_by_phone_in_two_formats_is_one_customer() -> None:
    rows = burst(random.Random(1), CARD_PAYMENTS_EN, MORNING, reports=6, customers=6, employees=6)
    phone = rows[0]["customer"]["phone"]  # "+31 6 ...": the same as "06-..."
    national = "06-" + phone.removeprefix("+31 6 ").replace(" ", "")
    for row in rows[:3]:
        row["customer"] = {"phone": national}
    for row in rows[3:]:
        row["customer"] = {"phone": phone, "name": "Ann Smit"}
    assert incidents_in(rows) == []


def test_one_employee_reporting_eight_customers_is_no_incident() -> None:
    rows = burst(random.Random(1), CARD_PAYMENTS_EN, MORNING, employees=1)
    assert incidents_in(rows) == []


def test_one_employees_anonymous_reports_count_as_one_customer() -> None:
    rows = burst(random.Random(1), CARD_PAYMENTS_EN, MORNING, employees=2)
    for row in rows:
        row.pop("customer")
    assert incidents_in(rows) == []  # two employees: at most two customers


def test_eight_reports_over_three_days_are_no_incident() -> None:
    rows = burst(random.Random(1), CARD_PAYMENTS_EN, MORNING, minutes=3 * 24 * 60)
    assert incidents_in(rows) == []


def test_two_outages_at_once_in_different_categories_are_two_incidents() -> None:
    rng = random.Random(4)
    cards = burst(rng, CARD_PAYMENTS_EN, MORNING, prefix="cards")
    app = burst(rng, APP_LOGIN_EN, MORNING + timedelta(minutes=5), prefix="app")
    incidents = incidents_in(sorted(cards + app, key=lambda r: r["reported_at"]))
    assert sorted(i.category.value for i in incidents) == ["app_website", "payments_cards"]
    ids = {r["id"] for r in cards} | {r["id"] for r in app}
    assert sum(i.reports_count for i in incidents) <= len(ids)


def test_two_outages_at_once_in_one_category_are_two_incidents() -> None:
    """A card outage and a mortgage-portal outage both filed as payments: the wording
    keeps them apart."""
    rng = random.Random(5)
    cards = burst(rng, CARD_PAYMENTS_EN, MORNING, prefix="cards")
    portal = burst(rng, MORTGAGE_PORTAL_EN, MORNING, prefix="portal")
    for row in portal:
        row["category"] = "payments_cards"
    incidents = incidents_in(sorted(cards + portal, key=lambda r: r["reported_at"]))
    assert len(incidents) == 2
    words = [set(i.words) for i in incidents]
    assert any("declined" in w for w in words) and any("portal" in w for w in words)


def test_by_place_an_outage_in_one_town_is_not_mixed_with_another() -> None:
    rng = random.Random(6)
    utrecht = burst(rng, CARD_PAYMENTS_EN, MORNING, reports=5, customers=5, place="Utrecht")
    breda = burst(rng, CARD_PAYMENTS_EN, MORNING, reports=4, customers=4, place="Breda")
    for row in breda:
        row["id"] = "breda-" + row["id"]
    rows = sorted(utrecht + breda, key=lambda r: r["reported_at"])
    by_place = IncidentPolicy(by_place=True)
    [incident] = incidents_in(rows, by_place)
    assert incident.place == "utrecht"
    assert incident.reports_count == 5
    [everywhere] = incidents_in(rows)
    assert everywhere.place is None
    assert everywhere.reports_count == 9


def test_thresholds_and_the_window_are_settings() -> None:
    rows = burst(random.Random(1), CARD_PAYMENTS_EN, MORNING, reports=4, customers=4, employees=3)
    assert incidents_in(rows) == []
    [incident] = incidents_in(rows, IncidentPolicy(min_reports=4))
    assert incident.reports_count == 4
    spread = burst(random.Random(1), CARD_PAYMENTS_EN, MORNING, minutes=150)
    assert incidents_in(spread) == []
    assert len(incidents_in(spread, IncidentPolicy(window=timedelta(hours=3)))) == 1


# --- quiet days ----------------------------------------------------------------------


QUIET_DAYS = 10


def test_quiet_days_stay_quiet() -> None:
    """Ordinary days of mixed traffic (300 reports, a third of the labelled sets, at
    random times, about random customers, by 400 employees): no incident. The
    false-positive rate over many more days is measured by tests/bench/incident_days.py."""
    rng = random.Random(2026)
    pool = labelled_rows()
    for n in range(QUIET_DAYS):
        day = quiet_day(rng, MORNING.replace(hour=0) + timedelta(days=n), 300, pool)
        assert incidents_in(day) == [], f"day {n}"


def test_an_outage_on_an_ordinary_day_is_found_and_only_it() -> None:
    rng = random.Random(11)
    day = quiet_day(rng, MORNING.replace(hour=0), 300)
    outage = burst(rng, CARD_PAYMENTS_NL, MORNING + timedelta(hours=4))
    [incident] = incidents_in(sorted(day + outage, key=lambda r: r["reported_at"]))
    assert incident.reports_count >= 7
    assert all(r.excerpt for r in incident.reports)


# --- hysteresis: one outage, one incident ----------------------------------------------


def observe_all(detector: IncidentDetector, reports: list[Report]) -> list[Change]:
    return [change for r in reports for change in detector.observe(r)]


def test_later_reports_join_the_open_incident_and_it_closes_after_the_quiet_period() -> None:
    detector = IncidentDetector({}, POLICY)
    first = observe_all(detector, outage_reports(5, MORNING, timedelta(minutes=5)))
    [opened] = first
    assert opened.desk is DeskAction.open
    assert opened.incident.status is IncidentStatus.opened
    incident_id = opened.incident.incident_id

    later = outage_reports(12, MORNING + timedelta(minutes=30), timedelta(minutes=20))[5:]
    changes = observe_all(detector, later)
    assert [c.desk for c in changes] == [DeskAction.note] * 7
    assert {c.incident.incident_id for c in changes} == {incident_id}
    assert [c.incident.version for c in changes] == list(range(2, 9))
    assert changes[-1].incident.reports_count == 12
    assert changes[-1].report is not None and changes[-1].report.signal_id == later[-1].signal_id
    assert detector.open_by_category()["payments_cards"] == 1

    last = later[-1].at
    assert detector.tick(last + POLICY.quiet - timedelta(minutes=1), "t1") == []
    [closed] = detector.tick(last + POLICY.quiet, "t2")
    assert closed.desk is DeskAction.close
    assert closed.incident.status is IncidentStatus.closed
    assert closed.incident.closed_at == last + POLICY.quiet
    assert detector.open_by_category()["payments_cards"] == 0

    again = observe_all(
        detector, outage_reports(5, last + timedelta(hours=3), timedelta(minutes=5))
    )
    [reopened] = [c for c in again if c.desk is DeskAction.open]
    assert reopened.incident.incident_id != incident_id


def test_a_report_seen_again_changes_nothing_and_gives_back_its_changes() -> None:
    """A redelivery after a crash between the table write and the sends."""
    memory: dict[str, Any] = {}
    detector = IncidentDetector(memory, POLICY)
    reports = outage_reports(6, MORNING, timedelta(minutes=5))
    changes = observe_all(detector, reports)
    state = json.dumps(memory, sort_keys=True)
    assert [c.desk for c in detector.observe(reports[4])] == [DeskAction.open]
    [note] = detector.observe(reports[5])
    assert note == changes[-1]
    assert detector.observe(reports[0]) == []  # listed at the opening, caused nothing
    assert json.dumps(memory, sort_keys=True) == state


def test_a_tick_seen_again_closes_again_until_the_next_tick() -> None:
    detector = IncidentDetector({}, POLICY)
    observe_all(detector, outage_reports(5, MORNING, timedelta(minutes=5)))
    later = MORNING + timedelta(hours=4)
    [closed] = detector.tick(later, "t1")
    assert detector.tick(later, "t1") == [closed]
    assert detector.tick(later + timedelta(minutes=1), "t2") == []
    assert detector.tick(later, "t1") == []


class Reloaded(dict[str, Any]):
    """A memory that hands out a fresh copy of every value, as a restored table does:
    the detector can never reuse an incident object it kept."""

    def get(self, key: str, default: Any = None) -> Any:
        value = super().get(key, default)
        return json.loads(json.dumps(value)) if value is not None else None


def test_keeping_incident_objects_between_reports_changes_nothing() -> None:
    """The detector keeps each incident's object between reports (it costs less than
    reading it back): the changes and the memory are those of reading it back each time."""
    reports = outage_reports(300, MORNING, timedelta(seconds=30))
    kept, reloaded = IncidentDetector({}, POLICY), IncidentDetector(Reloaded(), POLICY)
    for r in reports:
        assert kept.observe(r) == reloaded.observe(r)
    later = reports[-1].at + POLICY.quiet
    assert kept.tick(later, "t1") == reloaded.tick(later, "t1")
    assert json.dumps(kept.memory, sort_keys=True) == json.dumps(reloaded.memory, sort_keys=True)


def test_a_change_that_fails_half_made_leaves_no_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error while a report joins an incident (after the object changed, before it was
    stored): the next report sees the incident as the memory holds it."""
    reports = outage_reports(12, MORNING, timedelta(minutes=1))
    detector, control = IncidentDetector({}, POLICY), IncidentDetector({}, POLICY)
    observe_all(detector, reports[:8])
    observe_all(control, reports[:8])
    with monkeypatch.context() as patched:
        patched.setattr(IncidentDetector, "_store", _fail)
        with pytest.raises(RuntimeError):
            detector.observe(reports[8])
    expected = control.observe(reports[9])  # as if the failed report never came
    assert expected  # it joins the incident
    assert detector.observe(reports[9]) == expected
    assert json.dumps(detector.memory, sort_keys=True) == json.dumps(control.memory, sort_keys=True)


def _fail(*_: Any) -> None:
    raise RuntimeError("the memory refused the write")


def test_the_state_stays_bounded_through_a_long_outage() -> None:
    """A thousand reports over ten hours: one incident that counts them all, in a state
    whose size does not grow with them."""
    memory: dict[str, Any] = {}
    detector = IncidentDetector(memory, POLICY)
    sizes = []
    for n, r in enumerate(outage_reports(1000, MORNING, timedelta(seconds=36))):
        changes = detector.observe(r)
        assert all(c.incident.reports_count <= 1000 for c in changes)
        if n % 100 == 99:
            sizes.append(len(json.dumps(memory)))
    incident = changes[-1].incident
    assert incident.reports_count == 1000
    assert len(incident.reports) == POLICY.max_listed
    assert incident.customers_count == 1000  # remembered up to a cap, counted beyond
    assert incident.employees_count == 4
    capped = sizes[3:]  # from the 400th report on, every cap is reached
    assert max(capped) - min(capped) < 0.01 * max(capped)
    assert max(sizes) < 150_000
    [window] = [v for k, v in memory.items() if k.startswith("window:")]
    assert len(window["reports"]) == POLICY.max_window_reports


def test_past_the_listed_reports_the_desk_gets_a_note_at_every_tenth() -> None:
    detector = IncidentDetector({}, POLICY)
    changes = observe_all(detector, outage_reports(80, MORNING, timedelta(minutes=1)))
    noted = [c.incident.reports_count for c in changes if c.desk is DeskAction.note]
    assert noted == [*range(6, POLICY.max_listed + 1), 60, 70, 80]
    assert len(changes) == 76  # opened at 5, then every report updates the incident


# --- words -----------------------------------------------------------------------------


def terms(*words: str) -> Terms:
    return Terms(frozenset(stem(w) for w in words))


def test_inflections_and_dutch_compounds_are_the_same_word() -> None:
    assert stem("payments") == stem("payment") == stem("pay")
    assert stem("betaalt") == stem("betalen") == stem("betaling")
    assert shared(terms("pinnen", "geweigerd"), terms("pinpas", "geweigerd")) == 2
    assert shared(terms("pincode"), terms("pin")) == 1
    assert shared(terms("card", "declined"), terms("mortgage", "portal")) == 0


def test_alike_needs_two_shared_words_and_a_third_of_the_shorter_report() -> None:
    assert alike(terms("card", "declined", "terminal"), terms("card", "declined"), POLICY)
    assert not alike(terms("card", "stolen"), terms("card", "declined"), POLICY)
    four = terms("card", "declined", "fee", "branch")
    nine = terms(*"card declined mortgage letter address holiday abroad train ticket".split())
    assert alike(four, nine, POLICY)  # 2 of 4
    assert not alike(four, nine, IncidentPolicy(min_word_overlap=0.75))


def test_a_report_keeps_few_words_and_no_customer_details_whatever_it_is_sent() -> None:
    customer = {"name": "Jan de Vries", "email": "jan@example.nl", "phone": "+31 6 12345678"}
    many = " ".join("".join(letters) for letters in itertools.product("bcdfg", repeat=4))
    text = (
        "Jan de Vries (jan@example.nl, 06 12345678) says his card is declined at de kassa. "
        + many * 15
    )
    made = report(text, MORNING, customer)
    assert len(made.words) == MAX_WORDS
    assert "Jan" not in made.excerpt and "Vries" not in made.excerpt
    assert "12345678" not in made.excerpt and "jan@" not in made.excerpt
    assert "de kassa" in made.excerpt  # "de" is a particle, not the customer
    assert len(made.excerpt) <= 200


def test_only_complaints_of_a_known_category_are_watched() -> None:
    signal = build_signal(text="Her card was declined at the supermarket again today.")
    lead = complaint().model_copy(update={"kind": Kind.opportunity})
    other = complaint(Category.other)
    assert report_of(signal, lead, POLICY) is None
    assert report_of(signal, other, POLICY) is None
    assert report_of(signal, complaint(), POLICY) is not None


def test_the_place_comes_from_the_signals_metadata() -> None:
    made = report_of(
        build_signal(text="Card declined at the till.", metadata={"place": " Den  Haag "}),
        complaint(),
        POLICY,
    )
    assert made is not None and made.place == "den haag"


@pytest.mark.parametrize(
    "changes",
    [{"min_customers": 6}, {"min_employees": 0}, {"min_reports": 100}],
)
def test_a_policy_that_cannot_work_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="min_"):
        IncidentPolicy(**changes)


def test_a_signal_without_reporter_ids_counts_as_one_unknown_employee() -> None:
    made = report_of(
        Signal.model_validate({**build_signal().model_dump(), "reporter": {"name": "Someone"}}),
        complaint(),
        POLICY,
    )
    assert made is not None and made.employee == "(unknown)"


def test_a_window_taken_from_the_detector_s_own_last_write_is_the_one_read_back() -> None:
    """The detector keeps the window it last stored and does not read it back while the
    memory holds that value; a memory rebuilt from its changelog (every value a copy)
    gives the same changes and the same state."""
    reports = [
        *outage_reports(12, MORNING, timedelta(minutes=3)),
        *outage_reports(4, MORNING + timedelta(hours=1), timedelta(minutes=1)),
    ]
    kept: dict[str, Any] = {}
    restored: dict[str, Any] = {}
    with_cache, without = IncidentDetector(kept, POLICY), IncidentDetector(restored, POLICY)
    for n, one in enumerate(reports):
        assert with_cache.observe(one) == without.observe(one)
        restored_now = json.loads(json.dumps(restored))  # as a restore gives it back
        restored.clear()
        restored.update(restored_now)
        if n % 5 == 4:
            assert with_cache.tick(one.at, f"0-{n}") == without.tick(one.at, f"0-{n}")
    assert json.loads(json.dumps(kept)) == restored
