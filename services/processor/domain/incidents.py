"""Emerging issues: several customers, one problem, within a short time. Pure: the state
lives in a mapping the caller provides (a dict offline and in tests, a changelog-backed
Faust table in the processor); the clock comes with each report and each tick.

An incident opens when, within ``window``, at least ``min_reports`` complaints of one
category are worded alike, are about at least ``min_customers`` different customers and
were reported by at least ``min_employees`` different employees (with ``by_place``: and
come from one place). Alike: the newest report shares enough content words with each of
the others (a "star" around it, so that a chain of reports each a little like the last
cannot grow into an incident). A later report worded like at least two of the open
incident's recent reports joins it instead of starting another; the incident closes
once none has joined for ``quiet``. One outage is one incident.

Each report stays its own case: the detector only watches, it changes no decision.

Bounded: one window per category (a fixed set) with at most ``max_window_reports``
reports, at most ``max_open`` open incidents per category, each listing at most
``max_listed`` reports and remembering at most ``max_remembered`` customers and
employees. The state does not grow with traffic.

Idempotent: a report seen before (a redelivery after a crash) changes nothing and gives
back the changes it caused, so that the caller can send them again; so does a tick seen
before (by its id), until the next tick.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any

from schemas import (
    INCIDENT_SOURCE,
    Category,
    Channel,
    Classification,
    Customer,
    Incident,
    IncidentReport,
    IncidentStatus,
    Kind,
    Signal,
    signal_id_for,
)
from services.common.message_text import clean_text, report_content
from services.processor.domain.identity import (
    Identity,
    identity_from_json,
    identity_of,
    identity_to_json,
    index_keys,
    lookup_keys,
    same_person,
)

Memory = MutableMapping[str, Any]  # values must be JSON-serialisable

# Every category but "other" (not a shared problem) has a window.
CATEGORIES = tuple(c.value for c in Category if c is not Category.other)

# Words are compared by their first letters: "payment"/"payments", "betalen"/"betaling".
# Cheap stemming for Dutch and English, with no lexicon to ship.
STEM_CHARS = 5
MIN_WORD_CHARS = 3
# The first content words say what the report is about; the rest adds little but noise.
MAX_WORDS = 32
# Enough text for 32 content words; keeps the cost per report bounded whatever is sent.
MAX_TEXT_CHARS = 4000
EXCERPT_CHARS = 200
MAX_PLACE_CHARS = 100
# Shared words an incident remembers (the most frequent ones), and shows in its summary.
MAX_PROFILE = 64
SUMMARY_WORDS = 5
# An incident is about the words at least this share of its reports use.
CORE_SHARE = 0.25
UNKNOWN_EMPLOYEE = "(unknown)"

# Function words, and the words any report uses whatever its problem ("customer",
# "neighbour", "call back"): sharing them says nothing.
STOPWORDS = frozenset(
    """
    the and for but not nor yet with without from into onto over under about above after
    before again against between through during until while this that these those there
    here where when what which who whom whose why how all any both each few more most other
    some such only own same than too very can could will would shall should may might must
    has have had having does did doing done was were been being are his her hers him she
    they them their theirs its our ours your yours you she's he's it's i'm i've i'd don't
    didn't doesn't isn't wasn't can't won't cannot also just still even now then once ever
    never always already really quite because since though although however instead
    customer customers client clients neighbour neighbor neighbours friend friends brother
    sister mother father mum mom dad son daughter wife husband colleague colleagues
    acquaintance family uncle aunt cousin grandmother grandfather nephew niece partner
    someone somebody anyone anybody everyone nobody people person man woman lady guy
    says said told tells tell asked asks ask wants want wanted would like likes wondering
    called call calling calls back phone mail email e-mail contact please thanks thank hello
    today yesterday tomorrow week weeks month months year years day days time times morning
    afternoon evening tonight last next ago got get gets getting make made makes going goes
    went come came know knows knew think thinks thought see seen saw look looks looked
    one two three four five six seven eight nine ten first second again apparently
    de het een en van in op te dat die dit deze der den des aan met voor door naar bij
    uit over onder tot tegen zonder tussen tijdens sinds om als dan maar want dus toch nog
    al ook wel niet geen nooit altijd weer even heel erg zeer meer veel minder zo zoals
    hij zij ze zich haar hem hen hun wij we jij je u jullie ik mij me mijn zijn ons onze
    jouw uw wie wat waar wanneer waarom hoe welke welk er hier daar iets niets iemand
    niemand alles heeft hebben had hadden is was waren wordt worden werd werden kan kunnen
    kon konden wil willen wilde wilden zal zullen zou zouden moet moeten moest mag mogen
    gaat gaan ging gingen doet doen deed komt komen kwam zegt zeggen zei vraagt vragen vroeg
    klant klanten buurman buurvrouw buren vriend vriendin vrienden broer zus moeder vader
    zoon dochter vrouw man collega kennis familie oom tante neef nicht opa oma schoonmoeder
    iemand mensen meneer mevrouw dhr mevr
    bellen belt gebeld terugbellen terug contact opnemen graag bedankt alvast groet groeten
    vandaag gisteren morgen week weken maand maanden jaar jaren dag dagen keer uur
    eerst tweede nogmaals blijkbaar ineens gewoon echt inmiddels steeds sinds
    something nothing anything everything every everywhere nowhere mine keep keeps kept
    new old twice out off via per right actually use uses used saying fine home house
    lol fyi either different able check clear feels taken mentioned hand reason writing
    problem problems issue issues report reports tried try trying again later hour hours
    minute minutes bit former mate classmate relation employee team work works working
    doesn didn hasn wasn isn won aren weren shows show showing kept says
    krijgt kreeg gekregen krijgen terwijl staat stond staan niks niets alleen zit ligt weg
    half fijn snapt omdat thuis huis andere anders hetzelfde volgens namens belde weten
    zien zelf geweest gehad gekomen geleden vorige nieuw nieuwe oud oude elk elke twee drie
    probleem problemen opnieuw blijft probeerde proberen vanochtend vanmiddag vanavond
    schoonvader schoonmoeder schoonzus zwager schoolvriendje werkt werken lukt gelukt
    overal nergens boos klaar
    monday tuesday wednesday thursday friday saturday sunday maandag dinsdag woensdag
    donderdag vrijdag zaterdag zondag january february march april june july august
    september october november december januari februari maart mei juni juli augustus
    oktober
    """.split()
)

_LETTERS = re.compile(r"[^\W\d_]+")
_SPACE = re.compile(r"\s+")
_DOUBLED = re.compile(r"(.)\1")
# Longest first: "payments" loses "ments", not "s".
_ENDINGS = ("ments", "ingen", "ment", "ings", "ing", "ers", "er", "ed", "es", "en", "e", "s", "t")


class DeskAction(StrEnum):
    """What an incident's change means for its ticket at the service desk."""

    open = "open"  # one ticket that lists the reports
    note = "note"  # a later report joined: a note on that ticket
    close = "close"  # quiet for the quiet period: a closing note


