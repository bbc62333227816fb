"""Who a signal is about, normalised so that two colleagues' reports can be compared:
phone numbers to international digits, e-mail addresses to lower case, names to a
surname key plus first name or initial ("J. de Vries" ~ "Jan de Vries"). Pure.

What is not a person's name is no evidence: a placeholder ("n.v.t.", "onbekend",
"klant"), a name with digits in it ("Klant 1") or a surname of one letter is no name.
Each step is its own function (normalize_phone, parse_name, same_person, index_keys) so
that nicknames or other countries' numbers can be added to one of them alone."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from schemas import Customer

DEFAULT_COUNTRY_CODE = "31"  # a number written with a national 0 prefix is Dutch
_PARTICLES = frozenset(
    "van de der den het ter ten te 't op in la le du da von vom zu del della di dos".split()
)
_TITLES = frozenset(
    "dhr mevr mw mr mrs ms miss mx dr ir ing drs prof heer mevrouw meneer mijnheer".split()
)
# Words colleagues type when they do not know the name (tokens after folding, and the
# whole name with its punctuation removed: "n.v.t." -> "nvt", "N/A" -> "na").
_PLACEHOLDERS = frozenset(
    """nvt na nb onb onbekend onbekende unknown anoniem anonymous anon klant klanten
    customer client klantnaam naam name none null nil geen leeg empty test idem zie
    boven see above tbd x xx xxx xxxx a n de het een the""".split()
)
MIN_SURNAME_LETTERS = 2  # "t" from "n.v.t." or "V" from "J. de V." is no surname


@dataclass(frozen=True)
class PersonName:
    surname: str  # particles folded in: "devries"
    first: str | None  # full first name or a single initial

    def compatible(self, other: PersonName) -> bool:
        if self.surname != other.surname:
            return False
        if not self.first or not other.first:
            return True
        if len(self.first) == 1 or len(other.first) == 1:
            return self.first[0] == other.first[0]
        return self.first == other.first


@dataclass(frozen=True)
class Identity:
    phone: str | None = None
    email: str | None = None
    name: PersonName | None = None

    @property
    def known(self) -> bool:
        return bool(self.phone or self.email or self.name)


def normalize_phone(raw: str | None, country_code: str = DEFAULT_COUNTRY_CODE) -> str | None:
    if not raw:
        return None
    plus = raw.strip().startswith("+")
    digits = re.sub(r"\D", "", raw)
    if plus:
        pass
    elif digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = country_code + digits[1:]
    # "+31 (0)6 ..." writes the national 0 after the country code
    if digits.startswith(country_code + "0"):
        digits = country_code + digits[len(country_code) + 1 :]
    return digits if len(digits) >= 8 else None


def normalize_email(raw: str | None) -> str | None:
    if not raw or "@" not in raw:
        return None
    return raw.strip().lower()


# Letters that Unicode does not decompose into a base letter plus an accent.
_UNDECOMPOSED = str.maketrans(
    {
        "ı": "i",
        "ł": "l",
        "ø": "o",
        "đ": "d",
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "İ": "i",
        "Ł": "l",
        "Ø": "o",
    }
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def parse_name(raw: str | None) -> PersonName | None:
    """A person's name, or None for anything that is not one (see the module's doc)."""
    if not raw or not raw.strip():
        return None
    text = _fold(raw)
    if "," in text:  # "De Vries, Jan"
        last, _, given = text.partition(",")
        text = f"{given} {last}"
    # Digits are kept as letters of a word, so that "Klant 1" is a word with digits
    # (no name), not "Klant" (which would share a key with "Klant 2").
    tokens = [t for t in re.split(r"[^a-z0-9']+", text) if t and t not in _TITLES]
    if not tokens or any(c.isdigit() for t in tokens for c in t):
        return None
    if "".join(tokens).replace("'", "") in _PLACEHOLDERS or all(t in _PLACEHOLDERS for t in tokens):
        return None
    # The surname is the last word with the particles in front of it.
    start = len(tokens) - 1
    while start > 0 and tokens[start - 1] in _PARTICLES:
        start -= 1
    if len(tokens[-1].replace("'", "")) < MIN_SURNAME_LETTERS:
        return None
    surname = "".join(tokens[start:]).replace("'", "")
    first_tokens = tokens[:start]
    first = first_tokens[0] if first_tokens else None
    return PersonName(surname=surname, first=first)


def identity_of(customer: Customer | None, country_code: str = DEFAULT_COUNTRY_CODE) -> Identity:
    if customer is None:
        return Identity()
    return Identity(
        phone=normalize_phone(customer.phone, country_code),
        email=normalize_email(customer.email),
        name=parse_name(customer.name),
    )


def same_person(a: Identity, b: Identity) -> bool:
    """A shared phone or e-mail is the same person; so is a compatible name with a first
    name or initial on both sides ("dhr. de Jong" alone could be anyone of that name),
    unless a phone or e-mail known on both sides says otherwise."""
    if a.phone and a.phone == b.phone:
        return True
    if a.email and a.email == b.email:
        return True
    named = a.name and b.name and a.name.first and b.name.first
    if named and a.name and b.name and a.name.compatible(b.name):
        phones_conflict = bool(a.phone and b.phone and a.phone != b.phone)
        emails_conflict = bool(a.email and b.email and a.email != b.email)
        return not (phones_conflict or emails_conflict)
    return False


def index_keys(identity: Identity) -> list[str]:
    """Keys under which a report is remembered: any shared key makes it a candidate.

    Every pair that same_person accepts shares one of them: a phone, an e-mail, or
    (both having a first name or initial) the surname plus that initial. A name without
    a first name matches nobody by name, so it is not indexed: "dhr. de Jong" or a
    bare common surname would gather every report about anyone of that name."""
    keys = []
    if identity.phone:
        keys.append(f"phone:{identity.phone}")
    if identity.email:
        keys.append(f"email:{identity.email}")
    if identity.name and identity.name.first:
        keys.append(f"name:{identity.name.surname}|{identity.name.first[0]}")
    return keys
