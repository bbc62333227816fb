"""Who a signal is about, normalised so that two colleagues' reports can be compared. Pure,
and linear in the length of each field.

- Phone numbers: through ``phonenumbers`` (Google's libphonenumber), in any country's
  format; a number written without a country code is read in the default region (NL, see
  ``ANTENNA_DEDUPE_PHONE_REGION``). A number is kept as its national significant number,
  without the country code: "+44 7700 900123" and "07700 900123" (a British number written
  the British way, which the default region cannot tell) are one number. Digits spelled
  out in words ("nul zes een twee ...", "oh seven seven ...") count as digits.
- E-mail addresses: lower case.
- Names: a surname key (particles, accents and spelling variants folded: "van den Berg",
  "vd Berg" and "Berg" are "berg"; a double surname gives both: "Pietersen-de Wit") and the
  first name or initials, in any order ("De Vries, Jan"), with the nicknames and short forms
  of ``names.py`` ("Kees" ~ "C." ~ "Cornelis", "Steve" ~ "Steven").

What is not a person's name is no evidence: a placeholder ("n.v.t.", "onbekend", "klant"),
a name with digits in it ("Klant 1") or a surname of one letter is no name.

``identity_match`` says how sure it is that two identities are one person: STRONG (a
shared phone or e-mail, or a first name and surname that agree), WEAK (a surname without
first name, a first name without surname, or an e-mail address that spells the surname
alone), or NONE. A phone or e-mail known on both sides and different says NONE."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from functools import cache, lru_cache
from typing import Any, NamedTuple

import phonenumbers

from schemas import Customer
from services.processor.domain.names import (
    INITIAL_CLASSES,
    fold,
    given_name_letters,
    is_given_name,
    same_given_name,
    skeleton,
)

DEFAULT_PHONE_REGION = "NL"  # a number written with a national 0 prefix is Dutch
MIN_NATIONAL_DIGITS = 7  # fewer is an extension or a typo, not a customer's number
_PARTICLES = frozenset(
    """van de der den het ter ten te 't op in la le du da von vom zu del della di dos vd vdr
    vden""".split()
)
# Particles only after a first word: "v.d." ("v", "d"), "El Amrani", "Ben Ali" (a lone
# "Ben" or "D." in front is a first name or an initial).
_INNER_PARTICLES = frozenset("v d el al ben bin ibn abu ait".split())
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
MAX_SURNAMES = 2  # a double surname ("Jansen-Koster"): each part is a key, no more
MAX_SURNAME_KEYS = 3  # with a glued particle ("Jansen-Vandermeer": jansen, vandermeer, meer)
# Particles written glued to the surname, longest first; what is left must be a surname.
_GLUED_PARTICLES = ("vanden", "vander", "vande", "van", "vd", "der", "den", "de", "ter", "ten")
MIN_GLUED_REST = 4
MAX_GIVEN_LETTERS = 12  # looked for at the ends of an e-mail address
_VOWELS = frozenset("aeiouy")

_WORD_AND_NEXT = re.compile(r"([a-z0-9']+)([^a-z0-9']?)")
_DIGIT = re.compile(r"\d")
# A run that may be one phone number: bounded, so a search costs linear time.
_PHONE_RUN = re.compile(r"[+(]?\d[\d ().\-]{5,24}\d")


class Evidence(IntEnum):
    NONE = 0
    WEAK = 1
    STRONG = 2


@dataclass(frozen=True)
class PersonName:
    # Surname keys: the skeleton of the surname without its particles ("devries" ->
    # "fries"), one per part of a double surname.
    surnames: tuple[str, ...]
    first: str | None  # the first given name (folded), or its initial; None: unknown
    initials: str = ""  # one letter per given name written: "jp" for "J.P." or "Jan Piet"

    def compatible(self, other: PersonName) -> bool:
        """Could be one person: the surnames share a part and the first names or
        initials agree (a missing first name agrees with any)."""
        if not set(self.surnames) & set(other.surnames):
            return False
        return self.agrees_on_first(other)

    def agrees_on_first(self, other: PersonName) -> bool:
        if not self.first or not other.first:
            return True
        return same_given_name(self.first, other.first, self.initials, other.initials)


@dataclass(frozen=True)
class Identity:
    phone: str | None = None
    email: str | None = None
    name: PersonName | None = None

    @property
    def known(self) -> bool:
        return bool(self.phone or self.email or self.name)


# --- phone ------------------------------------------------------------------------------

_UNITS = {
    **dict.fromkeys(("nul", "zero", "oh"), 0),
    **dict.fromkeys(("een", "one"), 1),
    **dict.fromkeys(("twee", "two"), 2),
    **dict.fromkeys(("drie", "three"), 3),
    **dict.fromkeys(("vier", "four"), 4),
    **dict.fromkeys(("vijf", "five"), 5),
    **dict.fromkeys(("zes", "six"), 6),
    **dict.fromkeys(("zeven", "seven"), 7),
    **dict.fromkeys(("acht", "eight"), 8),
    **dict.fromkeys(("negen", "nine"), 9),
}
_TEENS = {
    **dict.fromkeys(("tien", "ten"), 10),
    **dict.fromkeys(("elf", "eleven"), 11),
    **dict.fromkeys(("twaalf", "twelve"), 12),
    **dict.fromkeys(("dertien", "thirteen"), 13),
    **dict.fromkeys(("veertien", "fourteen"), 14),
    **dict.fromkeys(("vijftien", "fifteen"), 15),
    **dict.fromkeys(("zestien", "sixteen"), 16),
    **dict.fromkeys(("zeventien", "seventeen"), 17),
    **dict.fromkeys(("achttien", "eighteen"), 18),
    **dict.fromkeys(("negentien", "nineteen"), 19),
}
_TENS = {
    **dict.fromkeys(("twintig", "twenty"), 20),
    **dict.fromkeys(("dertig", "thirty"), 30),
    **dict.fromkeys(("veertig", "forty"), 40),
    **dict.fromkeys(("vijftig", "fifty"), 50),
    **dict.fromkeys(("zestig", "sixty"), 60),
    **dict.fromkeys(("zeventig", "seventy"), 70),
    **dict.fromkeys(("tachtig", "eighty"), 80),
    **dict.fromkeys(("negentig", "ninety"), 90),
}
_DOUBLE = frozenset(("dubbel", "double"))
MAX_COMPOUND_LETTERS = 16  # "negenennegentig": the longest is 15
_SPOKEN = re.compile(r"[a-z]+|\d+|\+|[^a-z\d+]+")


def _dutch_compound(word: str) -> int | None:
    """ "vierendertig" -> 34, "eenentwintig" -> 21 (after folding: "tweeentwintig")."""
    unit, en, tens = word.partition("en")
    while en:
        if unit in _UNITS and tens in _TENS:
            return _TENS[tens] + _UNITS[unit]
        more, en, tens = tens.partition("en")
        unit = f"{unit}en{more}"
    return None


def spoken_digits(text: str) -> str:
    """``text`` with digits spelled out in Dutch or English written as digits:
    "nul zes twaalf vierendertig" -> "06 12 34", "double seven" -> "77". Linear."""
    if not any(c.isalpha() for c in text):
        return text
    out: list[str] = []
    tens_at: int | None = None  # where "twenty" was written: "four" makes it 24
    double = False
    for token in _SPOKEN.findall(fold(text)):
        if token.isspace() or token in {"-", "en", "and"}:
            out.append(" ")
            continue
        if token in _DOUBLE:
            double = True
            continue
        value: int | None = None
        if token in _UNITS:
            value = _UNITS[token]
            if tens_at is not None:
                out[tens_at] = str(int(out[tens_at]) + value)
                tens_at = None
                continue
        elif token in _TEENS:
            value = _TEENS[token]
        elif token in _TENS:
            value = _TENS[token]
        elif token.isalpha() and 8 < len(token) <= MAX_COMPOUND_LETTERS:
            value = _dutch_compound(token)
        tens_at = len(out) if token in _TENS else None
        written = token if value is None else str(value)
        out.append(written * 2 if double and value is not None else written)
        double = False
    return "".join(out)


class _Numbering(NamedTuple):
    """What the quick reading of a region's numbers needs of libphonenumber's metadata."""

    national: re.Pattern[str]  # the region's national numbers
    country_code: str  # "31"
    international: re.Pattern[str] | None  # the international prefix ("00"), if any


MAX_NATIONAL_LENGTH = 17  # libphonenumber's longest national number


@cache
def _national_pattern(region: str) -> _Numbering | None:
    """The numbering of ``region`` when its national numbers are written with the trunk
    prefix 0 (NL, BE, DE, FR...), else None."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if (
        metadata is None
        or metadata.general_desc is None
        or not metadata.general_desc.national_number_pattern
        or metadata.national_prefix_for_parsing != "0"
        or metadata.national_prefix_transform_rule
    ):
        return None
    international = metadata.international_prefix
    return _Numbering(
        re.compile(metadata.general_desc.national_number_pattern),
        str(metadata.country_code),
        re.compile(international) if international else None,
    )