@dataclass(frozen=True)
class IncidentPolicy:
    window: timedelta = timedelta(minutes=60)
    min_reports: int = 5
    min_customers: int = 4
    min_employees: int = 3
    quiet: timedelta = timedelta(minutes=120)
    # Alike: at least this many shared words, and at least this share of the shorter
    # report's words (measured on generated bursts and quiet days: see the tests).
    min_shared_words: int = 2
    min_word_overlap: float = 0.3
    by_place: bool = False
    place_key: str = "place"  # the signal's metadata field that names the place
    kinds: frozenset[str] = frozenset({Kind.complaint.value})
    max_window_reports: int = 64
    max_open: int = 3
    max_listed: int = 50
    max_remembered: int = 200
    # Once max_listed reports are listed, the desk gets a note at every note_every-th
    # report only: the incident's count still grows with each.
    note_every: int = 10

    def __post_init__(self) -> None:
        if not 1 <= self.min_customers <= self.min_reports:
            raise ValueError("min_customers must be between 1 and min_reports")
        if not 1 <= self.min_employees <= self.min_reports:
            raise ValueError("min_employees must be between 1 and min_reports")
        if self.min_reports > self.max_window_reports:
            raise ValueError("min_reports cannot exceed max_window_reports")


# --- what a report is, for the detector ----------------------------------------------------


