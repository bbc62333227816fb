from __future__ import annotations

import itertools

import pytest

from schemas import Customer
from services.processor.domain.identity import (
    Evidence,
    Identity,
    PersonName,
    identity_match,
    identity_of,
    index_keys,
    lookup_keys,
    normalize_email,
    normalize_phone,
    parse_name,
    same_person,
    spoken_digits,
)
from services.processor.domain.names import fold, same_given_name, skeleton

# --- phones -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "+31 6 12345678",
        "0612345678",
        "06-12345678",
        "+31612345678",
        "0031 6 1234 5678",
        "+31 (0)6 12345678",
        "06 123 456 78",
        "(06) 12 34 56 78",
        "tel. 06-12345678 (werk)",
        "nul zes een twee drie vier vijf zes zeven acht",
    ],
)
def test_dutch_mobile_numbers_normalise_to_one_form(raw: str) -> None:
    assert normalize_phone(raw) == "612345678"


@pytest.mark.parametrize(
    ("written", "other"),
    [
        ("+44 7700 900123", "07700 900123"),  # British, and the British way
        ("0044 7700 900123", "+44 (0)7700 900123"),
        ("+32 470 12 34 56", "0470 12 34 56"),  # Belgian
        ("+49 151 23456789", "0151 23456789"),  # German
        ("+353 87 123 4567", "087 123 4567"),  # Irish
        ("+48 512 345 678", "512 345 678"),  # Polish: no national prefix
        ("+48 512-345-678", "0048 512 345 678"),
    ],
)
def test_a_foreign_number_written_two_ways_is_one_number(written: str, other: str) -> None:
    assert normalize_phone(written) == normalize_phone(other) is not None


def test_the_default_region_reads_numbers_without_a_country_code() -> None:
    """A Belgian reading "0470 12 34 56" gets the same number as a Dutch one: the country
    is left out of the key, so the region only decides where the national part starts."""
    assert normalize_phone("0470 12 34 56", "BE") == normalize_phone("+32 470 12 34 56")
    assert normalize_phone("07700 900123", "GB") == "7700900123"


@pytest.mark.parametrize("raw", [None, "", "n/a", "12345", "onbekend", "06", "+31"])
def test_no_usable_phone_is_none(raw: str | None) -> None:
    assert normalize_phone(raw) is None


@pytest.mark.parametrize(
    ("spoken", "digits"),
    [
        ("nul zes twaalf vierendertig zesenvijftig achtenzeventig", "0 6 12 34 56 78"),
        ("oh seven seven double oh nine", "0 7 7 00 9"),
        ("zero six twelve thirty four", "0 6 12 34"),
        ("06-12345678", "06-12345678"),
        ("tweeentwintig", "22"),
    ],
)
def test_digits_spelled_out_in_dutch_or_english(spoken: str, digits: str) -> None:
    assert spoken_digits(spoken).split() == digits.split()


# --- e-mail -------------------------------------------------------------------------------


def test_email_case_and_spaces_are_ignored() -> None:
    assert normalize_email(" Jan.deVries@Example.COM ") == "jan.devries@example.com"
    assert normalize_email("not an address") is None