def _national_number(digits: str, region: str) -> str | None:
    """The national number libphonenumber reads in ``digits``, without its ~50 us; None
    when this quick reading does not apply. "0612345678" -> "612345678": it drops the
    trunk 0 when what is left is a national number and the whole is not. "420612345678"
    (a run of digits after a house number or an age) -> itself: digits without the trunk
    0, the region's country code or its international prefix in front are read as they
    stand."""
    numbering = _national_pattern(region)
    if numbering is None or not digits.isascii():
        return None
    if digits[:1] != "0":
        if (
            digits.startswith(numbering.country_code)
            or (numbering.international is not None and numbering.international.match(digits))
            or len(digits) > MAX_NATIONAL_LENGTH
        ):
            return None
        return digits
    pattern = numbering.national
    if digits[1:2] == "0":
        return None
    if pattern.fullmatch(digits[1:]) and not pattern.fullmatch(digits):
        return digits[1:]
    return None


@lru_cache(maxsize=4096)
def normalize_phone(raw: str | None, region: str = DEFAULT_PHONE_REGION) -> str | None:
    """The national significant number of the first phone number in ``raw``, or None."""
    if not raw:
        return None
    run = _PHONE_RUN.search(spoken_digits(raw))
    if run is None:
        return None
    written = run.group()
    quick = None
    if written[0] != "+" and "(" not in written:
        quick = _national_number("".join(c for c in written if c.isdigit()), region)
    if quick is not None:
        national = quick  # the common case, as libphonenumber reads it (a test checks)
    else:
        try:
            number = phonenumbers.parse(written, region)
        except phonenumbers.NumberParseException:
            return None
        national = phonenumbers.national_significant_number(number)
    return national if len(national) >= MIN_NATIONAL_DIGITS else None