def fold(text: str) -> str:
    """Lower case without accents: "één" and "een", "Café" and "cafe" are one word."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    if decomposed.isascii():
        return decomposed
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stem(word: str) -> str:
    """A crude stem: doubled letters single ("betaalt"/"betalen", "pinnen"/"pin"), one
    common Dutch or English ending off, then the first STEM_CHARS letters."""
    word = _DOUBLED.sub(r"\1", word)
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_WORD_CHARS:
            word = word[: -len(ending)]
            break
    return word[:STEM_CHARS]


def content_words(text: str) -> dict[str, str]:
    """The first MAX_WORDS content words of ``text``, by stem (the first word seen with
    each stem), in order. Linear."""
    seen: dict[str, str] = {}
    for match in _LETTERS.finditer(fold(text)):  # folded once, not word by word
        word = match.group()
        if len(word) < MIN_WORD_CHARS or word in STOPWORDS:
            continue
        seen.setdefault(stem(word), word[:30])
        if len(seen) >= MAX_WORDS:
            break
    return seen


def excerpt(content: str, customer: Customer | None) -> str:
    """The start of a report, without the customer's name (their e-mail address and
    phone number are gone already: ``report_content`` drops contact details)."""
    text = _SPACE.sub(" ", content[: EXCERPT_CHARS * 2]).strip()
    # Not "de" or "van" from "Jan de Vries": those are everywhere in Dutch.
    named = _LETTERS.findall(customer.name or "") if customer else []
    names = {w for w in named if len(w) >= MIN_WORD_CHARS and fold(w) not in STOPWORDS}
    if names:
        pattern = r"\b(?:" + "|".join(re.escape(n) for n in sorted(names)) + r")\b"
        text = re.sub(pattern, "[customer]", text, flags=re.IGNORECASE)
    if len(text) > EXCERPT_CHARS:
        text = text[: EXCERPT_CHARS - 1].rstrip() + "…"
    return text


def normalise_place(raw: str | None) -> str | None:
    if not raw or not raw.strip():
        return None
    return _SPACE.sub(" ", fold(raw)).strip()[:MAX_PLACE_CHARS]


@dataclass(frozen=True)
class Report:
    """What the detector keeps of one complaint."""

    signal_id: str
    at: datetime
    category: str
    channel: str
    customer: Identity
    employee: str
    department: str | None
    place: str | None
    stems: tuple[str, ...]
    words: tuple[str, ...]  # a word of each stem, to show
    excerpt: str
    incident: str | None = None
    # opened (the report that opened its incident), listed (in it from the opening),
    # noted (joined later, a note on the ticket), counted (joined, no note)
    role: str | None = None

    @cached_property
    def terms(self) -> Terms:
        return Terms(frozenset(self.stems))

    @property
    def customer_key(self) -> Identity | str:
        """The customer, or, when the report names none, its employee's unnamed customer:
        one employee's anonymous reports are counted as one customer, not several."""
        return self.customer if self.customer.known else f"anonymous:{self.employee}"

    def listed(self) -> IncidentReport:
        return IncidentReport(
            signal_id=self.signal_id,
            reported_at=self.at,
            channel=Channel(self.channel),
            department=self.department,
            excerpt=self.excerpt,
        )

    def to_json(self) -> dict[str, Any]:
        """Its form in the memory: the same dict each time (a report is written in its
        window's every update; nobody changes what is stored)."""
        return self._json

    @cached_property
    def _json(self) -> dict[str, Any]:
        return {
            "signal_id": self.signal_id,
            "at": self.at.isoformat(),
            "category": self.category,
            "channel": self.channel,
            "customer": identity_to_json(self.customer),
            "employee": self.employee,
            "department": self.department,
            "place": self.place,
            "stems": list(self.stems),
            "words": list(self.words),
            "excerpt": self.excerpt,
            "incident": self.incident,
            "role": self.role,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        return cls(
            **{
                **data,
                "at": datetime.fromisoformat(data["at"]),
                "customer": identity_from_json(data["customer"]),
                "stems": tuple(data["stems"]),
                "words": tuple(data["words"]),
            }
        )


def report_of(
    signal: Signal, classification: Classification, policy: IncidentPolicy
) -> Report | None:
    """The report the detector watches, or None: only complaints (``policy.kinds``) of a
    known category with some words of their own can share a problem."""
    if classification.kind.value not in policy.kinds or classification.category is Category.other:
        return None
    text = f"{signal.subject}\n{signal.text}" if signal.subject else signal.text
    content = report_content(clean_text(text[:MAX_TEXT_CHARS]))
    words = content_words(content)
    if not words:
        return None
    reporter = signal.reporter
    employee = (reporter.employee_id or reporter.email or "").strip().lower()
    return Report(
        signal_id=signal.signal_id,
        at=signal.received_at,
        category=classification.category.value,
        channel=signal.channel.value,
        customer=identity_of(signal.customer),
        employee=employee or UNKNOWN_EMPLOYEE,
        department=reporter.department,
        place=normalise_place(signal.metadata.get(policy.place_key)),
        stems=tuple(words),
        words=tuple(words.values()),
        excerpt=excerpt(content, signal.customer),
    )


# --- alike -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    """A report's stems, and what they start with (for Dutch compounds: see ``shared``)."""

    stems: frozenset[str]

    @cached_property
    def starts(self) -> frozenset[str]:
        return frozenset(self.owners)

    @cached_property
    def covers(self) -> frozenset[str]:
        """A stem of another report is the same word as one of these when it is here."""
        return self.stems | self.starts

    @cached_property
    def owners(self) -> dict[str, frozenset[str]]:
        """Each start (of at least MIN_WORD_CHARS letters, shorter than its stem): the
        stems it starts."""
        owners: dict[str, set[str]] = {}
        for t in self.stems:
            for n in range(MIN_WORD_CHARS, len(t)):
                owners.setdefault(t[:n], set()).add(t)
        return {start: frozenset(stems) for start, stems in owners.items()}

    def __len__(self) -> int:
        return len(self.stems)


def shared(a: Terms, b: Terms) -> int:
    """How many words of the smaller set the other has too, a stem counting as the same
    as a longer one it starts ("pin" and "pinpa": Dutch glues words together, so
    "pinnen", "pinpas" and "pinbetaling" are one matter). Linear in the words; set
    operations, as every report is compared with its window's (see test_incidents)."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    same = small.stems & large.covers
    owners = small.owners
    for start in large.stems.intersection(owners) if owners else ():
        same |= owners[start]  # a stem of the smaller set starts with a larger one's stem
    return len(same)


def alike(a: Terms, b: Terms, policy: IncidentPolicy) -> bool:
    if not len(a) or not len(b):
        return False
    common = shared(a, b)
    return common >= policy.min_shared_words and common >= policy.min_word_overlap * min(
        len(a), len(b)
    )


def same_place(a: str | None, b: str | None, policy: IncidentPolicy) -> bool:
    """With ``by_place``, two known places must be the same; an unknown place is no
    evidence either way."""
    return not policy.by_place or a is None or b is None or a == b


def count_customers(keys: Iterable[Identity | str]) -> int:
    """Different customers: identities that are not the same person (a phone in one
    report, the same phone and a name in another, are one), plus the anonymous keys."""
    people: list[Identity] = []
    anonymous: set[str] = set()
    for key in keys:
        if isinstance(key, str):
            anonymous.add(key)
        elif not any(same_person(key, known) for known in people):
            people.append(key)
    return len(people) + len(anonymous)


# --- incidents -----------------------------------------------------------------------------


@dataclass
class _Incident:
    """An incident's state in the memory (mutable while a change is made, then stored)."""

    incident_id: str
    category: str
    place: str | None
    status: IncidentStatus
    version: int
    opened_at: datetime
    changed_at: datetime
    first_at: datetime
    last_at: datetime
    count: int = 0
    listed: list[dict[str, Any]] = field(default_factory=list)
    people: list[dict[str, Any]] = field(default_factory=list)  # identities
    people_keys: list[list[str]] = field(default_factory=list)  # each one's index_keys
    anonymous: list[str] = field(default_factory=list)
    employees: list[str] = field(default_factory=list)
    extra_customers: int = 0  # beyond max_remembered: counted, not remembered
    extra_employees: int = 0
    profile: dict[str, list[Any]] = field(default_factory=dict)  # stem -> [count, word]
    closed_at: datetime | None = None
    closed_by: str | None = None  # the tick that closed it

    def core(self) -> Terms:
        """The words that a good part of its reports share: what the incident is about.
        A part, not any two: else the words of every report that joined would widen the
        incident until it took in unrelated complaints."""
        least = max(2, math.ceil(CORE_SHARE * self.count))
        return Terms(frozenset(s for s, (count, _) in self.profile.items() if count >= least))

    def add(self, report: Report, policy: IncidentPolicy) -> None:
        self.count += 1
        self.first_at = min(self.first_at, report.at)
        self.last_at = max(self.last_at, report.at)
        if len(self.listed) < policy.max_listed:
            listed = report.listed().model_dump(mode="json")
            self.listed.append(listed)
            if "listed_reports" in self.__dict__:
                self.listed_reports.append(_listed(listed))
        self._remember_customer(report, policy)
        if report.employee not in self.employees:
            if len(self.employees) < policy.max_remembered:
                self.employees.append(report.employee)
            else:
                self.extra_employees += 1
        for stemmed, word in zip(report.stems, report.words, strict=True):
            count, shown = self.profile.get(stemmed, (0, word))
            self.profile[stemmed] = [count + 1, shown]
        if len(self.profile) > MAX_PROFILE:
            kept = sorted(self.profile.items(), key=lambda item: (-item[1][0], item[0]))
            self.profile = dict(kept[:MAX_PROFILE])

    def _remember_customer(self, report: Report, policy: IncidentPolicy) -> None:
        key = report.customer_key
        if isinstance(key, str):
            if key in self.anonymous:
                return
            if len(self.anonymous) + len(self.people) < policy.max_remembered:
                self.anonymous.append(key)
                return
        else:
            keys = index_keys(key)
            # Only someone remembered under a key the new one is looked up under (a
            # phone, an e-mail, a surname and initial) can be the same.
            looked_up = lookup_keys(key)
            if any(
                not keys_of.isdisjoint(looked_up) and same_person(key, known)
                for known, keys_of in zip(self.identities, self.people_key_sets, strict=True)
            ):
                return
            if len(self.anonymous) + len(self.people) < policy.max_remembered:
                remembered = identity_to_json(key)
                identities = self.identities  # read before the append: one per person
                self.people.append(remembered)
                identities.append(identity_from_json(remembered))
                self.people_keys.append(keys)
                self.people_key_sets.append(set(keys))
                return
        self.extra_customers += 1

    # Read from the memory once per incident object, then kept up to date by ``add``: the
    # detector keeps the object between reports (``IncidentDetector._incident``).
    @cached_property
    def people_key_sets(self) -> list[set[str]]:
        return [set(keys) for keys in self.people_keys]

    @cached_property
    def identities(self) -> list[Identity]:
        return [identity_from_json(person) for person in self.people]

    @cached_property
    def listed_reports(self) -> list[IncidentReport]:
        return [_listed(report) for report in self.listed]

    @property
    def customers(self) -> int:
        return len(self.people) + len(self.anonymous) + self.extra_customers

    def model(self) -> Incident:
        shown = sorted(
            ((count, word) for count, word in self.profile.values() if count >= 2),
            key=lambda item: (-item[0], item[1]),
        )
        words = [word for _, word in shown[:SUMMARY_WORDS]]
        return Incident(
            incident_id=self.incident_id,
            version=self.version,
            status=self.status,
            category=Category(self.category),
            place=self.place,
            summary=summary(self.category, self.count, self.first_at, self.last_at, words),
            words=words,
            opened_at=self.opened_at,
            changed_at=self.changed_at,
            closed_at=self.closed_at,
            first_report_at=self.first_at,
            last_report_at=self.last_at,
            reports_count=self.count,
            customers_count=max(self.customers, 1),
            employees_count=max(len(self.employees) + self.extra_employees, 1),
            reports=list(self.listed_reports),
        )

    def to_json(self) -> dict[str, Any]:
        """Its form in the memory, sharing no list with the object: the object changes
        with the next report, what was stored does not."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in data.items():
            if isinstance(value, list):
                data[name] = list(value)
        data["profile"] = dict(self.profile)
        for name in ("opened_at", "changed_at", "first_at", "last_at", "closed_at"):
            data[name] = data[name].isoformat() if data[name] is not None else None
        data["status"] = self.status.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _Incident:
        times = {
            name: datetime.fromisoformat(data[name]) if data.get(name) else None
            for name in ("opened_at", "changed_at", "first_at", "last_at", "closed_at")
        }
        values: dict[str, Any] = {k: list(v) if isinstance(v, list) else v for k, v in data.items()}
        values["profile"] = {s: list(v) for s, v in data["profile"].items()}
        values.update(times, status=IncidentStatus(data["status"]))
        return cls(**values)


def _listed(data: dict[str, Any]) -> IncidentReport:
    """A listed report back from the memory, where it was written from a validated
    IncidentReport: rebuilt without validating it again (the ULID check costs more
    than everything else an update does)."""
    return IncidentReport.model_construct(
        signal_id=data["signal_id"],
        reported_at=datetime.fromisoformat(data["reported_at"]),
        channel=Channel(data["channel"]),
        department=data.get("department"),
        excerpt=data["excerpt"],
    )


# What people call each category's problems, for an incident's summary.
CATEGORY_PHRASES = {
    "payments_cards": "payments and cards",
    "mortgage_loans": "mortgages and loans",
    "insurance_claims": "insurance claims",
    "energy": "energy",
    "internet_telecom": "internet and telephone",
    "invoice_billing": "invoices and billing",
    "delivery": "deliveries",
    "app_website": "the app and the website",
    "service_waiting": "service and waiting times",
}


def summary(
    category: str, count: int, first: datetime, last: datetime, words: Sequence[str]
) -> str:
    """'Possible outage: 7 reports about payments and cards in 40 minutes (declined, pin)'"""
    minutes = max(1, round((last - first).total_seconds() / 60))
    span = "1 minute" if minutes == 1 else f"{minutes} minutes"
    about = CATEGORY_PHRASES.get(category, category.replace("_", " "))
    text = f"Possible outage: {count} reports about {about} in {span}"
    return f"{text} ({', '.join(words)})" if words else text


@dataclass(frozen=True)
class Change:
    """One change of an incident: the whole incident as it now is, what it means for its
    desk ticket (None: nothing to add), and for a note, the report it is about."""

    incident: Incident
    desk: DeskAction | None
    report: IncidentReport | None = None


@dataclass
class _Window:
    reports: list[Report]
    open: list[str]
    closed: list[str]  # closed by the last tick, kept until the next one

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> _Window:
        data = data or {}
        return cls(
            [Report.from_json(r) for r in data.get("reports", [])],
            list(data.get("open", [])),
            list(data.get("closed", [])),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "reports": [r.to_json() for r in self.reports],
            "open": list(self.open),
            "closed": list(self.closed),
        }


class IncidentDetector:
    def __init__(self, memory: Memory, policy: IncidentPolicy | None = None) -> None:
        self.memory = memory
        self.policy = policy or IncidentPolicy()
        # The window each category's report last stored, with the value it stored: while
        # the memory still holds that very value, the window is not read back from it.
        self._windows: dict[str, tuple[Any, _Window]] = {}
        # The same for incidents, whose objects are changed in place and then stored:
        # reading one back from the memory (its customers, its listed reports) cost more
        # than the rest of an update. Forgotten when a change fails half made.
        self._incidents: dict[str, tuple[Any, _Incident]] = {}

    def _window(self, key: str) -> _Window:
        data = self.memory.get(key)
        known = self._windows.get(key)
        if known is not None and known[0] is data:
            window = known[1]
            return _Window(list(window.reports), list(window.open), list(window.closed))
        return _Window.from_json(data)

    def _store_window(self, key: str, window: _Window) -> None:
        data = window.to_json()
        self.memory[key] = data
        self._windows[key] = (data, window)

    # --- reports ---

    def observe(self, report: Report) -> list[Change]:
        """Take one report into its category's window; open an incident when the window
        now holds enough alike reports, or let the report join an open one."""
        with self._changing():
            return self._observe(report)

    def _observe(self, report: Report) -> list[Change]:
        policy = self.policy
        key = _window_key(report.category)
        window = self._window(key)
        for earlier in window.reports:
            if earlier.signal_id == report.signal_id:
                return self._replay(earlier)
        newest = max([report.at, *(r.at for r in window.reports)])
        reports = [r for r in window.reports if r.at >= newest - policy.window]
        changes: list[Change] = []
        joined = self._join(window, reports, report)
        if joined is not None:
            incident, role = joined
            report = replace(report, incident=incident.incident_id, role=role)
            self._store(incident)
            note = report.listed() if role == "noted" else None
            desk = DeskAction.note if note is not None else None
            changes.append(Change(incident.model(), desk, note))
        elif len(window.open) < policy.max_open:
            free = [
                r
                for r in reports
                if r.incident is None
                and abs(r.at - report.at) <= policy.window
                and same_place(r.place, report.place, policy)
            ]
            star = [r for r in free if alike(r.terms, report.terms, policy)]
            star.append(report)
            if self._enough(star):
                # Earlier reports of the outage that the newest one happens not to share
                # words with belong to it too, by the rule that lets later ones join.
                star += [
                    r
                    for r in free
                    if r not in star and sum(alike(r.terms, m.terms, policy) for m in star) >= 2
                ]
                incident = self._open(star, report)
                window.open.append(incident.incident_id)
                # Only the report that opened it gives the opening back when seen again;
                # the others caused nothing when they came.
                members = {r.signal_id for r in star}
                reports = [
                    replace(r, incident=incident.incident_id, role="listed")
                    if r.signal_id in members
                    else r
                    for r in reports
                ]
                report = replace(report, incident=incident.incident_id, role="opened")
                changes.append(Change(incident.model(), DeskAction.open))
        reports.append(report)
        window.reports = reports[-policy.max_window_reports :]
        self._store_window(key, window)
        return changes

    def _enough(self, star: Sequence[Report]) -> bool:
        policy = self.policy
        return (
            len(star) >= policy.min_reports
            and len({r.employee for r in star}) >= policy.min_employees
            and count_customers(r.customer_key for r in star) >= policy.min_customers
        )

    def _open(self, star: Sequence[Report], trigger: Report) -> _Incident:
        ordered = sorted(star, key=lambda r: (r.at, r.signal_id))
        places = {r.place for r in star if r.place}
        incident = _Incident(
            incident_id=signal_id_for(INCIDENT_SOURCE, trigger.signal_id),
            category=trigger.category,
            place=places.pop() if self.policy.by_place and len(places) == 1 else None,
            status=IncidentStatus.opened,
            version=1,
            opened_at=trigger.at,
            changed_at=trigger.at,
            first_at=ordered[0].at,
            last_at=ordered[-1].at,
        )
        for member in ordered:
            incident.add(member, self.policy)
        self._store(incident)
        return incident

    def _join(
        self, window: _Window, recent: Sequence[Report], report: Report
    ) -> tuple[_Incident, str] | None:
        """The open incident the report is about, updated with it, and whether its ticket
        gets a note (noted) or only the count grows (counted); None when there is none.

        About: worded like at least two of the incident's reports in the window (one, if
        only one is left there), or, when none is, like its shared words. Not like any one
        of them: a chain of reports that are each a little like the last would drift
        from the outage to whatever else the category's customers complain about."""
        best: tuple[int, _Incident] | None = None
        for incident_id in window.open:
            incident = self._incident(incident_id)
            if incident is None or report.at - incident.last_at >= self.policy.quiet:
                continue  # quiet already: the next tick closes it
            if not same_place(incident.place, report.place, self.policy):
                continue
            members = [r for r in recent if r.incident == incident_id]
            if members:
                alike_members = (m for m in members if alike(report.terms, m.terms, self.policy))
                score = sum(1 for _ in itertools.islice(alike_members, 2))  # 2 is enough
                about = score >= min(2, len(members))
            else:
                core = incident.core()
                score = shared(report.terms, core)
                about = alike(report.terms, core, self.policy)
            if about and (best is None or score > best[0]):
                best = (score, incident)
        if best is None:
            return None
        incident = best[1]
        incident.add(report, self.policy)
        incident.version += 1
        incident.status = IncidentStatus.updated
        incident.changed_at = max(incident.changed_at, report.at)
        listed = incident.count <= self.policy.max_listed
        noted = listed or incident.count % self.policy.note_every == 0
        return incident, "noted" if noted else "counted"

    def _replay(self, earlier: Report) -> list[Change]:
        """A report seen before: the changes it caused, as the incident now stands."""
        if earlier.incident is None:
            return []
        incident = self._incident(earlier.incident)
        if incident is None:
            return []
        if earlier.role == "opened":
            return [Change(incident.model(), DeskAction.open)]
        if earlier.role == "noted":
            return [Change(incident.model(), DeskAction.note, earlier.listed())]
        if earlier.role == "counted":
            return [Change(incident.model(), None)]
        return []  # listed at the opening, which another report caused

    # --- the clock ---

    def tick(self, now: datetime, tick_id: str) -> list[Change]:
        """Close the incidents quiet since ``now - quiet`` and forget reports older than
        the window. ``tick_id`` names this tick: the same tick again (a redelivery) gives
        back the closings it made; the next tick forgets them."""
        with self._changing():
            return self._tick(now, tick_id)

    def _tick(self, now: datetime, tick_id: str) -> list[Change]:
        changes: list[Change] = []
        for category in CATEGORIES:
            key = _window_key(category)
            data = self.memory.get(key)
            if data is None:
                continue
            window = _Window.from_json(data)
            kept = []
            for incident_id in window.closed:
                incident = self._incident(incident_id)
                if incident is not None and incident.closed_by == tick_id:
                    changes.append(Change(incident.model(), DeskAction.close))
                    kept.append(incident_id)
                elif incident is not None:
                    del self.memory[_incident_key(incident_id)]
                    self._incidents.pop(incident_id, None)
            window.closed = kept
            for incident_id in list(window.open):
                incident = self._incident(incident_id)
                if incident is None:
                    window.open.remove(incident_id)
                    continue
                if now - incident.last_at < self.policy.quiet:
                    continue
                incident.status = IncidentStatus.closed
                incident.version += 1
                incident.closed_at = incident.changed_at = incident.last_at + self.policy.quiet
                incident.closed_by = tick_id
                self._store(incident)
                window.open.remove(incident_id)
                window.closed.append(incident_id)
                changes.append(Change(incident.model(), DeskAction.close))
            window.reports = [r for r in window.reports if r.at >= now - self.policy.window]
            if not (window.reports or window.open or window.closed):
                del self.memory[key]
            elif window.to_json() != data:
                self.memory[key] = window.to_json()
        return changes

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """A change of incidents: when it fails half made, the kept objects are forgotten
        (one may have changed without being stored)."""
        try:
            yield
        except BaseException:
            self._incidents.clear()
            raise

    def open_by_category(self) -> dict[str, int]:
        return {
            category: len((self.memory.get(_window_key(category)) or {}).get("open", []))
            for category in CATEGORIES
        }

    def _incident(self, incident_id: str) -> _Incident | None:
        """The incident as the memory holds it. The object itself, kept from when it was
        stored, while the memory holds what was stored then: whoever changes it stores it."""
        data = self.memory.get(_incident_key(incident_id))
        if data is None:
            return None
        known = self._incidents.get(incident_id)
        if known is not None and known[0] is data:
            return known[1]
        incident = _Incident.from_json(data)
        self._incidents[incident_id] = (data, incident)
        return incident

    def _store(self, incident: _Incident) -> None:
        data = incident.to_json()
        self.memory[_incident_key(incident.incident_id)] = data
        self._incidents[incident.incident_id] = (data, incident)


def _window_key(category: str) -> str:
    return f"window:{category}"


def _incident_key(incident_id: str) -> str:
    return f"incident:{incident_id}"
