"""Strip quoted replies, signatures and disclaimers from chat and email text. Pure, no I/O.

People write a few new lines on top of an older message, then a closing, a signature,
"Sent from my iPhone" and a legal disclaimer. Only the new lines say something; the rest
is noise for a classifier (and for a human reading a ticket). ``clean_text`` keeps the new
lines and drops the rest, with one exception: when someone *forwards* a message and adds
little or nothing of their own ("FYI", "see below", "can someone pick this up?"), the
forwarded message is what matters, so its body is kept (without its headers, quote marks,
signature and disclaimer).

The rules, in order, for each part of the message:

1. The text is cut at the first header that introduces an older message: "On <date>,
   <name> wrote:", "Op <datum> schreef <naam>:", "-----Original Message-----",
   "-----Oorspronkelijk bericht-----", "Begin forwarded message:", an Outlook block of
   "From:/Van:" followed by "Sent:/Verzonden:/Date:/Datum:", or a run of lines starting
   with ">".
2. The part above it loses its legal disclaimer, its "Sent from my iPhone" line, its
   signature (after a "-- " delimiter, or a last paragraph of name, title and phone
   lines such as "Jan Jansen / Adviseur | Bank / T +31 …") and its closing ("Kind
   regards," or "Met vriendelijke groet," followed by short name, title and phone lines).
3. The older message is kept, cleaned the same way, only when the header says it was
   forwarded, when the new part refers to it ("see below", "can you pass this on?",
   "zie hieronder", "FYI") or when the new part is tiny (fewer than 12 words). Bare
   "> " lines with no header above them are a quoted chat reply: kept only when there is
   no new text at all.

Every step costs time linear in the length of the text, whatever the text: runs of spaces
and tabs are collapsed first, lines longer than ``MAX_LINE_CHARS`` are wrapped, patterns
that meet a run of spaces or of repeated words never try it more than once (possessive
quantifiers, and a lookbehind that lets a match start only where a run starts), and the
trailing noise is found in one backward pass over the lines.
tests/unit/test_text_growth.py proves it for every pattern here, on hostile input.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from re import _parser  # type: ignore[attr-defined]

# Fewer words than this in the new part and it cannot stand on its own: keep what it forwards.
TINY_NEW_TEXT_WORDS = 12
# A line after a closing with more words than this is prose, not a signature line.
MAX_SIGNATURE_LINE_WORDS = 6
# Longer lines are wrapped before anything else looks at them (at a space where there is
# one): no header, closing or signature line is this long, and a single line of pasted
# megabytes must not make every per-line check expensive. Nothing is dropped.
MAX_LINE_CHARS = 5_000

# Runs of horizontal white space (tabs, no-break spaces, several spaces) become one space.
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]{2,}|[^\S\n ]")
# Where _HORIZONTAL_SPACE has something to do: a space or tab followed by another, or
# another kind of space. Most texts have none, and a pattern that starts with a character
# class is scanned for in C, several times quicker (issue #9, speed).
_UNTIDY_SPACE = re.compile(r"[^\S\n](?:(?<! )|[^\S\n])")

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class _AnyCase:
    """A case-insensitive pattern of lower-case source, and the same source without
    IGNORECASE for ASCII text, which is searched lower-cased: there ``lower()`` keeps every
    position and IGNORECASE means exactly that. Without the flag the regex engine skips an
    alternative on its first letter, which halves the time of a long alternation (issue #9,
    speed); other text is searched with the flag, as before."""

    ignoring_case: re.Pattern[str]
    lower: re.Pattern[str]

    @classmethod
    def of_source(cls, source: str, flags: int = 0) -> _AnyCase:
        if re.search(r"[A-Z]", re.sub(r"\\[A-Za-z]|\(\?P[<=]", "", source)):
            raise ValueError("upper case in the source of a case-insensitive pattern")
        return cls(re.compile(source, flags | re.IGNORECASE), re.compile(source, flags))

    def sub(
        self, repl: str | Callable[[str, re.Match[str]], str], text: str, after: int = 0
    ) -> str:
        """``ignoring_case.sub``; a callable ``repl`` gets the matched part of ``text``
        itself (not lower-cased) and the match. ``after``: no match starts before it (in
        ASCII text only matches from there are searched for)."""
        if not text.isascii():
            if isinstance(repl, str):
                return self.ignoring_case.sub(repl, text)
            return self.ignoring_case.sub(lambda m: repl(m.group(0), m), text)
        pieces: list[str] = []
        end = 0
        for match in self.lower.finditer(text.lower(), after):
            start = match.start()
            pieces += (
                text[end:start],
                repl if isinstance(repl, str) else repl(text[start : match.end()], match),
            )
            end = match.end()
        return "".join(pieces) + text[end:] if pieces else text


# --- headers that introduce an older message -------------------------------------------

_REPLY_ATTRIBUTION = re.compile(
    r"^\s*+(?=.*\d)(?:"  # a date, so never an ordinary sentence
    r"on\b.{0,200}\bwrote\s*:"  # Gmail, Apple Mail (en)
    r"|op\b.{0,200}\bschreef\b.{0,200}:"  # Gmail (nl)
    r"|op\b.{0,200}\bheeft\b.{0,200}\bhet volgende geschreven\s*:"  # Apple Mail, Outlook (nl)
    r")\s*$",
    re.IGNORECASE,
)
_SEPARATOR_HEADER = re.compile(
    r"^\s*-{2,}\s*(?:original message|oorspronkelijk bericht|origineel bericht)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_FORWARD_HEADER = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:forwarded message|doorgestuurd bericht)\s*-{2,}"
    r"|begin (?:forwarded message|doorgestuurd bericht)\s*:"
    r")\s*$",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(?:from|van)\s*:\*?\s+\S", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(
    r"^\s*\*?(?:sent|date|verzonden|datum)\s*:\*?\s+\S",
    re.IGNORECASE,
)
_HEADER_FIELD = re.compile(
    r"^\s*\*?(?:from|van|sent|date|datum|verzonden|to|aan|cc|bcc)\s*:\*?\s",
    re.IGNORECASE,
)
_SUBJECT_FIELD = re.compile(r"^\s*\*?(?:subject|onderwerp)\s*:\*?\s*", re.IGNORECASE)
_FORWARDED_SUBJECT = re.compile(r"^\s*(?:fw|fwd|doorst|tr)\s*:", re.IGNORECASE)
_OUTLOOK_RULE = re.compile(r"^\s*_{10,}\s*$")
_QUOTED_LINE = re.compile(r"^\s*+>")
_QUOTE_MARKS = re.compile(r"^\s*+(?:>\s?)+")
_MAYBE_ATTRIBUTION = re.compile(r"^\s*+(?:on|op)\s", re.IGNORECASE)
# Writers who point at the older message need it to be understood.
_REFERS_TO_OLDER = re.compile(
    r"\b(?:see below|below from|flagging below|fyi|forwarding|forwarded"
    r"|pass(?:ing)? (?:this|it) (?:on|along)|get this to|pick (?:this|it) up|look (?:at|into) this"
    r"|escalate this|treat this as|zie (?:hier)?onder|zie onderstaand|onderstaande?|hieronder"
    r"|doorgestuurd|kun (?:je|jij) dit (?:doorzetten|oppakken|doorsturen)|pak (?:dit|het) op"
    r"|ter info(?:rmatie)?)\b",
    re.IGNORECASE,
)

# --- noise at the end of a part -----------------------------------------------------------

_SIGNATURE_DELIMITER = re.compile(r"^\s*-{2,4}\s*$")
_DEVICE_SIGNATURE = re.compile(
    r"^\s*(?:"
    r"sent from (?:my )?\S.{0,40}"
    r"|get outlook for \S.{0,30}"
    r"|(?:verstuurd|verzonden) (?:vanaf|vanuit|met|via) (?:mijn )?\S.{0,40}"
    r")\s*$",
    re.IGNORECASE,
)
_DISCLAIMER_START = re.compile(
    r"^\s*(?:"
    r"disclaimer\b"
    r"|this (?:e-?mail|message|communication)\b.{0,60}"
    r"\b(?:confidential|intended (?:solely|only)|privileged)"
    r"|the (?:information|contents?)\b.{0,60}\b(?:e-?mail|message|communication)\b.{0,40}"
    r"\b(?:confidential|privileged)"
    r"|if you (?:are not|have received)\b.{0,40}\b(?:intended recipient|in error)"
    r"|dit (?:e-?mail)?bericht\b.{0,60}"
    r"\b(?:uitsluitend bestemd|vertrouwelijk|alleen bestemd)"
    r"|de informatie (?:in|verzonden met) dit (?:e-?mail)?bericht\b"
    r"|aan (?:dit|de inhoud van dit) (?:e-?mail)?bericht kunnen geen rechten"
    r"|bent u niet de (?:geadresseerde|bedoelde ontvanger)"
    r")",
    re.IGNORECASE,
)
_CLOSING = (
    r"(?:(?:met )?(?:vriendelijke|hartelijke|beste|warme|zonnige) groet(?:en)?"
    r"|groet(?:en|jes)?|gr\.?|mvg|hoogachtend|bij voorbaat dank|alvast bedankt"
    r"|dank(?:je|jewel| je| u| jullie)?(?: wel)?|bedankt"
    r"|(?:kind|best|warm|warmest|many|kindest)? ?regards|regards"
    r"|(?:many |with )?thanks(?: very much| in advance| again| (?:&|and) regards)?"
    r"|thank you|thx|ta|cheers"
    r"|best(?: wishes)?|all the best|yours (?:sincerely|faithfully|truly)|sincerely)"
)
# A closing on its own line: "Kind regards," / "Met vriendelijke groet,"
_CLOSING_LINE = re.compile(rf"^\s*+{_CLOSING}\s*+[,.!]*+\s*+$", re.IGNORECASE)
# A closing and a name on one line: "Thanks, Mo" / "Gr. Anouk" / "Groetjes, Evelien"
_CLOSING_WITH_NAME = re.compile(
    rf"^\s*+{_CLOSING}(?:\s*+[,.!])?\s++(?-i:[A-Z])[\w.'-]*+(?:\s++(?-i:[A-Z])[\w.'-]*+)?\s*+$",
    re.IGNORECASE,
)
# A signature block without a closing above it has at most this many lines.
MAX_CONTACT_BLOCK_LINES = 5
_SIGNATURE_MARK = re.compile(
    r"\s\|\s|@|https?://|www\.|^\s*(?:t|m|tel|mob|phone|fax)\b\.?:?\s*\+?\d", re.IGNORECASE
)
_CONTACT_DETAIL = re.compile(r"@|https?://|www\.|\+?\d[\d\s().-]{6,}\d|\b(?:tel|mob|t|e|m)\s*[:.]")


@dataclass(frozen=True)
class _Split:
    """A message cut at the first header of an older message."""

    new: list[str]
    older: list[str]
    forwarded: bool
    # Bare "> " lines without an attribution: a quoted chat reply, not a forward.
    bare_quote: bool = False


def clean_text(text: str, *, max_line_chars: int = MAX_LINE_CHARS) -> str:
    """The new, meaningful part of a chat or email text; see the module docstring."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _UNTIDY_SPACE.search(text):
        text = _HORIZONTAL_SPACE.sub(" ", text)
    lines = wrap_long_lines(text, max_line_chars).split("\n")
    return _tidy("\n".join(_clean_lines(lines)))