def normalize_email(raw: str | None) -> str | None:
    if not raw or "@" not in raw:
        return None
    return raw.strip().lower()


# --- names ------------------------------------------------------------------------------


class _Token(NamedTuple):
    word: str
    dotted: bool  # written with a full stop after it: an initial or an abbreviation
    hyphen_after: bool  # joined to the next word by a hyphen: a double name


def _tokens(text: str) -> list[_Token]:
    return [
        _Token(word, after == ".", after == "-") for word, after in _WORD_AND_NEXT.findall(text)
    ]


def _given(tokens: list[_Token]) -> tuple[str | None, str]:
    """The first given name (or its initial) and the initials of all of them."""
    initials = ""
    first: str | None = None
    for i, token in enumerate(tokens):
        word = token.word.replace("'", "")
        if not word:
            continue
        # "DJ", "JP": initials written without stops; "Joh.", "Th.": abbreviations.
        squeezed = not token.dotted and len(word) <= 3 and not _VOWELS & set(word)
        abbreviated = token.dotted and len(word) <= 4 and not is_given_name(word)
        if squeezed:
            initials += word
        else:
            initials += word[0]
        if i == 0:
            first = word[0] if squeezed or abbreviated else word
    return first, initials


def _surname_keys(words: list[str]) -> list[str]:
    """The skeleton of a surname without its particles: "van den berg" -> "berg"; and,
    when a particle is written glued to it ("devries", "vandermeer"), without it too."""
    particles = _PARTICLES | _INNER_PARTICLES
    core = "".join([w for w in words[:-1] if w not in particles] + words[-1:]).replace("'", "")
    keys = [core]
    if len(words) == 1:
        glued = next((p for p in _GLUED_PARTICLES if core.startswith(p)), "")
        if len(core) - len(glued) >= MIN_GLUED_REST:
            keys.append(core[len(glued) :])
    return [skeleton(k) for k in keys if len(k) >= MIN_SURNAME_LETTERS]


