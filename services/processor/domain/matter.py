"""What a report is about, beyond who: whether it chases an earlier report, and the words
that say which thing it is about. Pure, and linear in the length of the text.

A **chaser** asks after an earlier report ("has anyone called him back yet?", "al iets
gehoord over mevrouw Jansen?", "any update on the Smit case?"). It names the customer in
passing and says little of the matter itself, so dedupe joins it to the customer's
latest case, even when it names the customer only by surname or first name, or only in
its text: a chaser's **mentions** are the capitalised words, phone numbers and e-mail
addresses in its text, as index keys ("name:fries", "phone:612345678").

The **terms** are the content words and numbers of the report (amounts, places,
products), folded and cut to a stem, without function words, the words every report has
("klant", "neighbour", "please call") and the customer's own name: two reports about one
customer that share several of them are about the same thing, even when the classifier
put them in different kinds. At most ``MAX_TERMS`` are kept, so what dedupe remembers of
a report stays small. Among them, the **details** (amounts and other figures of three or
more digits, not years, not phone numbers) say the most: two reports that name one are
about one thing in any words or language, and two that each name their own sum of money
(marked "€8651" among the terms) are not.

The **contacts** are the phone numbers and e-mail addresses written in the text: dedupe
knows the customer by them when the customer's fields are empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from services.processor.domain.identity import normalize_email, normalize_phone, spoken_digits
from services.processor.domain.names import fold, skeleton

MAX_TERMS = 24
STEM = 6  # letters kept of a word: "aflossen", "aflossing" -> "afloss"
MIN_WORD = 4
MAX_TEXT = 4000  # the start of a long text says what it is about
MAX_NAME = 200
MAX_MENTIONS = 6

# Follow-up on an earlier report, in Dutch and English. Fixed words with bounded gaps:
# one pass over the text. Every phrase starts with a letter: the lookahead lets the engine
# skip the ends of words without trying each phrase there (a third less time).
_CHASER = re.compile(
    r"""\b(?=\w)(?:
      any\s+(?:news|update|updates|progress|word|feedback)\b
    | (?:has|have|did)\s+(?:anyone|anybody|someone|somebody|you|they|we)\s+(?:already\s+)?
        (?:call|called|phone|phoned|ring|rung|rang|contact|contacted|reach|reached|get|got
        |gotten|hear|heard|spoken|spoke|look|looked)\b
    | (?:call|called|ring|rang|get|got|gotten|heard)\s+(?:\w+\s+)?back\s+(?:yet|already)\b
    | (?:still\s+)?(?:no|not|nothing)\s+(?:\w+\s+)?(?:heard|callback|call\s+back|news)
        \s+(?:yet|so\s+far|back)\b
    | still\s+(?:not|nothing)\s+heard\b
    | follow(?:ing)?[\s-]?up\s+(?:on|about|to|re|regarding|from|van|over|op)\b
    | (?:chasing|chaser)\b
    | (?:as|i|we)\s+(?:already\s+)?reported\s+(?:earlier|before|last|yesterday|this)\b
    | (?:reported|sent|submitted|logged)\s+(?:(?:this|it|him|her)\s+)?
        (?:earlier|before|already|last\s+week|yesterday)\b
    | (?:what(?:'s|\s+is)\s+the\s+status|status\s+(?:of|on|update)|where\s+are\s+we\s+with)\b
    | al\s+(?:iemand|iets|wat|nieuws|een\s+reactie|reactie|antwoord|contact|terugkoppeling)\b
    | al\s+(?:\w+\s+)?(?:gebeld|teruggebeld|gehoord|benaderd|opgepakt|bekend|geholpen|meer)\b
    | (?:niets|niks|geen)\s+(?:\w+\s+)?(?:gehoord|terugkoppeling|nieuws)\b
    | nog\s+steeds\s+(?:niet\s+)?(?:gebeld|teruggebeld|gehoord)\b
    | (?:nieuws|update)\s+over\b
    | stand\s+van\s+zaken\b
    | hoe\s+staat\s+het\s+(?:met|ervoor)\b
    | (?:eerder|vorige\s+week|gisteren|laatst|al)\s+(?:\w+\s+)?
        (?:gemeld|doorgegeven|ingediend|gestuurd)\b
    | zoals\s+(?:eerder\s+|al\s+)?(?:gemeld|doorgegeven|gezegd)\b
    | (?:nogmaals|navraag|opvolging)\b
    | still\s+waiting\s+(?:to\s+hear|for\s+(?:a\s+|an\s+|the\s+|any\s+)?(?:call|callback|answer
        |reply|response|news))\b
    | nog\s+(?:even\s+over|nieuws|news)\b
    | (?:has|have|hasn't|haven't|hasnt|havent)\s+(?:he|she|they|it|this|that|the\s+customer)
        \s+(?:still\s+)?(?:already\s+)?(?:been\s+)?(?:contacted|called|rung|phoned|reached
        |picked\s+up|handled|heard)\b
    | (?:any|some)\s+luck\s+(?:reaching|contacting|getting\s+hold|with)\b
    | still\s+waiting\s+on\s+(?:a\s+|an\s+|the\s+)?(?:call|callback|answer|reply|response|news)\b
    | (?:did|has|have)\s+(?:anyone|anybody|someone|somebody|you|they|we)\s+(?:already\s+)?
        (?:follow(?:ed)?\s+up|pick(?:ed)?\s+(?:this|it)\s+up|reach(?:ed)?\s+out)\b
    | (?:picked|called|contacted|rung|phoned|reached)\s+(?:this\s+|it\s+|him\s+|her\s+|them\s+)?
        (?:up\s+|back\s+)?yet\b
    | (?:no\s+one|nobody)\s+(?:has\s+)?(?:called|contacted|rung|phoned)\s+(?:\w+\s+)?(?:back|yet)\b
    | still\s+(?:hasn't|haven't|hasnt|havent|has\s+not|have\s+not)\s+(?:heard|been\s+called)\b
    | when\s+will\s+(?:someone|anyone|somebody|you|they)\s+(?:call|ring|contact|get\s+back)\b
    | who\s+is\s+(?:handling|dealing\s+with|picking\s+up)\b
    | nog\s+(?:iets|wat)\s+(?:\w+\s+)?(?:gehoord|vernomen)\b
    | (?:wordt|worden|is|zijn)\s+(?:\w+\s+){0,3}?nog\s+(?:terug)?gebeld\b
    | wanneer\s+(?:wordt|worden)\s+(?:\w+\s+){0,3}?(?:terug)?gebeld\b
    | hoe\s+zit\s+het\s+(?:nu\s+)?met\s+(?:de\s+|het\s+|die\s+|dat\s+)?(?:melding|klacht|aanvraag
        |terugbelverzoek|zaak)\b
    | iemand\s+(?:al\s+)?(?:mee|met\s+(?:\w+\s+){0,3}?)bezig\b
    | (?:steeds|altijd)\s+(?:niet|geen)\s+(?:gebeld|teruggebeld|gehoord)\b
    | niemand\s+(?:heeft\s+)?(?:\w+\s+)?(?:(?:nog|al)\s+(?:terug)?gebeld|teruggebeld)\b
    )""",
    re.VERBOSE,
)

_WORD = re.compile(r"[^\W_]+")
# Bounded parts: one pass over the text, whatever it holds.
# An address starts where a word does (the lookbehind): a third fewer tries per text.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,6}")
_PHONE = re.compile(r"[+(]?\d[\d ().\-]{5,24}\d")
# Capitalised words that name nobody.
_NOT_NAMES = frozenset(
    """any can could did does has have hey hi hij hoi how is it kan she he zij ze het de een
    the and en of or mr mrs ms dhr mevr mevrouw meneer heer lady man vrouw dame fyi pls
    please thanks yes nee ja no nog still we wij ik i you jij jullie""".split()
)
_DIGIT_GROUPS = re.compile(r"(?<=\d)[.,](?=\d)")
_A_DIGIT = re.compile(r"\d")
# A sum of money (folded, digit groups joined): a currency sign or word before or after.
_AMOUNT = re.compile(
    r"(?:[€$£]|\beur(?:o|os)?\b)[ \t]?(\d{2,12})\b|\b(\d{2,12})[ \t]?(?:[€$£]|euros?\b|eur\b)"
)
AMOUNT = "€"  # the mark of an amount among the terms
MAX_AMOUNTS = 4
MIN_PHONE_DIGITS = 9  # a run of fewer digits ("1.250.000", "12-03-2026") is no phone number
# Function words and the words of every report in Dutch and English, folded; a word
# shorter than MIN_WORD letters is dropped anyway.
_COMMON = frozenset(
    """
    aangegeven aanvraag aanvragen about after again alle alleen alles alsjeblieft
    alstublieft also altijd alvast anders andere anyone anything around asked asks aunt
    because bedankt been before begin behalf being beste betreft bijna bijvoorbeeld
    bekend bekende bellen belt best better both broer brother buren buurman buurvrouw call
    callback called calling calls came cheers classmate colleague collega come comes contact
    could cousin customer daar daarna daarom dank dankjewel dankuwel days dagen dear deze
    didn does doen doesn doet done door doorgeven doorgegeven down dochter each echter eens
    eerst eerste effe eigen elke email even ever every father from friend friends gaan gaat
    geen gebeld geeft gegeven gegevens gehad geleden gemeld gesproken getting gets going
    goedemiddag goedemorgen goedenavond graag groet groeten hallo have having haar heeft
    hebben heel hele hello hem here hier hierover hours issue iemand iets info into jaar
    just kennis kind klacht klant klanten klantnummer komen komt kon krijgen krijgt kunnen
    kunt laat laten later lead like look made make many maand maar mail meer melden
    melding mijn misschien moeder moet moeten mogelijk month more morgen morning most
    mother much must naam name naar neef need needs neighbor neighbour nephew never next
    nicht niece niet niets nodig nogmaals nooit note number nummer omdat onder ons onze ook
    oppakken over please probleem problem question quick really regarding regards reply
    said same samen says schoonmoeder schoonvader schoonzus seems send sent should since
    sister some someone something soms staat steeds still such take tante team tegen
    telefoon phone tell terug terugbellen than thank thanks that their them then there
    these they thing think this those through thx tijd today toch told tomorrow toen
    tussen uncle under vaak vader vandaag veel very voor vraag vraagje vraagt vriend
    vriendin vrouw waar waren want wanted wants week weer well went were werd what when
    where which while will willen wife with without wordt worden would yesterday your
    yours zeer zich zien zijn zoon zonder zou zouden zwager adres address details
    mevrouw meneer heer back news niks gehoord teruggebeld waiting wachten wacht heard
    answer reply response antwoord reactie bericht update status anybody somebody
    former mine acquaintance schoolvriendje schoolvriend hardloopclub voetbalteam
    voetbalclub running football club woman guy girl son daughter another looking asking
    know knows keeps hasn isn doesn already since sinds time times keer twee vanochtend
    vanmiddag gisteren euro euros
    """.split()
)


@dataclass(frozen=True)
class Matter:
    chaser: bool = False
    terms: frozenset[str] = frozenset()
    mentions: tuple[str, ...] = ()  # a chaser's only (see the module's doc)
    # Every report's: the phones and e-mail addresses written in its text, as index keys.
    contacts: tuple[str, ...] = ()


def is_chaser(text: str) -> bool:
    return _chases(fold(text[:MAX_TEXT]))


def _chases(folded: str) -> bool:
    return _CHASER.search(folded) is not None


def terms_of(text: str, leave_out: frozenset[str] = frozenset()) -> frozenset[str]:
    """The report's content words and numbers, stemmed; ``leave_out``: folded words not
    to count (the customer's name)."""
    return _terms(fold(text[:MAX_TEXT]), leave_out)


def _terms(text: str, leave_out: frozenset[str]) -> frozenset[str]:
    """``terms_of`` the folded start of a text."""
    terms: dict[str, None] = {}
    # A phone number in the text names the customer, not the matter; "3.900" and "3900"
    # are one amount.
    if _A_DIGIT.search(text):
        text = _DIGIT_GROUPS.sub("", _PHONE.sub(_unless_phone, text))
        # Sums of money also as "€8651": two reports that each name their own are two
        # matters (dedupe.same_matter); other figures (times, dates, references) are not.
        for match in _AMOUNT.finditer(text):
            terms[AMOUNT + (match.group(1) or match.group(2))] = None
            if len(terms) >= MAX_AMOUNTS:
                break
    for word in _WORD.findall(text):
        if word.isdigit():
            if len(word) >= 2:
                terms[word] = None
        elif len(word) >= MIN_WORD and word not in _COMMON and word not in leave_out:
            terms[word[:STEM]] = None
        if len(terms) >= MAX_TERMS:
            break
    return frozenset(terms)


def _unless_phone(run: re.Match[str]) -> str:
    digits = sum(c.isdigit() for c in run.group())
    return " " if digits >= MIN_PHONE_DIGITS else run.group()


def name_words(name: str | None) -> frozenset[str]:
    """The folded words of a customer's name, to leave out of the terms."""
    return frozenset(_WORD.findall(fold(name[:MAX_NAME]))) if name else frozenset()


def contacts_of(text: str, spoken: bool = False) -> tuple[str, ...]:
    """The e-mail addresses and phone numbers written in ``text``, as index keys
    ("email:...", "phone:..."); ``spoken``: digits spelled out in words count too."""
    text = text[:MAX_TEXT]
    found: dict[str, None] = {}
    # Most reports hold neither: the cheap checks skip the scans (this runs for each).
    for address in _EMAIL.findall(text) if "@" in text else ():
        if email := normalize_email(address):
            found[f"email:{email}"] = None
    digits = spoken_digits(text) if spoken else text
    for run in _PHONE.findall(digits) if _A_DIGIT.search(digits) else ():
        if phone := normalize_phone(run):
            found[f"phone:{phone}"] = None
    return tuple(found)[:MAX_MENTIONS]


def mentions_of(text: str) -> tuple[str, ...]:
    """The phones, e-mail addresses and capitalised words of ``text``, as index keys."""
    text = text[:MAX_TEXT]
    found = dict.fromkeys(contacts_of(text, spoken=True))
    for word in _WORD.findall(_EMAIL.sub(" ", text)):
        folded = fold(word)
        if (
            word[0].isupper()
            and not (word.isupper() and len(word) <= 4)  # KPN, ING: no one's name
            and len(folded) >= 3
            and folded.isalpha()
            and folded not in _NOT_NAMES
            and folded not in _COMMON
        ):
            found[f"name:{skeleton(folded)}"] = None
    return tuple(found)[:MAX_MENTIONS]


def matter_of(text: str, leave_out: frozenset[str] = frozenset(), raw: str | None = None) -> Matter:
    """The matter of a report: ``text`` as the classifier reads it (no quotes, signature
    or contact details), ``raw`` (default ``text``) for what a chaser mentions and the
    contact details written in it."""
    raw = raw if raw is not None else text
    folded = fold(text[:MAX_TEXT])  # what the chaser and the terms are read from
    chaser = _chases(folded)
    return Matter(
        chaser=chaser,
        terms=_terms(folded, leave_out),
        mentions=mentions_of(raw) if chaser else (),
        contacts=contacts_of(raw),
    )


MIN_DETAIL_DIGITS = 3  # "85" may be an age or a house number; "86,51" or "3.900" is an amount
_YEAR = re.compile(r"(?:19|20)\d\d")


def details(terms: Iterable[str], phones: Iterable[str] = ()) -> frozenset[str]:
    """The terms that name one matter whatever the words or the language around them:
    figures of at least MIN_DETAIL_DIGITS digits (an amount "€86,51" -> "8651", a
    contract or invoice number), but not a year, nor part of a customer's phone number
    (a number written in the text is no matter of its own)."""
    numbers = [phone for phone in phones if phone]
    return frozenset(
        term
        for term in terms
        if term.isdigit()
        and len(term) >= MIN_DETAIL_DIGITS
        and not _YEAR.fullmatch(term)
        and not any(term in phone for phone in numbers)
    )


def amounts(terms: Iterable[str]) -> frozenset[str]:
    """The sums of money among the terms (see terms_of)."""
    return frozenset(term for term in terms if term.startswith(AMOUNT))


def term_overlap(a: frozenset[str] | set[str], b: Iterable[str]) -> float:
    """Shared terms over the terms of the shorter report: 1 when one says nothing the
    other does not; 0 when either has no terms."""
    other = b if isinstance(b, (set, frozenset)) else frozenset(b)
    smaller = min(len(a), len(other))
    return len(a.intersection(other)) / smaller if smaller else 0.0