# --- names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "surnames", "first", "initials"),
    [
        ("Jan de Vries", ("fries",), "jan", "j"),
        ("J. de Vries", ("fries",), "j", "j"),
        ("De Vries, Jan", ("fries",), "jan", "j"),
        ("jan devries", ("defries", "fries"), "jan", "j"),
        ("dhr. J.P. van der Berg", ("berg",), "j", "jp"),
        ("Paul vd Berg", ("berg",), "paul", "p"),
        ("Van den Berg, P.", ("berg",), "p", "p"),
        ("Mevr. Zoë Ünal", ("unal",), "zoe", "z"),
        ("Mehmet Yılmaz", ("yilmas",), "mehmet", "m"),
        ("Çiçek, F.", ("cicek",), "f", "f"),
        ("Pietersen-de Wit", ("pietersen", "wit"), None, ""),
        ("E. Jansen-Koster", ("jansen", "koster"), "e", "e"),
        ("DJ de Boer", ("boer",), "d", "dj"),
        ("Dirk-Jan de Boer", ("boer",), "dirk", "dj"),
        ("Vliet, Eva van", ("fliet",), "eva", "e"),
        ("Mohamed El Amrani", ("amrani",), "mohamed", "m"),
        ("Th. Bakker", ("baker",), "t", "t"),
        ("Smeets", ("smets",), None, ""),
        ("Mrs Taylor", ("taylor",), None, ""),
        ("Steve", (), "steve", "s"),  # a lone first name is no surname
    ],
)
def test_names_parse_to_surname_keys_and_first_name(
    raw: str, surnames: tuple[str, ...], first: str | None, initials: str
) -> None:
    assert parse_name(raw) == PersonName(surnames, first, initials)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Steve Baker", "Steven Baker"),
        ("Stephen Baker", "Steven Baker"),
        ("Bill Evans", "William Evans"),
        ("Bob Dekker", "Robert Dekker"),
        ("Liz Taylor", "Elizabeth Taylor"),
        ("Hans Mulder", "Johannes Mulder"),
        ("Hans Mulder", "Jan Mulder"),  # both short for Johannes
        ("Kees Visser", "C.J. Visser"),
        ("Kees Visser", "Cornelis Visser"),
        ("Bep Jansen-Koster", "E. Jansen-Koster"),
        ("Bep Jansen", "Elisabeth Jansen-Koster"),
        ("Els de Groot", "Liesbeth de Groot"),
        ("Truus Smit", "G. Smit"),
        ("Ton Peeters", "Antonius Peeters"),
        ("Sjaak Bos", "Jacques Bos"),
        ("Mo Amrani", "Mohammed Amrani"),
        ("Youssef Ben Ali", "Yusuf Ben Ali"),
        ("Kasia Nowak", "Katarzyna Nowak"),
        ("Emre Çelik", "Emre Celik"),
        ("Jürgen Müller", "Juergen Mueller"),
        ("Łukasz Wójcik", "Lukasz Wojcik"),
        ("J. de Vries", "de Vries, Jan"),
        ("Van den Berg, P.", "Paul vd Berg"),
        ("Çiçek, F.", "Fatma Cicek"),
        ("Pietersen-de Wit, Anna", "Anna de Wit"),
        ("Lotte Verhoeven", "Verhoeven, Lotte"),
        ("EVA VAN VLIET", "Vliet, Eva van"),
        ("jan devries", "Jan de Vries"),
        ("DJ de Boer", "Dirk-Jan de Boer"),
    ],
)
def test_one_person_written_two_ways_is_one_person(a: str, b: str) -> None:
    one, other = identity_of(Customer(name=a)), identity_of(Customer(name=b))
    assert identity_match(one, other) is Evidence.STRONG
    assert identity_match(other, one) is Evidence.STRONG
    assert meet(one, other) and meet(other, one)


def meet(old: Identity, new: Identity, widely: bool = False) -> bool:
    """Whether ``new`` finds ``old`` among its candidates."""
    return bool(set(index_keys(old)) & set(lookup_keys(new, widely)))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Jan de Vries", "Els de Vries"),
        ("Jo Smit", "Jos Smit"),
        ("Anna Bakker", "Els Bakker"),
        ("J.P. Visser", "J.A. Visser"),
        ("Jan Peter Visser", "J.A. Visser"),
        ("Jan Jansen", "Jan Janssens"),
        ("Steve Baker", "Steve Barker"),
        ("Mehmet Yılmaz", "Emre Yılmaz"),
    ],
)
def test_other_people_of_one_surname_or_first_name_are_not_one_person(a: str, b: str) -> None:
    one, other = identity_of(Customer(name=a)), identity_of(Customer(name=b))
    assert identity_match(one, other) is Evidence.NONE
    assert identity_match(other, one) is Evidence.NONE


def test_given_names_and_initials() -> None:
    assert same_given_name("kees", "c") and same_given_name("c", "kees")
    assert same_given_name("bep", "e") and same_given_name("mieke", "m", "m", "mjc")
    assert not same_given_name("jan", "e")
    assert same_given_name("j", "j", "j", "jp") and not same_given_name("j", "j", "jp", "ja")
    assert skeleton(fold("Jürgen")) == skeleton("juergen")


def test_a_surname_or_a_first_name_alone_is_weak_evidence() -> None:
    full = identity_of(Customer(name="Steven Baker"))
    assert identity_match(full, identity_of(Customer(name="dhr. Baker"))) is Evidence.WEAK
    assert identity_match(full, identity_of(Customer(name="Steve"))) is Evidence.WEAK
    assert identity_match(full, identity_of(Customer(name="Els"))) is Evidence.NONE
    assert identity_match(full, identity_of(Customer(name="mevr. Jansen"))) is Evidence.NONE