@lru_cache(maxsize=4096)
def parse_name(raw: str | None) -> PersonName | None:
    """A person's name, or None for anything that is not one (see the module's doc)."""
    if not raw or not raw.strip():
        return None
    text = fold(raw)
    if "," in text:  # "De Vries, Jan"
        last, _, given = text.partition(",")
        text = f"{given} {last}"
    titled = False
    tokens = []
    for token in _tokens(text):
        if token.word in _TITLES:
            titled = True
        else:
            tokens.append(token)
    words = [t.word for t in tokens]
    # Digits are kept as letters of a word, so that "Klant 1" is a word with digits (no
    # name), not "Klant" (which would share a key with "Klant 2").
    if not words or _DIGIT.search(text):
        return None
    if "".join(words).replace("'", "") in _PLACEHOLDERS or all(w in _PLACEHOLDERS for w in words):
        return None
    if len(words) == 1 and not titled and is_given_name(words[0]):
        return PersonName(surnames=(), first=words[0], initials=words[0][0])  # "Steve"
    if len(words[-1].replace("'", "")) < MIN_SURNAME_LETTERS:
        return None
    # The surname is the last word with the particles in front of it; a hyphen joins the
    # word before to it ("Pietersen-de Wit").
    parts: list[list[str]] = []
    end = len(tokens)
    while end > 0 and len(parts) < MAX_SURNAMES:
        start = end - 1
        while start > 0 and (
            words[start - 1] in _PARTICLES or (start > 1 and words[start - 1] in _INNER_PARTICLES)
        ):
            start -= 1
        parts.append(words[start:end])
        end = start
        if not (end > 0 and tokens[end - 1].hyphen_after):
            break
    keys = (key for part in reversed(parts) for key in _surname_keys(part))
    surnames = tuple(dict.fromkeys(keys))[:MAX_SURNAME_KEYS]
    if not surnames:
        return None
    first, initials = _given(tokens[:end])
    return PersonName(surnames=surnames, first=first, initials=initials)


def identity_to_json(identity: Identity) -> dict[str, Any]:
    """What a memory keeps of an identity (dedupe's reports, incidents' customers)."""
    name = identity.name
    return {
        "phone": identity.phone,
        "email": identity.email,
        "name": {"surnames": list(name.surnames), "first": name.first, "initials": name.initials}
        if name
        else None,
    }


def identity_from_json(data: dict[str, Any]) -> Identity:
    """An identity as identity_to_json wrote it, or as the previous version did (one
    "surname" with its particles folded in)."""
    name = data.get("name")
    if not name:
        return _identity(data.get("phone"), data.get("email"), None, None, "")
    if "surname" in name:
        first = name["first"]
        surnames: tuple[str, ...] = (name["surname"],)
        return _identity(data.get("phone"), data.get("email"), surnames, first, (first or "")[:1])
    return _identity(
        data.get("phone"),
        data.get("email"),
        tuple(name["surnames"]),
        name["first"],
        name.get("initials", ""),
    )


@lru_cache(maxsize=8192)
def _identity(
    phone: str | None,
    email: str | None,
    surnames: tuple[str, ...] | None,
    first: str | None,
    initials: str,
) -> Identity:
    """One Identity for each stored one: a customer reported often is a candidate of
    many reports, and is read back once."""
    person = PersonName(surnames, first, initials) if surnames is not None else None
    return Identity(phone, email, person)


def identity_of(customer: Customer | None, region: str = DEFAULT_PHONE_REGION) -> Identity:
    if customer is None:
        return Identity()
    return Identity(
        phone=normalize_phone(customer.phone, region),
        email=normalize_email(customer.email),
        name=parse_name(customer.name),
    )


