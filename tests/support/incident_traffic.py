"""Generated report histories for the incident detector: outage bursts, and quiet days of
ordinary traffic that must stay quiet.

Rows are in the input format of `antenna incidents` (id, text, channel, reported_at,
customer, reporter, department, kind, category). A quiet day draws its texts from the
labelled sets shipped with the classifier (classifier/data/, dedupe_data/), written by
two other authors about hundreds of different problems; a burst is one problem told by
different employees in their own words (the phrasings below), with different customers.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from schemas import Category, Classification, Incident, Kind, Signal
from services.processor.domain.incidents import IncidentPolicy, Report, report_of
from services.processor.offline import signal_from_row
from services.processor.offline_incidents import detect, given_classification, with_place
from tests.support.builders import build_signal

Row = dict[str, Any]
PROCESSOR = Path(__file__).parents[2] / "services" / "processor"
LABELLED = (
    PROCESSOR / "classifier" / "data" / "labelled_en.jsonl",
    PROCESSOR / "classifier" / "data" / "labelled_nl.jsonl",
    PROCESSOR / "dedupe_data" / "labelled_dedupe.jsonl",
)
DEPARTMENTS = ("Retail", "Branches", "Contact centre", "IT", "HR", "Finance", "Sales", "Legal")
FIRST_NAMES = (
    "Anna Bram Chantal Daan Emma Femke Gert Hanna Ilse Jan Karin Lars Mila Noor Otto Petra "
    "Ruud Sanne Tom Umut Vera Wim Yara Zeynep Ahmed Bas Carla Dirk Esther Fatima"
).split()
SURNAMES = (
    "de Vries|Jansen|Bakker|Visser|Smit|Meijer|de Boer|Mulder|de Groot|Bos|Vos|Peters|Hendriks|"
    "van Leeuwen|Dekker|Brouwer|de Wit|Dijkstra|Smits|de Graaf|van der Meer|Kok|Jacobs|Yilmaz|"
    "El Amrani|Öztürk|Nguyen|Kaya|van Dijk|Willems"
).split("|")


@dataclass(frozen=True)
class Outage:
    """One problem, as different employees would relay it."""

    category: str
    language: str  # en or nl: who tells it, and where it happened
    phrasings: Sequence[str]  # {who} and {where} are filled in


WHO_EN = ("a customer", "my neighbour", "a friend of mine", "my brother", "a client", "an old lady")
WHO_NL = ("een klant", "mijn buurvrouw", "een vriend van me", "mijn zus", "een klant van ons")
WHERE_EN = ("supermarket", "petrol station", "pharmacy", "bakery", "DIY store", "garden centre")
WHERE_NL = ("supermarkt", "tankstation", "apotheek", "bakker", "bouwmarkt", "slager")

CARD_PAYMENTS_EN = Outage(
    "payments_cards",
    "en",
    (
        "{who} could not pay with her debit card at the {where} this afternoon, the terminal "
        "kept saying declined.",
        "{who} says his card payments are being declined everywhere since lunch, although "
        "there is enough money in the account.",
        "Card declined at the {where} for {who}, twice. She had to leave her shopping behind.",
        "{who} phoned me: paying contactless with the bank card fails in every shop, "
        "'transaction declined'.",
        "Payment with the debit card does not go through, the terminal at the {where} shows "
        "an error right after the pin is entered. {who} is annoyed.",
        "{who} is furious, her card is declined at the {where} and the app shows nothing wrong "
        "with the account.",
        "{who} tried paying by card three times at the {where}, declined each time. Is "
        "something down with card payments?",
        "For about an hour {who} cannot pay with his card anywhere: payment declined at the "
        "{where} and in a web shop.",
        "{who} reports that card payments fail: declined at the till of the {where}, pin "
        "entered correctly.",
        "Debit card not working for {who} today, every payment declined, she is embarrassed.",
    ),
)
CARD_PAYMENTS_NL = Outage(
    "payments_cards",
    "nl",
    (
        "{who} kon vanmiddag niet pinnen bij de {where}, de betaling werd steeds geweigerd.",
        "{who} belde boos: zijn pinpas wordt overal geweigerd sinds de lunch, terwijl er "
        "genoeg geld op de rekening staat.",
        "Pinbetaling geweigerd bij de {where}, twee keer. {who} moest haar boodschappen "
        "laten staan.",
        "{who} meldt dat contactloos betalen met de pinpas in elke winkel mislukt, melding "
        "'betaling geweigerd'.",
        "Bij de {where} lukt pinnen niet, de betaalautomaat geeft een foutmelding na het "
        "invoeren van de pincode. {who} is er klaar mee.",
        "{who} is woedend, haar pas wordt geweigerd bij de {where} en in de app is niets "
        "vreemds te zien.",
        "{who} probeerde drie keer te pinnen bij de {where}, elke keer geweigerd. Is er een "
        "storing met pinnen?",
        "Al een uur kan {who} nergens pinnen: betaling geweigerd bij de {where} en ook online.",
        "{who} zegt dat pinnen niet werkt: geweigerd aan de kassa van de {where}, pincode "
        "was goed.",
        "Pinpas werkt vandaag niet bij {who}, elke betaling geweigerd, ze schaamt zich.",
    ),
)
APP_LOGIN_EN = Outage(
    "app_website",
    "en",
    (
        "{who} cannot log in to the mobile banking app since this morning, it says "
        "'something went wrong' after the login code.",
        "The app refuses the login for {who}: error after entering the code, tried three times.",
        "{who} is locked out of the app, the login screen keeps loading and then shows an error.",
        "Logging in to the app fails for {who}, both with fingerprint and with the code.",
        "{who} tells me the banking app gives an error at login, she needs to pay a bill today.",
        "App login broken for {who}: 'something went wrong, try again later' every time.",
        "{who} has not been able to log in to the app all morning, the website login does "
        "not work either.",
        "Error message when {who} logs in to the app, after the code the screen goes white.",
    ),
)
MORTGAGE_PORTAL_EN = Outage(
    "mortgage_loans",
    "en",
    (
        "{who} cannot upload the documents for her mortgage application, the portal gives an "
        "upload error.",
        "The mortgage portal rejects the payslip upload for {who}: 'file could not be processed'.",
        "{who} tried to upload his documents to the mortgage portal all day, upload error "
        "every time.",
        "Upload of the employer's statement fails in the mortgage portal for {who}.",
        "{who} is worried: the mortgage application portal will not take her uploaded "
        "documents and the deadline is Friday.",
        "Mortgage portal upload broken for {who}, error after choosing the file.",
        "{who} says the document upload in the mortgage portal keeps failing with an error.",
        "Documents for the mortgage cannot be uploaded, {who} gets an error in the portal.",
    ),
)
OUTAGES = {
    "card_payments_en": CARD_PAYMENTS_EN,
    "card_payments_nl": CARD_PAYMENTS_NL,
    "app_login_en": APP_LOGIN_EN,
    "mortgage_portal_en": MORTGAGE_PORTAL_EN,
}


def _person(rng: random.Random) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
    slug = f"{first}.{last}".lower().replace(" ", "")
    return {
        "name": f"{first} {last}",
        "email": f"{slug}.{rng.randrange(10**6)}@example.nl",
        "phone": f"+31 6 {rng.randrange(10**8):08d}",
    }


def employee(number: int) -> dict[str, Any]:
    return {
        "employee_id": f"e-{number:04d}",
        "department": DEPARTMENTS[number % len(DEPARTMENTS)],
    }


def burst(
    rng: random.Random,
    outage: Outage,
    start: datetime,
    reports: int = 8,
    customers: int = 8,
    employees: int = 6,
    minutes: float = 40,
    prefix: str = "burst",
    place: str | None = None,
) -> list[Row]:
    """``reports`` reports of ``outage`` over ``minutes`` from ``start``, about
    ``customers`` different customers, by ``employees`` different employees (from
    ``place``, when given)."""
    people = [_person(rng) for _ in range(customers)]
    staff = rng.sample(range(1, 5000), employees)
    phrasings = list(outage.phrasings)
    rng.shuffle(phrasings)
    who, where = (WHO_NL, WHERE_NL) if outage.language == "nl" else (WHO_EN, WHERE_EN)
    rows = []
    for i in range(reports):
        at = start + timedelta(minutes=minutes * i / max(reports - 1, 1))
        text = phrasings[i % len(phrasings)].format(who=rng.choice(who), where=rng.choice(where))
        rows.append(
            {
                "id": f"{prefix}-{i + 1}",
                "text": text[0].upper() + text[1:],
                "channel": rng.choice(("form", "chat", "email", "api")),
                "reported_at": at.isoformat(),
                "customer": people[i % customers],
                "reporter": employee(staff[i % employees]),
                "kind": "complaint",
                "category": outage.category,
                **({"place": place} if place else {}),
            }
        )
    return rows


def judged(rows: Sequence[Row], policy: IncidentPolicy) -> list[tuple[Signal, Classification]]:
    """The rows as the incident stage sees them, with their given kind and category."""
    now = datetime.now(UTC)
    pairs = []
    for row in rows:
        classification = given_classification(row)
        assert classification is not None, f"row {row.get('id')} has no kind and category"
        pairs.append((with_place(signal_from_row(row, now), row, policy), classification))
    return pairs


def incidents_in(rows: Sequence[Row], policy: IncidentPolicy | None = None) -> list[Incident]:
    """What `antenna incidents` finds in ``rows`` (labelled: nothing is classified)."""
    policy = policy or IncidentPolicy()
    return detect(judged(rows, policy), policy)


def labelled_rows() -> list[Row]:
    rows = []
    for path in LABELLED:
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return rows


def _time_of_day(rng: random.Random) -> timedelta:
    """Most reports in office hours, a few in the evening and at night."""
    if rng.random() < 0.85:
        hours = rng.uniform(8, 18)
    else:
        hours = rng.choice((rng.uniform(0, 8), rng.uniform(18, 24)))
    return timedelta(hours=hours)


def quiet_day(
    rng: random.Random,
    day: datetime,
    reports: int = 300,
    pool: Sequence[Row] | None = None,
    staff: int = 400,
    prefix: str = "quiet",
) -> list[Row]:
    """One day of ordinary traffic: ``reports`` labelled signals at random times, about
    random customers (a report from the dedupe set keeps its own), by ``staff``
    employees, in time order."""
    pool = pool if pool is not None else labelled_rows()
    rows = []
    # Each text once a day: one text told about several customers is a burst, not quiet.
    for i, source in enumerate(rng.sample(list(pool), min(reports, len(pool)))):
        customer = source.get("customer") or _person(rng)
        rows.append(
            {
                "id": f"{prefix}-{i + 1}",
                "text": source["text"],
                "channel": source.get("channel") or "form",
                "reported_at": (day + _time_of_day(rng)).isoformat(),
                "customer": customer,
                "reporter": employee(rng.randrange(1, staff + 1)),
                "kind": source["kind"],
                "category": source["category"],
            }
        )
    return sorted(rows, key=lambda r: r["reported_at"])


def quiet_days(
    rng: random.Random, start: datetime, days: int, reports: int = 300
) -> Iterator[list[Row]]:
    pool = labelled_rows()
    for n in range(days):
        yield quiet_day(rng, start + timedelta(days=n), reports, pool, prefix=f"day{n}")


# --- single reports, for the detector's own tests --------------------------------------

POLICY = IncidentPolicy()


def complaint(category: Category = Category.payments_cards) -> Classification:
    return Classification(
        kind=Kind.complaint,
        confidence=0.9,
        category=category,
        language="en",
        classifier_version="t",
    )


def report(
    text: str,
    at: datetime,
    customer: dict[str, Any] | None = None,
    employee: str = "e-1",
    category: Category = Category.payments_cards,
    **signal: Any,
) -> Report:
    made = report_of(
        build_signal(
            text=text,
            received_at=at,
            customer=customer,
            reporter={"employee_id": employee, "department": "Retail"},
            **signal,
        ),
        complaint(category),
        POLICY,
    )
    assert made is not None
    return made


SHOPS = ("supermarket", "bakery", "pharmacy", "petrol station", "garden centre", "DIY store")


def outage_reports(count: int, start: datetime, every: timedelta) -> list[Report]:
    """Reports of one card outage, alike enough that the fifth opens the incident."""
    return [
        report(
            f"Her card was declined at the terminal of the {SHOPS[n % len(SHOPS)]}, "
            f"payment refused {n % 3 + 2} times.",
            start + n * every,
            customer={"email": f"customer{n}@example.nl"},
            employee=f"e-{n % 4}",
        )
        for n in range(count)
    ]