# --- e-mail against name ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "name", "evidence"),
    [
        ("price.jack@example.com", "Jack Price", Evidence.STRONG),
        ("lotteverhoeven93@example.nl", "Lotte Verhoeven", Evidence.STRONG),
        ("l.verhoeven@example.nl", "Lotte Verhoeven", Evidence.STRONG),
        ("verhoeven.lotte@example.nl", "L. Verhoeven", Evidence.STRONG),
        ("verhoeven@example.nl", "Lotte Verhoeven", Evidence.WEAK),
        ("lotteverhoeven93@example.nl", "mevr. Verhoeven", Evidence.WEAK),
        ("anna.verhoeven@example.nl", "Lotte Verhoeven", Evidence.NONE),
        ("jansen@example.nl", "Lotte Verhoeven", Evidence.NONE),
    ],
)
def test_an_address_that_spells_the_name(email: str, name: str, evidence: Evidence) -> None:
    by_mail, by_name = identity_of(Customer(email=email)), identity_of(Customer(name=name))
    assert identity_match(by_mail, by_name) is evidence
    assert identity_match(by_name, by_mail) is evidence
    if evidence is not Evidence.NONE:
        widely = evidence is Evidence.WEAK
        assert meet(by_mail, by_name, widely) and meet(by_name, by_mail, widely)


def test_same_person_by_phone_email_or_name() -> None:
    by_phone = identity_of(Customer(phone="0612345678"))
    assert same_person(by_phone, identity_of(Customer(name="X", phone="+31 6 12345678")))
    by_mail = identity_of(Customer(email="Ann@Example.com"))
    assert same_person(by_mail, identity_of(Customer(email="ann@example.com")))
    assert same_person(
        identity_of(Customer(name="J. de Vries")),
        identity_of(Customer(name="Jan de Vries", email="jan@example.nl")),
    )


def test_a_matching_name_with_conflicting_phones_or_emails_is_another_person() -> None:
    a = identity_of(Customer(name="Jan de Vries", phone="0612345678"))
    b = identity_of(Customer(name="Jan de Vries", phone="0687654321"))
    assert identity_match(a, b) is Evidence.NONE
    c = identity_of(Customer(name="Jan de Vries", email="jan@example.nl"))
    d = identity_of(Customer(name="Jan de Vries", email="jdv@example.org"))
    assert identity_match(c, d) is Evidence.NONE


def test_nothing_known_is_nobody() -> None:
    assert not same_person(Identity(), Identity())
    assert identity_of(None) == Identity()
    assert index_keys(Identity()) == []


def test_index_keys_cover_every_identifier() -> None:
    ident = identity_of(Customer(name="Jan de Vries", email="JAN@example.nl", phone="0612345678"))
    assert index_keys(ident) == ["phone:612345678", "email:jan@example.nl", "name:fries|j"]


@pytest.mark.parametrize(
    "raw",
    [
        "n.v.t.",
        "N/A",
        "onbekend",
        "Unknown",
        "klant",
        "De klant",
        "-",
        "x",
        "?",
        "Mr X",
        "Klant 1",
        "Customer 4711",
        "Jansen2",
        "J. de V.",
        "A B",
    ],
)
def test_placeholders_digits_and_one_letter_surnames_are_no_name(raw: str) -> None:
    assert parse_name(raw) is None
    assert index_keys(identity_of(Customer(name=raw))) == []


def test_names_that_differ_only_by_digits_are_not_one_person() -> None:
    """Digits used to be stripped: "Klant 1" and "Klant 2" shared the key "klant"."""
    one, two = identity_of(Customer(name="Klant 1")), identity_of(Customer(name="Klant 2"))
    assert not same_person(one, two)
    assert not meet(one, two, widely=True)


@pytest.mark.parametrize(
    ("raw", "surname"), [("Li Na", "na"), ("Mevr. Bos", "bos"), ("meneer Jansen", "jansen")]
)
def test_short_real_surnames_and_spoken_titles(raw: str, surname: str) -> None:
    name = parse_name(raw)
    assert name is not None and name.surnames == (surname,)