def wrap_long_lines(text: str, max_chars: int = MAX_LINE_CHARS) -> str:
    """``text`` with every line longer than ``max_chars`` broken into lines of at most
    ``max_chars``, at the last space of each piece when it has one in its second half."""
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    if all(len(line) <= max_chars for line in text.split("\n")):
        return text
    out: list[str] = []
    for line in text.split("\n"):
        while len(line) > max_chars:
            cut = line.rfind(" ", max_chars // 2, max_chars + 1)
            cut = cut if cut > 0 else max_chars
            out.append(line[:cut])
            line = line[cut:].lstrip(" ")
        out.append(line)
    return "\n".join(out)


def _clean_lines(lines: list[str], depth: int = 0) -> list[str]:
    split = _split_at_older_message(lines)
    new = _strip_trailing_noise(split.new)
    if not split.older or depth >= 5:
        return new
    new_text = "\n".join(new)
    if split.bare_quote:
        keep_older = _word_count(new_text) == 0
    else:
        keep_older = (
            split.forwarded
            or _word_count(new_text) < TINY_NEW_TEXT_WORDS
            or _REFERS_TO_OLDER.search(new_text) is not None
        )
    if not keep_older:
        return new
    older = _clean_lines(_body_of_older_message(split.older), depth + 1)
    return [*new, "", *older] if new_text.strip() else older


# --- step 1: find the older message -------------------------------------------------------


def _split_at_older_message(lines: list[str]) -> _Split:
    for i, line in enumerate(lines):
        if _FORWARD_HEADER.match(line):
            return _Split(lines[:i], lines[i + 1 :], forwarded=True)
        if _is_reply_attribution(lines, i):
            return _Split(lines[:i], lines[i:], forwarded=False)
        if _SEPARATOR_HEADER.match(line) or _OUTLOOK_RULE.match(line):
            return _Split(lines[:i], lines[i + 1 :], forwarded=_subject_is_forward(lines[i + 1 :]))
        if _is_outlook_header(lines, i):
            return _Split(lines[:i], lines[i:], forwarded=_subject_is_forward(lines[i:]))
        if _QUOTED_LINE.match(line):
            return _Split(lines[:i], lines[i:], forwarded=False, bare_quote=True)
    return _Split(lines, [], forwarded=False)


def _is_reply_attribution(lines: list[str], i: int) -> bool:
    """'On <date>, <name> wrote:', also when the mail client wrapped it over two lines."""
    line = lines[i]
    if _REPLY_ATTRIBUTION.match(line):
        return True
    if i + 1 < len(lines) and _MAYBE_ATTRIBUTION.match(line):
        return _REPLY_ATTRIBUTION.match(f"{line} {lines[i + 1]}") is not None
    return False


def _is_outlook_header(lines: list[str], i: int) -> bool:
    """'From: …' followed within a few lines by 'Sent: …' (or the Dutch 'Van:'/'Verzonden:')."""
    if not _OUTLOOK_FROM.match(lines[i]):
        return False
    return any(_OUTLOOK_SENT.match(line) for line in lines[i + 1 : i + 4])


def _subject_is_forward(lines: list[str]) -> bool:
    for line in lines[:8]:
        subject = _SUBJECT_FIELD.match(line)
        if subject:
            return _FORWARDED_SUBJECT.match(line[subject.end() :]) is not None
    return False


def _body_of_older_message(lines: list[str]) -> list[str]:
    """The older message without quote marks, attribution line and header fields."""
    unquoted = [_QUOTE_MARKS.sub("", line) for line in lines]
    body: list[str] = []
    in_header = True
    for i, line in enumerate(unquoted):
        if in_header:
            if not line.strip() or _HEADER_FIELD.match(line) or _is_reply_attribution(unquoted, i):
                continue
            if _is_wrapped_attribution_tail(unquoted, i):
                continue
            subject = _SUBJECT_FIELD.match(line)
            if subject:
                body.append(line[subject.end() :])
                continue
            in_header = False
        body.append(line)
    return body


def _is_wrapped_attribution_tail(lines: list[str], i: int) -> bool:
    return (
        i > 0 and _is_reply_attribution(lines, i - 1) and not _REPLY_ATTRIBUTION.match(lines[i - 1])
    )


# --- step 2: drop disclaimers, device lines, signatures and closings ----------------------


def _strip_trailing_noise(lines: list[str]) -> list[str]:
    lines = _drop_disclaimer(lines)
    lines = [line for line in lines if not _DEVICE_SIGNATURE.match(line)]
    lines = _drop_signature_block(lines)
    lines = _drop_contact_block(lines)
    return _drop_closings(lines)


def _drop_disclaimer(lines: list[str]) -> list[str]:
    """Legal disclaimers close a message: cut from the first one to the end."""
    for i, line in enumerate(lines):
        if i > 0 and _DISCLAIMER_START.match(line):
            return lines[:i]
    return lines


def _drop_signature_block(lines: list[str]) -> list[str]:
    """Everything after a '-- ' delimiter line is the signature."""
    first_words = _first_line_with_words(lines)
    for i, line in enumerate(lines):
        if i > first_words and _SIGNATURE_DELIMITER.match(line):
            return lines[:i]
    return lines


def _drop_contact_block(lines: list[str]) -> list[str]:
    """A signature without a closing or delimiter: the last paragraph is a few short lines
    (name, job title, phone) with a typical signature mark ("|", "T +31 …", a URL or an
    address), below prose that does not announce it ("Her number:")."""
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    start = end
    while start and lines[start - 1].strip():
        start -= 1
    block, above = lines[start:end], lines[:start]
    prose = [line for line in above if line.strip()]
    if not (2 <= len(block) <= MAX_CONTACT_BLOCK_LINES) or not prose:
        return lines
    if prose[-1].rstrip().endswith(":") or not all(_is_signature_line(b) for b in block):
        return lines
    if any(_SIGNATURE_MARK.search(b) for b in block) and any(
        _CONTACT_DETAIL.search(b) for b in block
    ):
        return above
    return lines


def _drop_closings(lines: list[str]) -> list[str]:
    """Cut at the last closing ('Kind regards,') that only short signature lines follow,
    then again above it: "Bij voorbaat dank!" above "Met hartelijke groet," (closings
    stack). One pass from the end, so each line is looked at once."""
    first_words = _first_line_with_words(lines)
    end = len(lines)  # lines[end:] are cut off
    only_signature_below = True  # every line in lines[i + 1 : end] is a signature line
    for i in range(len(lines) - 1, first_words, -1):
        line = lines[i]
        if only_signature_below and (_CLOSING_LINE.match(line) or _CLOSING_WITH_NAME.match(line)):
            end, only_signature_below = i, True
            continue
        only_signature_below = only_signature_below and _is_signature_line(line)
        if not only_signature_below:
            break  # prose below any closing higher up: nothing more to cut
    return lines[:end]


def _is_signature_line(line: str) -> bool:
    """A name, a job title, a phone number or an address line, not a sentence of prose."""
    words = _word_count(line)
    if words == 0 or _CONTACT_DETAIL.search(line):
        return True
    return words <= MAX_SIGNATURE_LINE_WORDS and not line.rstrip().endswith(("?", "."))


# --- helpers ------------------------------------------------------------------------------


def _word_count(text: str) -> int:
    return len(_WORD.findall(text))


def _first_line_with_words(lines: list[str]) -> int:
    """The index of the first line with a word in it; len(lines) when there is none."""
    return next((i for i, line in enumerate(lines) if _WORD.search(line)), len(lines))


_BLANK_LINES = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    """Trim trailing spaces and runs of blank lines."""
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


# --- the customer's matter in a relayed report --------------------------------------------
#
# Employees relay what a customer told them through a chat bot, a form or an email, and the
# relay wraps the matter in things that say nothing about it: a tool tag ("[Antenna-widget]",
# "Tip via intranet-app:"), form labels ("Subject:", "Omschrijving:"), a greeting, the
# customer's contact details ("Klant: J. Jansen, 06 1234 5678"), the reporter's framing
# ("not really my department, but ...") and a generic request to handle it ("Who can pick
# this up?", "graag even bellen"). ``report_content`` drops those, so that a classifier
# judges the matter and not the wrapping: a complaint and a lead both end in "can someone
# call her?", and both come with a phone number.

_TOOL_TAG = re.compile(
    r"^[ \t]*+(?:\[[^\]\n]{1,40}\][ \t]*[:-]?"
    r"|(?:tip|forwarded|fwd|doorgestuurd|gestuurd|sent|verstuurd|gemeld|melding|signaal"
    r"|message|bericht)[ \t]+(?:via|by|door|from|vanuit|uit)[ \t]+[^:\n]{1,40}:)[ \t]*",
    re.IGNORECASE | re.MULTILINE,
)
# At the start of a line, or after a "|" or "/" when a form puts its fields on one line;
# they stack ("Onderwerp: Re: Fw: ..."), and the whole stack goes in one match.
_FIELD_LABELS = re.compile(
    r"(?:^|(?<=[|/]))(?:[ \t]*+(?:subject|onderwerp|description|omschrijving|beschrijving"
    r"|toelichting|re|fw|fwd|tr|doorst|klantsignaal|customer signal)[ \t]*+:[ \t]*+)++",
    re.IGNORECASE | re.MULTILINE,
)
# The lookbehind starts a match only where an address can start, which keeps a long run of
# letters without an "@" linear instead of quadratic.
_EMAIL_ADDRESS = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_NUMBER = re.compile(r"(?<![\w€$£.,])\+?\d[\d ()-]{7,}\d(?![\w.,]\d)")
_CONTACT_FIELD = _AnyCase.of_source(
    r"(?:^|(?<=[\s|/;(,.-]))(?:customer details|customer|client|klantgegevens|klant"
    r"|contactgegevens|contact details|contact|name|naam|phone|telephone|telefoon|tel"
    r"|mobile|mobiel|e-?mail|details|gegevens|urgentie|urgency|priority|prioriteit)"
    r"[ \t]*:[ \t]*(?P<value>[^|\n]*)"
)
# A contact field's value is a name, an address or a number, not a sentence: "Klant: Sanne
# Visser" goes, "Klant: wil een offerte" stays.
_MAX_NAME_WORDS = 5
_SENTENCE_WORDS = frozenset(
    (
        "is are was were be been has have had wants want wanted would will can could does did "
        "not no never about with for and but the an this that his her he she they it my "
        "wil wilt wilde heeft hebben had kan kon wordt werd zijn was geen niet nooit over met "
        "voor en maar een dit dat die zijn haar hij ze zij het mijn graag ook nog al"
    ).split()
)
_PARENTHESES = re.compile(r"\((?:[^()\n]|\(\w{0,3}\)){0,100}\)")
_CONTACT_MARK = "\x00"
_GREETING = (
    r"[ \t]*+(?:hi|hiya|hello|hey|hoi|hallo|beste|geachte|dag|dear|good ?(?:morning|afternoon"
    r"|evening|day)|goede(?:morgen|middag|navond)|morning|afternoon|evening)\b"
    r"(?:[ \t]++(?:team|all|allemaal|everyone|iedereen|colleagues?|collega(?:'?s)?|folks|guys"
    r"|champions|heer|mevrouw|heer/mevrouw|heer,|gebruiker|klantenservice|(?-i:[A-Z])[\w-]*)){0,3}"
    r"[ \t]*+(?:[,!:.\u2013-]++|\n|$)"
)
# Greetings at the very start, one after the other ("Hi team, hello Anna,").
_OPENING_GREETINGS = re.compile(rf"\A(?:{_GREETING})*", re.IGNORECASE)
# A line that is nothing but a greeting, below a subject line.
_GREETING_LINE = re.compile(rf"^{_GREETING}[ \t]*+$", re.IGNORECASE | re.MULTILINE)
# "- gaat om T. Willems": who it is about, after a dash. The lookbehind starts a match only
# where a run of spaces starts, so a long run is not tried once per space.
_ABOUT_WHOM = re.compile(
    r"(?<![ \t])[ \t]++[-\u2013][ \t]*+(?:(?:het )?gaat om|it'?s about|regarding|betreft)"
    r"[ \t]++(?:(?-i:[A-Z])[\w.'-]*+(?:[ \t]++[\w.'-]++){0,3})?[ \t]*+$",
    re.IGNORECASE | re.MULTILINE,
)
# The reporter's framing and generic requests to handle the report, up to the end of the
# phrase: they come with complaints and leads alike.
# Every phrase starts a word: the lookarounds let the engine skip the other positions
# without trying each phrase there (a quarter of the time, the same matches).
_RELAY_PHRASES = _AnyCase.of_source(
    r"(?<!\w)(?=\w)(?:"
    # "Not really my department, but passing it on anyway." / "A signal from a customer I know"
    r"(?:it'?s )?(?:probably |maybe |perhaps )?not (?:really )?my (?:department|area)"
    r"[^.?!\n]{0,40}"
    r"|(?:i'?d|i would|i want to|just) (?:like to )?pass(?:ing)? on the following"
    r"|(?:just )?passing (?:it|this) on(?: anyway)?"
    r"|(?:a|one) signal from a customer[^.?!\n]{0,40}"
    r"|(?:misschien )?niet (?:echt )?mijn afdeling[^.?!\n]{0,50}"
    r"|ik (?:wil|zou) (?:graag )?(?:het volgende|dit) (?:even )?(?:doorgeven|melden)"
    r"|ik geef (?:het|dit) (?:toch )?(?:even )?door"
    r"|langs deze weg een signaal[^.?!\n]{0,50}"
    # "Could someone get in touch with her?" / "Who can pick this up?"
    r"|(?:could|can|would|will) (?:someone|somebody|anyone|one of you|you|a colleague)"
    r"(?: from [\w-]+)?(?: please)? (?:get in touch|contact|call|ring|phone|reach out"
    r"|have a look|take a look|look (?:at|into)|pick (?:this|it) up|follow (?:this |it )?up)"
    r"\b[^.?!\n]{0,25}"
    r"|who (?:can|could|will|should) (?:pick|look|take|handle|help|follow)[^.?!\n]{0,25}"
    r"|thanks? (?:you )?in advance[^.?!\n]{0,30}"
    r"|(?:pls|please|plz) (?:call|ring|contact)(?: (?:back|her|him|them))?"
    r"|(?:he|she|they) would (?:appreciate|like) a (?:call|callback|call back)"
    r"|(?:kan|kun|kunnen|zou|zouden|wil|wilt) (?:iemand|jullie|je|u)(?: van [\w-]+)?"
    r"(?: (?:hier|dit|er|het))?(?: (?:even|eens|naar))?"
    r" (?:contact (?:met (?:haar|hem|hen|ze) )?(?:willen |kunnen )?(?:op ?nemen|opnemen)"
    r"|(?:terug)?bellen|kijken|oppakken|opvolgen|naar kijken)\b[^.?!\n]{0,20}"
    r"|wie kan (?:dit|het|hier)\b[^.?!\n]{0,30}"
    r"|(?:alvast|bij voorbaat) (?:bedankt|dank)\w*[^.?!\n]{0,30}"
    r"|graag (?:even |z\.s\.m\. |snel )?(?:bellen|terugbellen|contact)(?: opnemen)?"
    r"|(?:graag iemand die|wil(?:t)? graag dat iemand) contact opneemt"
    r")[ \t]*[?.!]*"
)
# A closing word at the very end, not "wanted to say thanks".
_THANKS = r"(?:thanks|thank you|cheers|thx|ta|bedankt|dank je(?:wel)?|groetjes)"
_TRAILING_THANKS = _AnyCase.of_source(
    r"\b(?<!say )(?<!to )(?<!on )(?<!big )(?<!many )(?<!send )(?<!sends )"
    + _THANKS
    + r"[ \t]*+[!.]*+[ \t]*+(?:[\U0001f300-\U0001faff\u2600-\u27bf][ \t]*+)*+$"
)
LONGEST_THANKS = _parser.parse(_THANKS).getwidth()[1]  # characters, "dank jewel"
_SPACE_BEFORE_PUNCTUATION = re.compile(r"(?<![ \t])[ \t]++(?=[,.;:?!])")
_A_SPACE_BEFORE_PUNCTUATION = re.compile(r"[ \t][,.;:?!]")  # where it has work (as above)
# Separators left at the end of a line ("Storing / ", "Jan, |"): from where the run of
# separators and spaces starts, when it holds a separator and reaches the end of the line.
_TRAILING_SEPARATORS = re.compile(r"(?<![ \t|/;,-])(?=[ \t]*+[|/;,-])[ \t|/;,-]++$", re.MULTILINE)
_A_TRAILING_SEPARATOR = re.compile(r"[|/;,-][ \t]*+$", re.MULTILINE)  # where it has work
_SPACES = re.compile(r"[ \t]{2,}")


def report_content(text: str) -> str:
    """The customer's matter in a (cleaned) report, without the relay's wrapping; see above.

    Falls back to ``text`` itself when nothing would be left."""
    content = _TOOL_TAG.sub("", text)
    # A pattern that needs a character the text does not have is not searched for: a
    # report is read by every signal's classification (issue #9, speed).
    if ":" in content:
        content = _FIELD_LABELS.sub(_drop_field_labels, content)
        content = _CONTACT_FIELD.sub(_drop_contact_field, content)
    if "@" in content:
        content = _EMAIL_ADDRESS.sub(_CONTACT_MARK, content)
    content = _PHONE_NUMBER.sub(_CONTACT_MARK, content)
    content = _PARENTHESES.sub(_drop_contact_parentheses, content)
    content = _without_about_whom(content.replace(_CONTACT_MARK, " "))
    content = content.strip()
    opening = _OPENING_GREETINGS.match(content)  # always matches, maybe nothing
    content = content[opening.end() :] if opening else content
    content = _GREETING_LINE.sub("", content)
    content = _RELAY_PHRASES.sub(" ", content)
    content = _without_trailing_thanks(content.strip())
    content = _without_about_whom(content)
    if _A_SPACE_BEFORE_PUNCTUATION.search(content):
        content = _SPACE_BEFORE_PUNCTUATION.sub("", content)
    if _A_TRAILING_SEPARATOR.search(content):
        content = _TRAILING_SEPARATORS.sub("", content)
    content = _SPACES.sub(" ", content)
    content = _tidy(content)
    return content if _WORD.search(content) else text


def _without_trailing_thanks(text: str) -> str:
    """``text`` without the thanks at its very end (``_TRAILING_THANKS``). In ASCII text
    (no emoji) only the last word can start them: the search starts just before it."""
    last_word_ends = len(text.rstrip(" \t!.\n"))
    return _TRAILING_THANKS.sub("", text, max(0, last_word_ends - LONGEST_THANKS))


def _without_about_whom(text: str) -> str:
    """``text`` without "- gaat om T. Willems" (``_ABOUT_WHOM`` needs a dash)."""
    return _ABOUT_WHOM.sub("", text) if "-" in text or "\u2013" in text else text


def _drop_field_labels(match: re.Match[str]) -> str:
    """Nothing at the start of a line; one space after a "|" or "/" when a space followed."""
    start = match.start()
    inline = start > 0 and match.string[start - 1] in "|/"
    return " " if inline and match.group(0)[0] in " \t" else ""


def _drop_contact_field(field: str, match: re.Match[str]) -> str:
    """ " " for a contact field whose value is no sentence, else ``field`` itself."""
    value = field[match.start("value") - match.start() :]
    if _EMAIL_ADDRESS.search(value) or _PHONE_NUMBER.search(value):
        return " "
    words = [word.lower() for word in _WORD.findall(value)]
    is_a_name = len(words) <= _MAX_NAME_WORDS and not _SENTENCE_WORDS.intersection(words)
    return " " if is_a_name else field


def _drop_contact_parentheses(match: re.Match[str]) -> str:
    inside = match.group(0)
    return " " if _CONTACT_MARK in inside else inside
