"""The decisive rules, Dutch and English. Pure functions, no I/O.

A few kinds of message are clear whatever their wording: an auto-reply, a newsletter or
bulk mail, spam or phishing, and a test message or one sent by mistake. Each rule is a
regular expression with a human-readable reason; when one fires, the signal is "other"
with high confidence whatever the model says. Everything else is judged by the trained
model (``model.py``) from learned weights, on features that include the cues of
``cues.py``.

Bulk-mail rules are decisive only for e-mail (or an unknown channel): an auto-reply does
not arrive through the chat or the form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas import Kind

OTHER = Kind.other
# The weight a decisive rule is shown with (log-odds); it settles the kind by itself.
VERY_STRONG = 2.5


_INSIDE_A_WORD = "\\w*"


def _rx(*alternatives: str) -> re.Pattern[str]:
    """One pattern from alternatives that each start at a word boundary, except those
    written with a leading ``\\w*``: they may start inside a word, as the second half of a
    Dutch compound ("internetstoring", "stormschade").

    Patterns are lower-case and searched in lower-cased text: without IGNORECASE the regex
    engine can skip an alternative on its first letter, which halves the time the rules
    take."""
    lower_case(alternatives)
    at_start = [a for a in alternatives if not a.startswith(_INSIDE_A_WORD)]
    inside = [a[len(_INSIDE_A_WORD) :] for a in alternatives if a.startswith(_INSIDE_A_WORD)]
    parts = [r"(?<![\w])(?:" + "|".join(at_start) + ")"] if at_start else []
    # Searching for the tail itself is much cheaper than trying \w* at every word start.
    parts += ["(?:" + "|".join(inside) + ")"] if inside else []
    return re.compile("|".join(parts))


def lower_case(alternatives: tuple[str, ...]) -> tuple[str, ...]:
    """``alternatives``, which must be lower-case (see ``_rx``)."""
    for alternative in alternatives:
        if re.search(r"[A-Z]", re.sub(r"\\[A-Za-z]", "", alternative)):
            raise ValueError(f"upper case in a lower-case pattern: {alternative!r}")
    return alternatives


@dataclass(frozen=True)
class KindRule:
    reason: str
    kind: Kind
    weight: float
    pattern: re.Pattern[str]
    decisive: bool = False  # a clear case: the kind is settled whatever the model says


@dataclass(frozen=True)
class Fired:
    """A kind rule that matched, with the weight it adds."""

    rule: KindRule
    weight: float
    matched: str

    @property
    def reason(self) -> str:
        return f"rule: {self.rule.reason} -> {self.rule.kind.value}"


_SPACES = re.compile(r"[ \t]+")


def normalise(text: str) -> str:
    """Straight quotes and single spaces, so that patterns need not care."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u00a0", " ")
    # Only a tab or two spaces in a row change: most texts have neither, and a sub that
    # puts back every single space costs a third of the rules' time (issue #9, speed).
    return _SPACES.sub(" ", text) if "\t" in text or "  " in text else text


# --- other: mail that is not a report at all (decisive) -----------------------------------

AUTO_REPLY = KindRule(
    "auto-reply or out-of-office",
    OTHER,
    VERY_STRONG,
    _rx(
        r"automatic reply",
        r"auto-?reply",
        r"automatisch antwoord",
        r"automatische (?:afwezigheids)?melding",
        r"afwezigheidsmelding",
        r"out of (?:the )?office",
        r"i'?m (?:currently )?(?:on (?:annual|parental|maternity|paternity) leave|away)",
        r"i am (?:currently )?(?:on (?:annual|parental|maternity|paternity) leave|away)",
        r"on (?:annual|parental|maternity|paternity) leave until",
        r"i will (?:return|be back) on",
        r"(?:with )?(?:no|limited) access to (?:my )?e-?mail",
        r"this mailbox is (?:no longer|not) monitored",
        r"this is an automated (?:message|reply)",
        r"your message will not be forwarded",
        r"ik ben (?:momenteel |tot en met \S+ )?(?:afwezig|niet bereikbaar|met (?:ouderschaps"
        r"|zwangerschaps)?verlof|op cursus|op vakantie)",
        r"ben ik (?:niet bereikbaar|afwezig)",
        r"met (?:ouderschaps|zwangerschaps)verlof tot",
        r"(?:heb )?beperkt toegang tot (?:mijn )?e-?mail",
        r"uw e-?mail wordt niet doorgestuurd",
        r"je bericht wordt (?:de )?eerstvolgende werkdag gelezen",
    ),
    decisive=True,
)
BULK_MAIL = KindRule(
    "newsletter, invitation or bulk mail",
    OTHER,
    VERY_STRONG,
    _rx(
        r"you are receiving this (?:e-?mail|message)",
        r"u ontvangt (?:dit bericht|deze e-?mail) omdat",
        r"unsubscribe ?\|",
        r"manage (?:your )?preferences",
        r"(?:staff )?newsletter\b",
        r"nieuwsbrief\b",
        r"in this (?:issue|edition)\b",
        r"in deze editie\b",
        r"subscribe here",
        r"schrijf (?:u|je) (?:nu )?in\b",
        r"webinar",
        r"\| ?afmelden",
        r"afmelden$",
        r"bekijk (?:hem|deze e-?mail) online",
        r"lees online",
        r"mailing ?list",
        r"mailinglijst",
    ),
    decisive=True,
)
SPAM = KindRule(
    "spam or phishing",
    OTHER,
    VERY_STRONG,
    _rx(
        r"you have won",
        r"selected in our .{0,30}(?:draw|lottery)",
        r"u bent geselecteerd voor",
        r"lottery",
        r"claim (?:your|uw) (?:prize|prijs)",
        r"uw prijs .{0,30}te claimen",
        r"processing fee",
        r"verify your account",
        r"verifieer (?:uw|je) account",
        r"mailbox (?:storage )?is (?:\d+% full|bijna vol)",
        r"guaranteed returns",
        r"crypto trading",
        r"seo[- ](?:experts?|bureau|agency)",
        r"(?:ranking|scoren) .{0,40}google",
        r"attendee list",
        r"verified contacts",
        r"looking for (?:a )?friendship",
        r"add me on whatsapp",
        r"open the attachment",
        r"dear valued (?:customer|professional)",
        r"stuur (?:dit )?door naar iedereen",
        r"betaal .{0,40} via (?:onderstaande|de volgende) link",
    ),
    decisive=True,
)
TEST_OR_MISTAKE = KindRule(
    "test message or sent by mistake",
    OTHER,
    VERY_STRONG,
    _rx(
        r"test ?test",
        r"testmelding",
        r"test message",
        r"(?:please )?ignore (?:this|my last)",
        r"please ignore\b",
        r"^\s*test\b",
        r"graag negeren",
        r"please disregard",
        r"(?:sorry,? )?(?:wrong|verkeerde) (?:chat|group|groep)",
        r"sent (?:it )?to the wrong",
    ),
    decisive=True,
)


KIND_RULES: tuple[KindRule, ...] = (AUTO_REPLY, BULK_MAIL, SPAM, TEST_OR_MISTAKE)


def decisive(text: str, channel: str | None = None) -> list[Fired]:
    """The decisive rules that fire on ``text``, in rule order. Only the test-or-mistake
    rule counts outside e-mail."""
    text = normalise(text).lower()
    fired: list[Fired] = []
    for rule in KIND_RULES:
        if channel not in (None, "email") and rule is not TEST_OR_MISTAKE:
            continue
        match = rule.pattern.search(text)
        if match:
            fired.append(Fired(rule, rule.weight, match.group(0)))
    return fired