def with_contacts(
    identity: Identity, contacts: tuple[str, ...], reporter_email: str | None = None
) -> Identity:
    """``identity`` with the first phone number and e-mail address written in the report's
    text (``contacts``: matter.contacts_of) where the customer's fields have none: a
    colleague often writes the customer only into the message ("gaat om T Willems, 06
    1234 3876"). An address of the colleague's own domain is the colleague's, not the
    customer's."""
    if identity.phone and identity.email:
        return identity
    own = normalize_email(reporter_email)
    domain = own.partition("@")[2] if own else None
    phone, email = identity.phone, identity.email
    for contact in contacts:
        kind, _, value = contact.partition(":")
        if kind == "phone" and phone is None:
            phone = value
        elif kind == "email" and email is None and value.partition("@")[2] != domain:
            email = value
    if (phone, email) == (identity.phone, identity.email):
        return identity
    return Identity(phone, email, identity.name)


# --- one person? ------------------------------------------------------------------------

_EMAIL_WORD = re.compile(r"[a-z]+")


def _email_letters(email: str) -> tuple[str, list[str]]:
    """The letters of an address's local part, and its words: "lotte.verhoeven93@..." ->
    ("lotteverhoeven", ["lotte", "verhoeven"])."""
    words = _EMAIL_WORD.findall(fold(email.partition("@")[0]))
    return "".join(words), words


def _email_spells(email: str, name: PersonName) -> Evidence:
    """Whether an e-mail address spells a name: "price.jack@", "lotteverhoeven93@" or
    "l.verhoeven@" is Lotte Verhoeven (STRONG); "verhoeven@" is any Verhoeven (WEAK); an
    address with another first name in it is someone else (NONE)."""
    letters, words = _email_letters(email)
    whole = skeleton(letters)
    for surname in name.surnames:
        if len(surname) < 3 or surname not in whole:
            continue
        rest = whole.replace(surname, "", 1)
        if not rest:
            return Evidence.WEAK
        if name.first is None:
            return Evidence.WEAK
        given = words[0] if len(words) > 1 and skeleton(words[0]) == rest else rest
        if len(given) == 1 or is_given_name(given):
            same = same_given_name(name.first, given[0] if len(given) == 1 else given)
            return Evidence.STRONG if same else Evidence.NONE
        # Something else around the surname ("info", a second surname): a surname match.
        return Evidence.WEAK
    return Evidence.NONE


def _name_evidence(a: PersonName, b: PersonName) -> Evidence:
    shared = bool(set(a.surnames) & set(b.surnames))
    if a.surnames and b.surnames and not shared:
        return Evidence.NONE
    if not a.agrees_on_first(b):
        return Evidence.NONE
    if shared and a.first and b.first:
        return Evidence.STRONG
    # A surname without first name, or a first name without surname, on one side.
    return Evidence.WEAK if (shared or (a.first and b.first)) else Evidence.NONE


def identity_match(a: Identity, b: Identity) -> Evidence:
    """How sure it is that ``a`` and ``b`` are one person (see the module's doc)."""
    if a.phone and a.phone == b.phone:
        return Evidence.STRONG
    if a.email and a.email == b.email:
        return Evidence.STRONG
    if (a.phone and b.phone) or (a.email and b.email):
        return Evidence.NONE  # known on both sides, and different
    if a.name and b.name:
        return _name_evidence(a.name, b.name)
    if a.name and b.email:
        return _email_spells(b.email, a.name)
    if b.name and a.email:
        return _email_spells(a.email, b.name)
    return Evidence.NONE


def mention_match(mentions: tuple[str, ...], identity: Identity) -> Evidence:
    """How surely what a chaser's text mentions (index keys: see matter.mentions_of) names
    ``identity``: its phone or e-mail (STRONG), its surname or first name (WEAK). What
    the text mentions never speaks against a person: it may be the colleague's own."""
    best = Evidence.NONE
    name = identity.name
    for mention in mentions:
        kind, _, value = mention.partition(":")
        if (kind == "phone" and value == identity.phone) or (
            kind == "email" and value == identity.email
        ):
            return Evidence.STRONG
        if kind == "name" and name is not None:
            first = name.first if name.first and len(name.first) > 1 else None
            if value in name.surnames or (first and same_given_name(value, first)):
                best = Evidence.WEAK
    return best


def same_person(a: Identity, b: Identity) -> bool:
    """Surely one person: a shared phone or e-mail, or a first name and surname that agree
    with no phone or e-mail known on both sides to say otherwise."""
    return identity_match(a, b) is Evidence.STRONG


