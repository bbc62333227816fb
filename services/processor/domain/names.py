"""When two written names can be one person's. Pure, and linear in the name's length.

- ``fold``: accents and letters Unicode does not decompose go ("Çelik" -> "celik",
  "Łukasz" -> "lukasz", the Turkish dotless i -> "i").
- ``skeleton``: spellings that sound alike are one ("Jürgen" ~ "Juergen", "Stephen" ~
  "Steven", "Elizabeth" ~ "Elisabeth", "Catharina" ~ "Katharina", "Jansen" ~ "Janssen").
- ``given_name_groups``: the formal names a given name stands for, from a curated list of
  Dutch short forms and diminutives plus Turkish, Arabic and Polish spellings
  (``data/given_names.txt``, its source stated in its header) and the English nicknames of
  the PyPI package ``nicknames`` (Apache-2.0). "Kees" -> Cornelis, "Bep" -> Elisabeth,
  "Bill" -> William, "Hans" and "Jan" -> Johannes.
- ``same_given_name``: two first names, or a first name and initials, that can be one
  person's: they share a group, or the initial is that of the name or of a formal name it
  stands for ("C." ~ "Kees", since Kees is short for Cornelis).
"""

from __future__ import annotations

import re
import string
import unicodedata
from functools import cache, lru_cache
from pathlib import Path

from nicknames import NickNamer

DATA = Path(__file__).parent / "data" / "given_names.txt"

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
        "Đ": "d",
        "Æ": "ae",
        "Œ": "oe",
    }
)
# German umlauts written out ("ue" for "ü"; not "oe", a Dutch sound of its own: Joep,
# Koen, and the English "Joe") and spellings that sound alike. Applied in order, each a
# plain replacement: linear in the length.
_SOUNDS_ALIKE = (
    ("ae", "a"),
    ("ue", "u"),
    ("ph", "f"),
    ("th", "t"),
    ("ck", "k"),
    ("ij", "y"),
    ("ca", "ka"),
    ("co", "ko"),
    ("cu", "ku"),
    ("z", "s"),
    ("v", "f"),
)


_DOUBLED = re.compile(r"(.)\1+")


def fold(text: str) -> str:
    """Lower case without accents."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def skeleton(word: str) -> str:
    """A folded word reduced to how it sounds, roughly: doubled letters once."""
    for written, said in _SOUNDS_ALIKE:
        word = word.replace(written, said)
    return _DOUBLED.sub(r"\1", word)


@cache
def _groups() -> dict[str, frozenset[str]]:
    """Skeleton of a name -> skeletons of the formal names it stands for (and itself)."""
    pairs: list[tuple[str, str]] = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        formal, colon, variants = line.partition(":")
        if line.startswith("#") or not colon:
            continue
        pairs.extend((formal.strip(), variant) for variant in variants.split())
    for english, nicknames in NickNamer().nickname_lookup.items():
        pairs.extend((english, nickname) for nickname in nicknames)
    groups: dict[str, set[str]] = {}
    for formal, variant in pairs:
        f, v = skeleton(fold(formal)), skeleton(fold(variant))
        groups.setdefault(f, {f})
        groups.setdefault(v, {v}).add(f)
    return {name: frozenset(group) for name, group in groups.items()}


@lru_cache(maxsize=8192)
def given_name_groups(name: str) -> frozenset[str]:
    """The skeletons of ``name`` (folded, lower case) and of the formal names it is short for."""
    key = skeleton(name)
    return _groups().get(key, frozenset({key}))


def is_given_name(name: str) -> bool:
    """Whether a folded word is known as a first name (so a lone "Steve" is no surname)."""
    return skeleton(name) in _groups()


def _letter(word: str) -> str:
    """The sound class of a word's first letter, for initials: C and K, S and Z, F and V
    are one ("C." may stand for Cornelis or Kees, whose skeletons start with k)."""
    first = word[:1]
    return _LETTER_CLASS.get(first, first)


_LETTER_CLASS = {"c": "k", "z": "s", "v": "f"}
# Every class an initial can be in: a surname alone is looked up under each.
INITIAL_CLASSES = tuple(sorted({_letter(c) for c in string.ascii_lowercase}))


@lru_cache(maxsize=8192)
def given_name_letters(name: str) -> tuple[str, ...]:
    """The initials a person called ``name`` may be written with: the name's own and
    those of the formal names it is short for ("Kees": k, as Cornelis; "Bep": b, e)."""
    if len(name) == 1:
        return (_letter(name),)
    return tuple(sorted({_letter(name)} | {_letter(g) for g in given_name_groups(name)}))


def same_given_name(a: str, b: str, initials_a: str = "", initials_b: str = "") -> bool:
    """Whether first names ``a`` and ``b`` (folded; one letter for an initial) can be one
    person's. ``initials_*`` are the initials of all the given names written ("jp" for
    "J.P." or "Jan Peter"): after the first, they must agree as far as both go."""
    rest_a, rest_b = initials_a[1:], initials_b[1:]
    shorter = min(len(rest_a), len(rest_b))
    if any(
        _letter(x) != _letter(y) for x, y in zip(rest_a[:shorter], rest_b[:shorter], strict=True)
    ):
        return False
    if len(a) == 1 or len(b) == 1:
        initial, name = (a, b) if len(a) == 1 else (b, a)
        letter = _letter(initial)
        return _letter(name) == letter or any(
            _letter(formal) == letter for formal in given_name_groups(name)
        )
    return bool(given_name_groups(a) & given_name_groups(b))