NAMES = [
    "Jan de Vries",
    "J. de Vries",
    "De Vries, Jan",
    "jan devries",
    "Els de Vries",
    "dhr. de Vries",
    "Kees Visser",
    "C. Visser",
    "Steve",
    "Steven Visser",
    "Bep Jansen-Koster",
    "E. Koster",
    "mevr. Jansen",
]
EMAILS = [None, "kees.visser@example.nl", "devries@example.nl", "evisser@example.nl"]


def test_every_pair_that_identity_match_accepts_is_looked_up_but_first_names() -> None:
    """A nickname, initials or an e-mail that spells a name (STRONG) find their person's
    other reports; a surname alone (WEAK) does when looked up widely, as a chaser is; a
    first name alone does not (the reporter key finds a chaser's: see the Deduper)."""
    people = [identity_of(Customer(name=n)) for n in NAMES] + [
        identity_of(Customer(email=e)) for e in EMAILS if e
    ]
    for old, new in itertools.product(people, people):
        evidence = identity_match(new, old)
        if evidence is Evidence.STRONG:
            assert meet(old, new), (old, new)
        elif evidence is Evidence.WEAK:
            first_name_only = any(p.name and not p.name.surnames for p in (old, new))
            assert first_name_only or meet(old, new, widely=True), (old, new)


def test_a_report_has_few_index_keys_whatever_its_name() -> None:
    """A name is remembered under surname|initial for each initial its first name may be
    written with ("Bep": b, e), or surname|* for a name of many ("Bert"): at most three
    keys (a double surname with a glued particle too), and one for most names."""
    for name, email in itertools.product([*NAMES, "Bert van der Jansen-Vandermeer"], EMAILS):
        keys = index_keys(identity_of(Customer(name=name, email=email, phone="0612345678")))
        assert len([k for k in keys if k.startswith("name:")]) <= 3
        assert len(keys) <= 5
    long_local = "a" * 30 + "jansen" + "b" * 28
    keys = index_keys(identity_of(Customer(email=f"{long_local}@example.nl")))
    assert len(keys) <= 4


@pytest.mark.parametrize("region", ["NL", "BE", "DE", "FR", "IE", "TR", "MA", "GB", "US", "IT"])
def test_the_quick_reading_of_national_numbers_is_libphonenumber_s(region: str) -> None:
    """National numbers with a 0 trunk prefix skip libphonenumber (it costs ~50 us a
    number); what they come to must be what libphonenumber says, for any length."""
    import random

    rng = random.Random(region)
    for _ in range(400):
        digits = "0" + "".join(rng.choice("0123456789") for _ in range(rng.randint(6, 12)))
        written = rng.choice([digits, f"{digits[:3]}-{digits[3:]}", f"{digits[:4]} {digits[4:]}"])
        _assert_read_as_libphonenumber_reads_it(written, region)


@pytest.mark.parametrize(
    "region", ["NL", "BE", "DE", "FR", "IE", "TR", "MA", "GB", "US", "IT", "FI"]
)
def test_the_quick_reading_of_other_runs_of_digits_is_libphonenumber_s(region: str) -> None:
    """Runs of digits without a trunk 0 (a house number or an age before a phone number:
    "42 06-12345678") skip libphonenumber too, unless they start with the region's country
    code or international prefix; what they come to must be what libphonenumber says."""
    import random

    rng = random.Random(f"other {region}")
    leads = ["", "1", "3", "31", "32", "35", "49", "9", "99", "995", "4", "7", "44"]
    for _ in range(1500):
        digits = rng.choice(leads) + "".join(
            rng.choice("0123456789") for _ in range(rng.randint(4, 18))
        )
        cut = rng.randint(1, len(digits) - 1)
        written = rng.choice(
            [
                digits,
                f"{digits[:cut]} {digits[cut:]}",
                f"{digits[:cut]}-{digits[cut:]}",
                f"{digits[:cut]}.{digits[cut:]}",
                f"{digits[:cut]}) {digits[cut:]}",
                f"{digits[:2]} 0{digits[2:]}",
            ]
        )
        _assert_read_as_libphonenumber_reads_it(written, region)


def _assert_read_as_libphonenumber_reads_it(written: str, region: str) -> None:
    import phonenumbers

    try:
        national = phonenumbers.national_significant_number(phonenumbers.parse(written, region))
    except phonenumbers.NumberParseException:
        national = ""
    normalize_phone.cache_clear()
    assert normalize_phone(written, region) == (national if len(national) >= 7 else None), written