def _email_names(email: str) -> list[PersonName]:
    """The names an address may spell, for an identity without a name: its words in
    either order ("price.jack" -> Jack Price or Price Jack), its letters less a known
    first name or an initial in front or behind ("lotteverhoeven" -> Lotte Verhoeven),
    or all of its letters as a surname alone."""
    letters, words = _email_letters(email)
    names: list[tuple[str, str | None]] = []
    if len(words) > 1:
        first, last = words[0], words[-1]
        names.extend(((last, first), (first, last)))
    else:
        # A first name is 2 to 12 letters: a dozen cuts at either end, whatever the length;
        # the longest first name that fits first ("lotte", not "lot").
        cuts = range(min(MAX_GIVEN_LETTERS, len(letters) - 3), 1, -1)
        names.extend((letters[c:], letters[:c]) for c in cuts if is_given_name(letters[:c]))
        names.extend(((letters, None), (letters[1:], letters[:1])))
        names.extend((letters[:-c], letters[-c:]) for c in cuts if is_given_name(letters[-c:]))
    return [
        PersonName((skeleton(surname),), first, first[0] if first else "")
        for surname, first in names
        if len(surname) >= 3
    ]


NO_FIRST = "-"  # the key of a surname without first name or initial
AMBIGUOUS = "*"  # the key of a first name short for names of many initials ("Bert")
MAX_NAME_KEYS = 3  # per report


def _name_keys(name: PersonName) -> list[str]:
    """surname|initial: a surname with each initial its first name may be written with
    ("Kees Visser": visser|k; "Bep Jansen": jansen|b and jansen|e); surname|* when that
    would make more than MAX_NAME_KEYS keys; surname|- without a first name."""
    if not name.first:
        return [f"name:{s}|{NO_FIRST}" for s in name.surnames]
    letters = given_name_letters(name.first)
    if len(letters) * len(name.surnames) > MAX_NAME_KEYS:
        letters = (AMBIGUOUS,)
    return [f"name:{s}|{letter}" for s in name.surnames for letter in letters]


def _name_lookups(name: PersonName, widely: bool) -> list[str]:
    """Where the reports a name may match are: under each initial its first name may be
    written with, and under surname|* (the ambiguous first names); ``widely`` (a chaser)
    also under surname|- (no first name), and for a surname alone under every initial."""
    letters: tuple[str, ...] = ()
    if name.first:
        letters = (*given_name_letters(name.first), AMBIGUOUS)
    elif widely:
        letters = (*INITIAL_CLASSES, AMBIGUOUS)
    if widely:
        letters = (*letters, NO_FIRST)
    return [f"name:{s}|{letter}" for s in name.surnames for letter in letters]


def _names_of(identity: Identity) -> list[PersonName]:
    if identity.name:
        return [identity.name]
    return _email_names(identity.email) if identity.email else []


def index_keys(identity: Identity) -> list[str]:
    """Keys under which a report is remembered: at most one phone, one e-mail and three
    name keys (see _name_keys; a report with an e-mail but no name under the names its
    address may spell). A candidate is a report remembered under one of the new report's
    lookup_keys."""
    keys = []
    if identity.phone:
        keys.append(f"phone:{identity.phone}")
    if identity.email:
        keys.append(f"email:{identity.email}")
    names = [key for name in _names_of(identity) for key in _name_keys(name)]
    keys.extend(list(dict.fromkeys(names))[:MAX_NAME_KEYS])
    return keys


def lookup_keys(identity: Identity, widely: bool = False) -> list[str]:
    """Keys under which the reports that may be the same person are remembered: every
    pair that identity_match calls STRONG meets here, and with ``widely`` every WEAK pair
    too, but a first name without surname (tests/unit/test_identity.py). Reading is
    cheap; each key is one lookup, at most 3 x 25 for a chaser that names a surname alone."""
    keys = []
    if identity.phone:
        keys.append(f"phone:{identity.phone}")
    if identity.email:
        keys.append(f"email:{identity.email}")
    for name in _names_of(identity):
        keys.extend(_name_lookups(name, widely))
    return list(dict.fromkeys(keys))


def surname_lookups(surname: str) -> list[str]:
    """Where a surname named in passing (a chaser's text) may be remembered."""
    return _name_lookups(PersonName((surname,), None), widely=True)
