"""Decide what a signal is: complaint, opportunity or other. Pure functions, no I/O.

A first, transparent rule set in Dutch and English: cue words vote for a kind, and the
margin between the votes sets the confidence. Signals with no cue or a weak margin
come out with low confidence, so the router sends them to triage instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas import Category, Classification, Kind, Urgency
from services.processor.domain.language import detect_language

CLASSIFIER_VERSION = "rules-1"


@dataclass(frozen=True)
class Cue:
    pattern: re.Pattern[str]
    kind: Kind
    weight: float
    reason: str


def _cue(kind: Kind, weight: float, *phrases: str) -> list[Cue]:
    return [
        Cue(re.compile(rf"\b{p}", re.IGNORECASE), kind, weight, f"{kind.value}: '{p}'")
        for p in phrases
    ]


C, OPP = Kind.complaint, Kind.opportunity
CUES: list[Cue] = [
    # complaints, English
    *_cue(
        C,
        1.0,
        "complain",
        "broken",
        "not working",
        "doesn'?t work",
        "does not work",
        "stopped working",
        "fail(s|ed|ing)?",
        "angry",
        "furious",
        "fed up",
        "frustrat",
        "unacceptable",
        "still (no|not)",
        "no (internet|power|heating|signal)",
        "refund",
        "overcharg",
        "charged twice",
        "double charg",
        "wrong (bill|invoice|amount)",
        "never arrived",
        "not arrived",
        "hasn'?t arrived",
        "late delivery",
        "damaged",
        "blocked",
        "declined",
        "can'?t log ?in",
        "cannot log ?in",
        "crash",
        "waiting for",
        "on hold",
        "no one (called|answered)",
        "nobody (called|answered)",
        "terrible",
        "awful",
        "disappointed",
        "problem",
        "issue with",
        "error",
    ),
    # complaints, Dutch
    *_cue(
        C,
        1.0,
        "klacht",
        "klaagt",
        "kapot",
        "werkt niet",
        "doet het niet",
        "werkt nog steeds niet",
        "storing",
        "boos",
        "woedend",
        "balen",
        "is er klaar mee",
        "onacceptabel",
        "nog steeds (geen|niet)",
        "geen (internet|stroom|verwarming|bereik)",
        "terugbetal",
        "te veel betaald",
        "dubbel (afgeschreven|betaald)",
        "twee keer afgeschreven",
        "verkeerde (rekening|factuur|bedrag)",
        "niet (aangekomen|geleverd|bezorgd)",
        "nooit aangekomen",
        "beschadigd",
        "geblokkeerd",
        "geweigerd",
        "kan niet inloggen",
        "crasht",
        "wacht al",
        "in de wacht",
        "niemand (belt|heeft gebeld|neemt op)",
        "slecht",
        "teleurgesteld",
        "probleem",
        "fout",
    ),
    # opportunities, English
    *_cue(
        OPP,
        1.0,
        "interested in",
        "would like (an|a) (offer|quote)",
        "wants (an|a) (offer|quote)",
        "quote for",
        "offer for",
        "looking for (a|an)? ?(new )?(mortgage|loan|insurance|"
        "policy|contract|subscription|supplier)",
        "wants to switch",
        "would like to switch",
        "switch to us",
        "upgrade",
        "sign up",
        "buy",
        "purchase",
        "call (her|him|them) back",
        "call (her|him|them) (tomorrow|today)",
        "wants (a )?call",
        "solar panels",
        "heat pump",
        "new customer",
        "become a customer",
        "lead",
    ),
    # opportunities, Dutch
    *_cue(
        OPP,
        1.0,
        "interesse",
        "geïnteresseerd",
        "geinteresseerd",
        "offerte",
        "aanbod",
        "wil overstappen",
        "overstappen naar",
        "klant worden",
        "upgrade",
        "afsluiten",
        "wil (een|graag een)",
        "zoekt (een|nieuwe)",
        "terugbellen",
        "gebeld worden",
        "bel (haar|hem) (morgen|vandaag|terug)",
        "zonnepanelen",
        "warmtepomp",
        "kopen",
        "aanschaffen",
        "nieuwe klant",
    ),
]

_CATEGORY_CUES: list[tuple[Category, re.Pattern[str]]] = [
    (cat, re.compile(rf"\b({'|'.join(words)})", re.IGNORECASE))
    for cat, words in [
        (
            Category.payments_cards,
            [
                "card",
                "pas\\b",
                "pinpas",
                "creditcard",
                "payment",
                "betaling",
                "pinnen",
                "contactless",
                "atm",
                "geldautomaat",
                "transfer",
                "overboeking",
            ],
        ),
        (Category.mortgage_loans, ["mortgage", "hypothe", "loan", "lening", "krediet"]),
        (Category.insurance_claims, ["insur", "verzeker", "claim", "schade", "polis", "policy"]),
        (
            Category.energy,
            [
                "energy",
                "energie",
                "power",
                "stroom",
                "electric",
                "gas\\b",
                "solar",
                "zonnepan",
                "heat pump",
                "warmtepomp",
                "meter",
            ],
        ),
        (
            Category.internet_telecom,
            [
                "internet",
                "wifi",
                "wi-fi",
                "router",
                "modem",
                "fibre",
                "fiber",
                "glasvezel",
                "mobile",
                "mobiel",
                "bereik",
                "signal",
                "tv\\b",
                "telefoon",
            ],
        ),
        (
            Category.invoice_billing,
            [
                "invoice",
                "bill\\b",
                "billing",
                "factuur",
                "rekening",
                "charged",
                "afgeschreven",
                "incasso",
            ],
        ),
        (
            Category.delivery,
            [
                "deliver",
                "parcel",
                "package",
                "pakket",
                "bezorg",
                "geleverd",
                "levering",
                "shipping",
                "courier",
            ],
        ),
        (
            Category.app_website,
            [
                "app\\b",
                "website",
                "site\\b",
                "log ?in",
                "inlog",
                "password",
                "wachtwoord",
                "online",
            ],
        ),
        (
            Category.service_waiting,
            [
                "waiting",
                "wacht",
                "on hold",
                "call back",
                "terugbel",
                "customer service",
                "klantenservice",
                "nobody",
                "niemand",
            ],
        ),
    ]
]

_HIGH_URGENCY = re.compile(
    r"\b(urgent|asap|immediately|today|fraud|stolen|abroad|no (power|heating)|press|lawyer|"
    r"spoed|dringend|vandaag|fraude|gestolen|buitenland|geen (stroom|verwarming)|pers|advocaat)",
    re.IGNORECASE,
)


def category_of(text: str) -> Category:
    best, best_hits = Category.other, 0
    for category, pattern in _CATEGORY_CUES:
        hits = len(pattern.findall(text))
        if hits > best_hits:
            best, best_hits = category, hits
    return best


def urgency_of(text: str) -> Urgency:
    return Urgency.high if _HIGH_URGENCY.search(text) else Urgency.normal


def classify(text: str, language_hint: str | None = None) -> Classification:
    votes = {Kind.complaint: 0.0, Kind.opportunity: 0.0}
    reasons: list[str] = []
    for cue in CUES:
        if cue.pattern.search(text):
            votes[cue.kind] += cue.weight
            reasons.append(cue.reason)
    language = detect_language(text, language_hint)
    complaint, opportunity = votes[Kind.complaint], votes[Kind.opportunity]
    total = complaint + opportunity
    if total == 0:
        kind, confidence = Kind.other, 0.5
        reasons.append("no complaint or opportunity cue")
    else:
        kind = Kind.complaint if complaint >= opportunity else Kind.opportunity
        # Agreement between cues and their number both raise confidence.
        margin = abs(complaint - opportunity) / total
        confidence = min(0.95, 0.5 + 0.3 * margin + 0.05 * min(total, 3))
    return Classification(
        kind=kind,
        confidence=round(confidence, 3),
        category=category_of(text),
        urgency=urgency_of(text),
        language=language,
        reasons=reasons[:10],
        classifier_version=CLASSIFIER_VERSION,
    )
