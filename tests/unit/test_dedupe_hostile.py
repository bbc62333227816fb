"""Hostile customer fields and texts cost dedupe linear time, up to the largest the schema
accepts (name 200 characters, phone 40, e-mail 254, text 50,000). Each check compares the
CPU time of the same parser on a quarter of the size and on the full size (see
tests/support/growth.py): 4x the input may cost at most 9x the time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from schemas import Classification, Customer, Kind
from services.processor.domain.dedupe import Deduper
from services.processor.domain.identity import (
    identity_of,
    index_keys,
    normalize_phone,
    parse_name,
    spoken_digits,
)
from services.processor.domain.matter import matter_of, mentions_of
from services.processor.domain.names import given_name_groups
from tests.support.builders import RECEIVED_AT, build_signal
from tests.support.growth import MAX_GROWTH, growth

NAME_MAX, PHONE_MAX, TEXT_MAX = 200, 40, 50_000


def grown(unit: str, size: int, head: str = "", tail: str = "") -> str:
    body = (unit * (size // len(unit) + 1))[: size - len(head) - len(tail)]
    return head + body + tail


# Inputs built to make a parser walk back and forth: particles, hyphens, stops, commas,
# accents, initials, a name that is all one word, and digits spelled out.
NAMES: dict[str, Callable[[int], str]] = {
    "particles": lambda n: grown("van ", n, "Jan ", "Berg"),
    "hyphens": lambda n: grown("a-", n, "", "Jansen"),
    "initials": lambda n: grown("J.", n, "", " Vries"),
    "commas": lambda n: grown(",", n, "Vries", "Jan"),
    "accents": lambda n: grown("Ünâl", n, "Zoë "),
    "one word": lambda n: grown("a", n),
    "glued particles": lambda n: grown("vander", n, "Jan "),
    "apostrophes": lambda n: grown("'t ", n, "Piet "),
    "squeezed initials": lambda n: grown("dj ", n, "", "Boer"),
    "titles": lambda n: grown("dhr. mevr. ", n, "", "Bos"),
}
PHONES: dict[str, Callable[[int], str]] = {
    "digits": lambda n: grown("1", n, "+"),
    "separators": lambda n: grown("1 -().", n),
    "spelled out": lambda n: grown("zes ", n),
    "compounds": lambda n: grown("en", n, "vier", "tig"),
    "double": lambda n: grown("double ", n),
    "letters": lambda n: grown("ab", n, "06"),
}


@pytest.mark.parametrize("make", NAMES.values(), ids=NAMES.keys())
def test_a_hostile_name_costs_linear_time_up_to_200_characters(make: Callable[[int], str]) -> None:
    assert len(make(NAME_MAX)) == NAME_MAX
    Customer(name=make(NAME_MAX))  # the schema takes it

    def judge(customer: Customer) -> object:
        given_name_groups.cache_clear()  # measure the work, not the cache
        return parse_name(customer.name), index_keys(identity_of(customer))

    small, large = Customer(name=make(NAME_MAX // 4)), Customer(name=make(NAME_MAX))
    ratio = growth(judge, small, large, loops=200)
    assert ratio <= MAX_GROWTH, f"4x the name took {ratio:.1f}x the time"


@pytest.mark.parametrize("make", PHONES.values(), ids=PHONES.keys())
def test_a_hostile_phone_costs_about_what_a_phone_costs(make: Callable[[int], str]) -> None:
    """A phone field is at most 40 characters: the worst of them may cost a few times what
    an ordinary international number costs (read by libphonenumber), no more."""
    assert len(make(PHONE_MAX)) == PHONE_MAX

    def read(phone: str) -> object:
        normalize_phone.cache_clear()
        return normalize_phone(phone)

    ratio = growth(read, "+44 7700 900123", make(PHONE_MAX), loops=200)
    assert ratio <= MAX_GROWTH, f"the phone took {ratio:.1f}x an ordinary one"


@pytest.mark.parametrize(
    "local", [lambda n: "a" * n, lambda n: grown("jan", n), lambda n: grown("a.", n, "b")]
)
def test_a_hostile_email_address_costs_linear_time(local: Callable[[int], str]) -> None:
    def judge(customer: Customer) -> object:
        given_name_groups.cache_clear()
        return index_keys(identity_of(customer))

    small = Customer(email=f"{local(16)}@example.nl")
    large = Customer(email=f"{local(64)}@example.nl")  # the longest local part there is
    ratio = growth(judge, small, large, loops=200)
    assert ratio <= MAX_GROWTH, f"4x the address took {ratio:.1f}x the time"


TEXTS: dict[str, Callable[[int], str]] = {
    "chaser words": lambda n: grown("has anyone al nog niks still no ", n),
    "spaces after a cue": lambda n: grown(" ", n, "any", "x"),
    "spaces after sent": lambda n: grown(" ", n, "Any news? sent", "x"),
    "one long word": lambda n: grown("a", n, "no "),
    "at signs": lambda n: grown("a@", n),
    "dots after letters": lambda n: grown("a.", n, "x@"),
    "digits": lambda n: grown("06 ", n),
    "number words": lambda n: grown("nul zes vierendertig ", n),
    "capitals": lambda n: grown("Jansen ", n, "Has anyone called "),
    "amounts": lambda n: grown("3.900,", n),
    # terms_of drops phone numbers (runs of 9+ digits) and keeps shorter runs.
    "phone runs": lambda n: grown("06-1234 (5678) ", n),
    "words before nog gebeld": lambda n: grown("wordt Jan de ", n, "", "nog gebeld"),
    "words before bezig": lambda n: grown("iemand met aa ", n),
    "one long word before nog gebeld": lambda n: grown("a", n, "wordt ", " nog gebeld"),
    "no one has called": lambda n: grown("no one has called x ", n),
    "runs short of a phone": lambda n: grown("1 2-3.4 5 x ", n),
    "a compound that never ends": lambda n: grown("en", n, "Any news? vier", "tig"),
}


@pytest.mark.parametrize("make", TEXTS.values(), ids=TEXTS.keys())
def test_a_hostile_text_costs_dedupe_linear_time(make: Callable[[int], str]) -> None:
    """matter_of reads the first 4,000 characters; mentions_of too. Checked below the cap
    (linear) and to the schema's 50,000 characters (flat)."""
    for fn in (matter_of, mentions_of):
        ratio = growth(fn, make(1_000), make(4_000), loops=5)
        assert ratio <= MAX_GROWTH, f"{fn.__name__}: 4x the text took {ratio:.1f}x the time"
        capped = growth(fn, make(TEXT_MAX // 4), make(TEXT_MAX), loops=5)
        assert capped <= MAX_GROWTH, f"{fn.__name__}: past the cap {capped:.1f}x"


@pytest.mark.parametrize(
    "make",
    [lambda n: grown("vijfenzestig ", n), lambda n: grown("en", n, "vier", "tig")],
    ids=["number words", "a compound that never ends"],
)
def test_spelled_digits_cost_linear_time(make: Callable[[int], str]) -> None:
    """Large enough for a quadratic walk over one word to show (seen: "vierenenen..." was
    split at every "en"); the callers read at most 4,000 characters."""
    ratio = growth(spoken_digits, make(16_000), make(64_000))
    assert ratio <= MAX_GROWTH, f"4x the text took {ratio:.1f}x the time"


def test_a_whole_decision_on_hostile_fields_costs_linear_time() -> None:
    classification = Classification(
        kind=Kind.complaint, confidence=0.9, language="nl", classifier_version="t"
    )

    def decide(size: int) -> None:
        deduper = Deduper({})
        for i in range(20):
            signal = build_signal(
                idempotency_key=f"k{i}",
                received_at=RECEIVED_AT + timedelta(minutes=i),
                customer={
                    "name": grown("van de ", size, "Jan-", "Berg"),
                    "phone": grown("zes ", size // 5),
                },
                text=grown("Has anyone called Jansen back? ", size * 25),
            )
            deduper.decide(signal, classification, signal.received_at)

    ratio = growth(decide, NAME_MAX // 4, NAME_MAX)
    assert ratio <= MAX_GROWTH, f"4x the fields took {ratio:.1f}x the time"
