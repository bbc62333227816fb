"""Transparent cue rules, Dutch and English. Pure functions, no I/O.

Each rule is a regular expression with a human-readable reason. Kind rules add evidence
(log-odds) for complaint, opportunity or other on top of the trained model; a few are
*decisive*: an auto-reply, a newsletter, spam or a test message is "other" whatever the
model thinks. Category rules name the product a signal is about, urgency rules spot what
cannot wait (a blocked card abroad, no heating, the press, the ombudsman) and what can
(a vague "maybe next year").

The rules express domain knowledge, not training sentences: employees report what
*customers* told them, so an employee's own laptop or VPN trouble is not a complaint; a
customer who is angry at *another* provider and wants to come to us is a lead, not a
complaint; praise, ideas and "no action needed" notes are neither. Something that does
not work (no connection since eight, "when will this be fixed?", a payment raised with no
reason, storm damage, a leak, "storing", "werkt niet") is a complaint, also when the
customer asks how to report it; a lead needs buying intent (a quote, switching to us, an
upgrade, a sales meeting), and a request for a callback is none: complaints ask for one as
often. Asking to arrange something (a payment plan, an estate, a visit in person) is
neither.

Cues are written to survive other authors: stems rather than whole words ("misluk",
"fail"), Dutch compounds ("\\w*storing" matches "internetstoring"), and no sentence of
any labelled set. Typos are undone before the rules run (see ``model.Speller``; the
words the rules spell out, ``lexicon()``, are part of its vocabulary).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from schemas import Category, Kind, Urgency

C, OPP, OTHER = Kind.complaint, Kind.opportunity, Kind.other

# Evidence weights, in log-odds added to the model's log-probabilities.
WEAK, MEDIUM, STRONG, VERY_STRONG = 0.6, 1.0, 1.6, 2.5
# No kind gets more than this from the rules, however many cues fire in a long email.
MAX_EVIDENCE = 3.0


_INSIDE_A_WORD = "\\w*"


def _rx(*alternatives: str) -> re.Pattern[str]:
    """One pattern from alternatives that each start at a word boundary, except those
    written with a leading ``\\w*``: they may start inside a word, as the second half of a
    Dutch compound ("internetstoring", "stormschade").

    Patterns are lower-case and searched in lower-cased text: without IGNORECASE the regex
    engine can skip an alternative on its first letter, which halves the time the rules
    take."""
    for alternative in alternatives:
        if re.search(r"[A-Z]", re.sub(r"\\[A-Za-z]", "", alternative)):
            raise ValueError(f"upper case in a lower-case pattern: {alternative!r}")
    at_start = [a for a in alternatives if not a.startswith(_INSIDE_A_WORD)]
    inside = [a[len(_INSIDE_A_WORD) :] for a in alternatives if a.startswith(_INSIDE_A_WORD)]
    parts = [r"(?<![\w])(?:" + "|".join(at_start) + ")"] if at_start else []
    # Searching for the tail itself is much cheaper than trying \w* at every word start.
    parts += ["(?:" + "|".join(inside) + ")"] if inside else []
    return re.compile("|".join(parts))


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
    return _SPACES.sub(" ", text)


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
        r"with limited connectivity",
        r"this mailbox is (?:no longer|not) monitored",
        r"this is an automated (?:message|reply)",
        r"your message will not be forwarded",
        r"ik ben (?:momenteel |tot en met \S+ )?(?:afwezig|niet bereikbaar|met (?:ouderschaps"
        r"|zwangerschaps)?verlof|op cursus|op vakantie)",
        r"ben ik (?:niet bereikbaar|afwezig)",
        r"met (?:ouderschaps|zwangerschaps)verlof tot",
        r"(?:heb )?beperkt toegang tot (?:mijn )?e-?mail",
        r"lees mijn e-?mail beperkt",
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
        r"click here to unsubscribe",
        r"to unsubscribe",
        r"unsubscribe ?\|",
        r"manage (?:your )?preferences",
        r"(?:staff )?newsletter\b",
        r"nieuwsbrief\b",
        r"in this (?:issue|edition)\b",
        r"in deze editie\b",
        r"subscribe here",
        r"register now",
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
        r"test ?123",
        r"testbericht",
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

# --- other: the employee's own matters, praise, ideas (strong, not decisive) ---------------

_OWN = r"(?:my|mijn|mn|m'n)"
_DEVICE = (
    r"(?:work |werk)?(?:laptop|pc|computer|desktop|monitor|(?:second |tweede )?(?:screen|scherm)"
    r"|headset|keyboard|toetsenbord|mouse|muis|docking ?station|badge|pasje|vpn|token"
    r"|outlook|teams|excel|work ?phone|werktelefoon|printer|mailbox|inbox)"
)
OWN_IT_PROBLEM = KindRule(
    "the employee's own IT or workplace problem",
    OTHER,
    VERY_STRONG,
    _rx(
        rf"{_OWN} {_DEVICE}\b",
        r"vpn\b",
        r"(?<!via )(?<!via het )(?<!via de )(?<!through the )(?<!on the )intranet(?![- ]?app)",
        r"sharepoint",
        r"bitlocker",
        r"authenticator",
        r"(?:it|ict) ?(?:service ?desk|helpdesk|support)",
        r"hi it\b",
        r"servicedesk",
        r"(?:the |het )?crm\b.{0,40}"
        r"(?:slow|crawling|down|crash|freez|traag|hangt|won'?t|error|outage|fout|open|niet)",
        r"docking ?station",
        r"dockingstation",
        r"flexplek",
        r"antenna[- ](?:app|form|formulier)",
        r"not a customer",
        r"internal issue",
        r"can facilities",
        r"someone from facilities",
        r"blue screen",
        r"windows[- ]update",
        r"(?:outlook|excel|teams|word|printer)(?: van mij)?\b.{0,30}(?:keeps|crash|freez"
        r"|not respond"
        r"|doet het niet|blijft hangen|won'?t|werkt niet)",
        r"(?:the |de )?(?:colou?r )?printer\b",
        r"(?:anyone|iemand) (?:else|know a fix|dezelfde ervaring)",
    ),
)
NO_ACTION = KindRule(
    "says no action is needed",
    OTHER,
    VERY_STRONG,
    _rx(
        r"no action (?:needed|required)",
        r"nothing to (?:action|do)\b",
        r"no follow[- ]?up",
        r"no issue\b",
        r"no problems?,",
        r"doesn'?t need anything",
        r"not a complaint",
        r"geen klacht",
        r"niet als klacht bedoeld",
        r"geen actie nodig",
        r"verder niks",
        r"nothing else\b",
        r"just (?:an idea|an opinion|wanted to share|passing on the love)",
        r"gewoon (?:een idee|leuk|even leuk)",
        r"it'?s been sorted",
        r"never mind",
        r"duplicate of",
        r"(?:al )?(?:is )?opgepakt\?",
        r"geen bevestiging gekregen",
    ),
)
PRAISE = KindRule(
    "praise or thanks",
    OTHER,
    STRONG,
    _rx(
        r"compliment",
        r"thank(?:s| you) (?:to|for)\b",
        r"(?:pass on|passing on|say) (?:a big )?thank",
        r"wanted (?:me )?to (?:say|pass on) thank",
        r"thank her",
        r"(?:to be|be|worden|te worden) (?:thanked|bedankt)",
        r"(?:helped|geholpen|served|handled)(?: \w+)? (?:brilliant|wonderful|fantastic|excellent"
        r"|superb|perfect|geweldig|fantastisch|uitstekend|super|top)\w*",
        r"(?:brilliant|wonderful|fantastic|excellent|superb|uitstekend|fantastisch|perfect)"
        r"(?:ly)? (?:geholpen|helped)",
        r"lovely feedback",
        r"outstanding service",
        r"(?:really|so|very|super) (?:happy|pleased|helpful|kind)",
        r"absolute gem",
        r"legend\b",
        r"shout ?out",
        r"(?<!not )(?<!n't )impressed",
        r"onder de indruk",
        r"no regrets",
        r"10/10",
        r"loved the service",
        r"(?:super|heel|echt|helemaal|apetrots|zo) (?:blij|tevreden|vriendelijk)",
        r"goed geholpen",
        r"supergoed",
        r"geweldig",
        r"topwerk",
        r"positieve noot",
        r"dank (?:jullie|je) voor",
        r"echt leuk",
        r"leuk om te (?:horen|melden)",
        r"netjes werkte",
        r"(?:so )?much (?:clearer|better|easier)",
        r"veel (?:duidelijker|beter|makkelijker)",
    ),
)
IDEA = KindRule(
    "an idea or suggestion, not a customer's request",
    OTHER,
    VERY_STRONG,
    _rx(
        r"^\s*(?:idea|idee|suggestion|suggestie|random thought)\b",
        r"(?:idea|idee|suggestion|suggestie)(?: for [\w ]{1,20}| voor [\w ]{1,20}"
        r"| van [\w ]{1,30})?:",
        r"just an idea",
        r"what if we",
        r"would be (?:cool|nice|great) if (?:we|the antenna)",
        r"we should (?:sponsor|have|offer|run|do)",
        r"could the antenna",
        r"zou het niet (?:mooi|handig|fijn) zijn",
        r"misschien (?:een actie|iets) voor (?:medewerkers|duurzaamheid|een volgende versie)",
        r"idee voor een volgende versie",
        r"voor de volgende versie",
    ),
)
SERVICE_MATTER = KindRule(
    # A request to arrange something, with nothing wrong and nothing to sell: not a
    # complaint and not a lead. Mentioning a move or an estate is not enough (people who
    # move buy things; estates get stuck); asking to arrange one is.
    "asks to arrange a service matter (payment plan, estate, visit in person, moving a contract)",
    OTHER,
    STRONG,
    _rx(
        r"(?:can|could|kan|kunnen|possible|mogelijk|pay|paid|betalen|betaald)(?: \w+){0,6}"
        r" in (?:\d+ |twee |two |drie |three |a few |een paar )?(?:termijnen|instal(?:l)?ments)",
        r"in (?:\d+ |twee |two |drie |three |a few |een paar )?(?:termijnen|instal(?:l)?ments)"
        r"(?: \w+){0,2} (?:betalen|betaald|pay|paid)",
        r"(?:asks?|asking|vraagt|wants?|wil|would like)(?: \w+){0,3} (?:a |een )?"
        r"(?:payment (?:plan|arrangement)|betalingsregeling)",
        r"(?:payment (?:plan|arrangement)|betalingsregeling) (?:\w+ ){0,2}(?:is )?(?:possible"
        r"|mogelijk|aanvragen|treffen)",
        r"gespreid betalen",
        r"uitstel van betaling",
        r"(?:handling|settling|settle|dealing with|regelt|regelen|afwikkel\w*|afhandel\w*)"
        r"(?: \w+){0,3} (?:estate|nalatenschap)",
        r"nalatenschap (?:\w+ )?(?:afwikkelen|regelen|afhandelen)",
        r"in[- ]person",
        r"(?:afspraak|appointment) (?:\w+ ){0,3}(?:op|at|in|bij) (?:een |het |a |the |an? )?"
        r"(?:kantoor|branch|filiaal)",
        r"persoonlijk langs\w*",
        r"langs ?komen",
        r"face[- ]to[- ]face",
        r"(?:take|taking|bring|bringing) (?:the |his |her |their )?(?:\w+ )?contract"
        r" (?:along|with)",
        r"contract (?:\w+ ){0,2}meenemen",
        r"(?:change|changing) (?:of )?(?:his |her |their )?address",
        r"adres ?wijzig\w*",
        r"(?:extra|vervroegd|boetevrij) (?:\w+ )?aflossen",
        r"(?:pay|paying) off (?:part|extra|early)",
    ),
)
STAFF_MATTERS = KindRule(
    "a staff or organisation matter",
    OTHER,
    STRONG,
    _rx(
        r"(?:are we|we'?re) hiring",
        r"careers page",
        r"vacature",
        r"kerstborrel",
        r"bring your kid",
        r"antenna[- ]sessie",
        r"scriptie",
        r"referral bonus",
        r"antenna categories",
    ),
)

# --- complaint ----------------------------------------------------------------------------

BROKEN = KindRule(
    "something is broken, failing or refused",
    C,
    MEDIUM,
    _rx(
        r"not working",
        r"(?:doesn'?t|does not|won'?t|stopped) work(?:ing)?",
        r"can'?t (?:log ?in|use|pay|access|submit|download|add|read|make|get in|check)",
        r"cannot (?:log ?in|use|pay|access)",
        r"crash(?:es|ed|ing)?",
        r"freez(?:es|ing)",
        r"error",
        r"went wrong",
        r"foutmelding",
        r"\w*storing(?:en)?\b",
        r"werkt (?:niet|nog steeds niet|niet meer)",
        r"doet (?:het|'t)? ?(?:niet|nie)",
        r"kapot\b",
        r"defect",
        r"ligt .{0,20}plat",
        r"(?:valt|vallen) .{0,20}(?:uit|weg)\b",
        r"(?:drops?|dropping|cuts?|cutting) out",
        r"keeps? (?:dropping|tripping|crashing|freezing|cutting|going)",
        r"fail(?:ed|s|ing)?\b",
        r"(?:kan|kon) (?:\w+ ){0,6}niet (?:invoeren|inloggen|betalen|pinnen|bellen|openen"
        r"|downloaden|gebruiken|overboeken)",
        r"(?:no|zero) (?:mobile )?(?:signal|connection|internet|broadband|wifi|power|gas"
        r"|heating|electricity)",
        r"geen (?:bereik|signaal|internet|verbinding|stroom|gas|verwarming|wifi)\b",
        r"without (?:power|electricity|broadband|heating|an alarm)",
        r"zonder (?:stroom|verwarming|internet|pin|sim|mobiel)",
        r"lukt niet",
        r"ingeslikt",
        r"swallowed",
        r"retained (?:his |her |the )?card",
        r"geweigerd",
        r"declined",
        r"(?:got |is |was |been )blocked",
        r"geblokkeerd",
        r"locked out",
        r"op slot",
        r"rejected",
        r"afgewezen",
        r"niet vergoed",
        r"faulty",
        r"broken",
        r"damaged",
        r"beschadigd",
        r"gebarsten",
        r"doorweekt",
        r"soggy",
        r"crushed",
        r"dead since",
    ),
)

OUTAGE = KindRule(
    "an outage, a failure or no service",
    C,
    STRONG,
    _rx(
        r"\w*storing(?:en)?\b",
        r"outages?\b",
        r"disruption",
        r"\w*uitval\b",
        r"uitgevallen",
        r"(?:is|are|was|were|went|goes|gone|been) (?:\w+ )?down\b(?! (?:to|payment))",
        r"(?:tv|internet|power|wi-?fi|signal|network|landline|phone line|electricity|app"
        r"|website|site|line)(?: \w+)? (?:is|are|was|were) (?:out|dead)\b(?! of)",
        r"(?:no|zero|geen|without|zonder)(?: \w+){0,2} (?:conn?ection|verbinding|signal"
        r"|signaal|internet|wi-?fi|stroom|power|electricity|elektriciteit|gas|heating"
        r"|verwarming|bereik|netwerk|network|dial tone|warm water|hot water|tv|beeld)\b",
        r"(?:werkt|werken|doet|doen|functioneert)(?: \w+){0,3} (?:niet|nie)\b",
        r"(?:lukt|lukken)(?: \w+){0,3} niet\b",
        r"(?:not|isn'?t|aren'?t|stopped|doesn'?t|don'?t|won'?t|didn'?t|never) (?:\w+ )?"
        r"work(?:s|ing|ed)?\b",
        r"misluk\w*",
        r"fail(?!liet|lis)\w*",
        r"gaat (?:\w+ ){0,2}(?:mis|fout)\b",
        r"misgegaan",
        r"misgaat",
        r"(?:goes|gone|going) wrong",
        r"(?:hasn'?t|has not|haven'?t|have not|isn'?t|wasn'?t|not) (?:been )?able to",
        r"unable to",
        r"can'?t (?:\w+ )?(?:log|get (?:in|into)|access|block|activate|use|pay|open|reach"
        r"|upload|transfer|withdraw|see|receive)",
        r"(?:kan|kon|kunnen|krijgt?|krijgen|komt|kwam)(?: \w+){0,6} niet (?:\w+ )?"
        r"(?:in|binnen|door|inloggen|betalen|pinnen|bankieren|blokkeren|activeren|openen"
        r"|gebruiken|overmaken|overboeken|bellen|terug\w*)\b",
        r"blijft (?:\w+ )?(?:hangen|haperen|vastlopen|crashen|weigeren|vragen|zeggen"
        r"|mislukken)",
        r"keeps? (?:on )?(?:saying|asking|crashing|failing|showing|giving|getting|dropping"
        r"|freezing|rejecting|declining|closing|logging)",
        r"stalled",
        r"vastgelopen",
        r"loopt (?:steeds )?vast",
    ),
)

WHEN_FIXED = KindRule(
    "asks when it will be fixed",
    C,
    STRONG,
    _rx(
        r"when (?:will|is|does|can|would) (?:this|it|that|the \w+|everything|service|he|she"
        r"|they)(?: \w+){0,3} (?:be )?(?:fixed|resolved|solved|sorted|restored|repaired|back"
        r"|working|up|over|done|arrive)",
        r"how long (?:will|does|is|until|before|must|do|has|should)\b",
        r"wanneer (?:is|wordt|gaat|komt|werkt|doet|zal|kan)(?: \w+){0,4} (?:opgelost"
        r"|verholpen|hersteld|gerepareerd|gemaakt|weer|terug|geleverd)",
        r"hoe lang (?:\w+ ){0,4}(?:nog|duurt|duren|gaat|blijft|moet)",
    ),
)

SINCE = KindRule(
    "has been going on since a given time",
    C,
    MEDIUM,
    _rx(
        r"since (?:about |around |approx\w* |roughly )?(?:\d{1,2}(?:[:.]\d\d)?"
        r"(?: ?(?:am|pm|o'?clock|h))?(?![\d,]|\.\d)|this (?:morning|afternoon|evening|week)"
        r"|yesterday|last (?:night|week|month)|(?:mon|tues|wednes|thurs|fri|satur|sun)day"
        r"|the (?:update|storm|move|weekend|upgrade|migration|latest)|an hour|lunch)",
        r"sinds (?:ongeveer |rond |een uur of |zo'?n )?(?:\d{1,2}(?:[:.]\d\d)?"
        r"(?: ?(?:uur|u))?(?![\d,]|\.\d)|vanochtend|vanmorgen|vanmiddag|vanavond|vannacht"
        r"|gisteren|gisteravond|eergisteren|vorige week|afgelopen \w+|(?:maan|dins|woens"
        r"|donder|vrij|zater|zon)dag|de (?:update|storm|verhuizing|laatste)|een uur"
        r"|een paar (?:uur|dagen)|acht|negen|tien)",
        r"(?:all|the whole) (?:morning|day|afternoon|evening|week|night|weekend)",
        r"(?:al )?de hele (?:ochtend|dag|middag|avond|week|nacht|weekend)",
    ),
)

COMPLAINT_RULES: tuple[KindRule, ...] = (
    KindRule(
        "calls it a complaint",
        C,
        STRONG,
        _rx(
            r"(?<!not a )(?<!geen )(?<!als )(?:formal )?complaint\b",
            r"(?<!not a )(?<!geen )(?<!niet als )klacht(?:en)?\b",
            r"complaints team",
            r"complain(?:s|ed|ing)\b",
        ),
    ),
    KindRule(
        "grumbles or is angry",
        C,
        MEDIUM,
        _rx(
            r"furious",
            r"fuming",
            r"raging",
            r"angry",
            r"annoyed",
            r"frustrat",
            r"fed up",
            r"had enough",
            r"(?:not|wasn'?t) (?:happy|impressed|amused)",
            r"miffed",
            r"wound up",
            r"upset",
            r"embarrass",
            r"distressing",
            r"moan",
            r"gripe",
            r"grumbl",
            r"rant\b",
            r"(?:he|she)'?s over it",
            r"boos\b",
            r"woest",
            r"woedend",
            r"pissig",
            r"geïrriteerd",
            r"irritant",
            r"irriteert",
            r"(?:is|ben) het (?:echt )?(?:zat|beu)",
            r"(?:is|ben) er klaar mee",
            r"in paniek",
            r"overstuur",
            r"teleurgesteld",
            r"beledigd",
            r"klaagt",
            r"klagen",
            r"balen",
            r"wordt er gek van",
        ),
    ),
    KindRule(
        "wants money back, a fix or an apology",
        C,
        STRONG,
        _rx(
            r"refund",
            r"money back",
            r"reimburs",
            r"compensat",
            r"apolog",
            r"wants? (?:it|them|this|\w+(?: \w+){0,2})"
            r" (?:reversed|repaired|replaced|removed|refunded|back|taken off|restored|reopened"
            r"|corrected|honoured"
            r"|cancelled|stopped|investigated|fixed|sorted|put back|backdated|reviewed)",
            r"(?:wants?|would like)[ =](?:a |an |the |his |her )?"
            r"(?:explanation|proper reason|review|second valuation)",
            r"wants? to know why",
            r"terugbetal",
            r"teruggestort",
            r"terug(?:ge)?draai",
            r"geld terug",
            r"(?:schade)?vergoeding",
            r"vergoed(?:en|t)?\b",
            r"excuses",
            r"wil (?:gewoon )?(?:uitleg|duidelijkheid|dat (?:dit|het) wordt teruggedraaid)",
            r"recover(?:ed|y)?\b",
            r"goodwill",
            r"kwijtgescholden",
            r"kwijtschel\w*",
            r"reversed",
            r"terugboek\w*",
            r"teruggeboekt",
            r"storneren",
            r"gestorneerd",
            r"(?:can|could) (?:it|this|that|the \w+) be (?:reversed|refunded|fixed|corrected"
            r"|recovered|sorted|undone|cancelled|blocked|repaired|replaced)",
            r"(?:wil|wilt|willen) (?:\w+ ){0,4}(?:aangepast|gecorrigeerd|hersteld|gerepareerd"
            r"|vervangen|kwijtgescholden|terugbetaald|vergoed)",
            r"(?:file|make|submit|lodge) (?:a |the )?claim",
            r"claim (?:indienen|melden|in te dienen)",
            r"schade (?:\w+ )?(?:melden|claimen|verhalen)",
            r"hoe (?:\w+ ){0,3}(?:claim\w*|meld\w*|indienen)\b(?![^.?!]{0,25}\baan\b)",
            r"how (?:\w+ ){0,3}(?:to )?(?:claim|report)\b",
        ),
    ),
    KindRule(
        "still not resolved or kept waiting",
        C,
        MEDIUM,
        _rx(
            r"still (?:not|no|hasn'?t|haven'?t|waiting|being|getting|nothing|dead)",
            r"nog steeds (?:niet|geen|niets|niks|niemand|op)",
            r"nog altijd (?:niet|geen)",
            r"(?:has|have|had) been waiting",
            r"wacht(?:en)? al",
            r"chas(?:ed|ing)",
            r"(?:\d+|two|three|four|five|six|eight|ten|several) (?:weeks|months) (?:later|now|ago)",
            r"al (?:\d+|twee|drie|vier|vijf|zes) (?:dagen|weken|maanden)",
            r"promised (?:a )?call ?back",
            r"in behandeling",
            r"geen (?:reactie|antwoord|uitsluitsel|bericht)",
            r"no (?:response|reply|update|decision)",
            r"nobody (?:has )?(?:came|come|turned up|showed|called|rang|returns|answered|picked up"
            r"|knocked|told|mentioned|has come|has called)",
            r"no one (?:came|has|called|turned|rebooked)",
            r"niemand (?:gekomen|geweest|komt|belt|teruggebeld|neemt op|te pakken|gekomen)",
            r"nooit (?:aangekomen|teruggebeld|gekomen|ontvangen|gebeld)",
            r"never (?:arrived|came|received|turned up|got|reached)",
            r"no-show",
            r"didn'?t turn up",
            r"queued",
            r"waited",
            r"on hold\b",
            r"onbereikbaar",
            r"unreachable",
            r"(?:line|lijn) (?:was |is |kept |bleef )?(?:busy|bezet|engaged)",
            r"(?:steeds|constantly|always) (?:busy|bezet|in gesprek)",
            r"(?:wasn'?t|was not|weren'?t|isn'?t|niet) (?:very |erg |echt )?(?:helpful|behulpzaam)",
            r"nog (?:steeds |altijd )?niet (?:\w+ )?(?:binnen|ontvangen|aangekomen|gekomen"
            r"|geleverd|langs geweest|bezorgd|opgelost|teruggebeld|gebeld|gereageerd)",
            r"niemand (?:heeft|is) (?:\w+ )?(?:gebeld|gereageerd|contact|iets|gekomen|geweest)",
            r"(?:nobody|no one) (?:has )?(?:rang|got back|contacted|replied|responded)",
            r"never (?:arrives?|shows? up|showed up|turned up)",
            r"(?:niet|never|didn'?t) (?:komen )?(?:opdagen|show(?:ed)? up|turn(?:ed)? up)",
            r"nothing (?:has )?(?:arrived|came|come|happened)",
            r"(?:niks|niets) (?:gekomen|ontvangen|gebeurd|aangekomen)",
            r"(?:er is|is er) (?:niks|niets) (?:gekomen|aangekomen|bezorgd)",
            r"waiting (?:for )?(?:\d+|two|three|four|five|six|several) (?:hours|days|weeks"
            r"|months)",
            r"(?:al|nu|inmiddels) (?:\d+|twee|drie|vier|vijf|zes|een paar) (?:uur|dagen|weken"
            r"|maanden)",
            r"(?:\d+|two|three|four|five|six|several) (?:days|weeks|months) (?:now|already)",
            r"(?:hing|hangt|hangen) .{0,20}in de wacht",
            r"in de rij",
            r"only one (?:counter|till|desk)",
            r"only (?:\w+ )?(?:arrived|came|delivered)",
        ),
    ),
    BROKEN,
    OUTAGE,
    KindRule(
        "damage, theft, loss or fraud",
        C,
        STRONG,
        _rx(
            r"\w*schade(?!vrij|verzeker)\w*",
            r"damage[ds]?\b",
            r"storm\w*",
            r"leak\w*",
            r"lekt\b",
            r"lekkage",
            r"lekken\b",
            r"(?:coming|komt|loopt|lekt|stroomt|drips?|dripping|regent)(?: \w+){0,2}"
            r" (?:in|binnen|through)\b",
            r"flood\w*",
            r"overstroom\w*",
            r"overstroming",
            r"ondergelopen",
            r"wateroverlast",
            r"omgewaaid",
            r"weggewaaid",
            r"blown (?:off|down|over|away)",
            r"stolen",
            r"gestolen",
            r"stole\b",
            r"diefstal",
            r"theft",
            r"burglar\w*",
            r"inbraak",
            r"ingebroken",
            r"break-in",
            r"beroofd",
            r"robbed",
            r"pickpocket\w*",
            r"zakkenroller\w*",
            r"lost (?:his|her|their|my|the|a|part)\b",
            r"kwijt(?:geraakt)?\b",
            r"verloren\b",
            r"fraud\w*",
            r"\w*fraude\w*",
            r"phishing",
            r"opgelicht",
            r"oplicht\w*",
            r"scammed",
            r"scammers?\b",
            r"posing as",
            r"pretending to be",
            r"zich voordeed als",
            r"(?:is|are|was) gone\b",
            r"verdwenen",
            r"onderschept",
            r"intercepted",
            r"kapot\w*",
            r"broken",
            r"broke\b",
            r"gebroken",
            r"gebarsten",
            r"beschadigd",
            r"cracked",
            r"smashed",
            r"shattered",
            r"defect\w*",
        ),
    ),
    WHEN_FIXED,
    SINCE,
    KindRule(
        "an amount that is wrong, unexplained or too high",
        C,
        MEDIUM,
        _rx(
            r"(?:raised|increased|gone up|went up|jumped|doubled|risen|rose|hiked|verhoogd"
            r"|gestegen|omhooggegaan|omhoog gegaan|verdubbeld)\b",
            r"(?:ineens|plotseling|suddenly|opeens)\b",
            r"(?:with no|without|zonder)(?: \w+){0,2} (?:reason|explanation|warning|notice"
            r"|notification|uitleg|reden|aankondiging|waarschuwing|afmelding)",
            r"no (?:clear |good |apparent |valid )?(?:reason|explanation)",
            r"(?:too|way too|much too|veel te|te) (?:high|hoog|much|expensive|duur)\b",
            r"dubbel\w*",
            r"double[- ]?(?:charge|debit|payment|booking|billed|charged)",
            r"duplicate (?:invoice|charge|payment|debit|bill)",
            r"(?:charged|taken|debited|billed|received|paid|afgeschreven|betaald|ontvangen"
            r"|gefactureerd|geïncasseerd|gekregen)\b(?:[^.?!]|[.,]\d){0,40}(?:twice|two times"
            r"|twee keer|2x)",
            r"(?:twice|two times|twee keer|2x)\b[^.?!]{0,20}(?:charged|taken|debited|billed"
            r"|received|paid|afgeschreven|betaald|ontvangen|gefactureerd|geïncasseerd)",
            r"(?:is|was|are|were|seems?|lijkt|staat) (?:\w+ ){0,2}(?:wrong|incorrect"
            r"|niet (?:goed|juist|correct))",
            r"(?<!sorry )(?<!sorry, )(?:wrong|verkeerde?|incorrect\w*|onjuist\w*|onterecht\w*"
            r"|ten onrechte|wrongly|unjustified)\b(?! (?:chat|group|groep|number|nummer|channel))",
            r"(?:snapt|begrijpt|understand|understands)(?: \w+){0,2} (?:niet )?(?:waarom|why)",
            r"(?:snapt|begrijpt) (?:er )?(?:niets|niks|niet)",
            r"(?:doesn'?t|does not|can'?t) understand",
            r"schrik\w*",
            r"bill shock",
            r"ongevraagd\w*",
            r"unsolicited",
            r"without (?:asking|consent|permission)",
        ),
    ),
    KindRule(
        "is worried",
        C,
        WEAK,
        _rx(
            r"worried",
            r"zorgen (?:om|over)",
            r"maakt zich zorgen",
            r"bezorgd",
            r"ongerust",
            r"afraid",
            r"bang (?:dat|voor)",
            r"scared",
            r"anxious",
        ),
    ),
    KindRule(
        "wrong, missing or unexpected charge",
        C,
        MEDIUM,
        _rx(
            r"charged (?:twice|a|us|him|her|for)",
            r"taken twice",
            r"double[- ]charg",
            r"overcharg",
            r"dubbel (?:afgeschreven|berekend|betaald)",
            r"(?:2x|twee keer|twice) (?:afgeschreven|charged|taken|debited)",
            r"staat er .{0,20}(?:twee keer|dubbel)",
            r"(?:fee|charge|penalty|boete|kosten) (?:slapped|added|charged|in rekening)",
            r"in rekening gebracht",
            r"boete",
            r"penalty",
            r"mis-?sold",
            r"conned",
            r"rip[- ]?off",
            r"underhand",
            r"(?:wrong|verkeerde?) (?:bill|invoice|amount|address|house|model|colour|router|name)",
            r"incorrect",
            r"klopt niet",
            r"(?:nobody|no one) (?:told|mentioned|warned)",
            r"(?:nergens|nooit) (?:een brief|op gewezen|verteld|over gehad)",
            r"with(?:out)? (?:zero|any|no) warning",
            r"zonder (?:enige )?(?:aankondiging|waarschuwing)",
            r"still being billed",
            r"debt collection",
            r"incassobureau",
            r"deurwaarder",
            r"aanmaning",
        ),
    ),
    KindRule(
        "treated badly or strongly disapproves",
        C,
        MEDIUM,
        _rx(
            r"rude(?:ly)?",
            r"dismissive",
            r"kortaf",
            r"onbeschoft",
            r"unacceptable",
            r"onacceptabel",
            r"beyond a joke",
            r"how is this acceptable",
            r"absurd",
            r"oneerlijk",
            r"unfair",
            r"ridiculous",
            r"belachelijk",
            r"discriminat",
            r"offensive",
            r"patronising",
            r"in de maling",
            r"scam\b",
            r"slordig",
            r"onleesbaar",
            r"onduidelijk",
            r"impossible",
        ),
    ),
    KindRule(
        "threatens to leave or to go public",
        C,
        STRONG,
        _rx(
            r"(?:move|take|moving|taking) (?:his|her|their|everything|all)\b.{0,25}"
            r"(?:elsewhere|to another)",
            r"clos(?:e|ing) everything with us",
            r"leave the minute",
            r"(?:he|she)'?s gone\b",
            r"(?:wants?|want) out of",
            r"vertrekt",
            r"weggaat",
            r"gaat weg",
            r"weg te halen",
            r"weghalen",
            r"(?:dreigt|overweegt) (?:met )?op te zeggen",
            r"opzegging instuurt",
            r"ontbindt",
            r"ombudsman",
            r"ombudsdienst",
            r"(?:local |the )papers?\b",
            r"the press\b",
            r"newspaper",
            r"write to (?:his|her) mp",
            r"social media",
            r"twitter",
            r"leaving a review",
            r"(?:naar|bij) de krant",
            r"(?:lokale|de) krant (?:al )?(?:benaderd|ingeschakeld|gebeld)",
            r"radar\b",
            r"rtv\b",
        ),
    ),
)

# --- opportunity --------------------------------------------------------------------------

_THEY = r"(?:he|she|they|ie|hij|ze|zij)"
OPPORTUNITY_RULES: tuple[KindRule, ...] = (
    KindRule(
        "asks for a quote, offer or proposal",
        OPP,
        STRONG,
        _rx(
            r"(?:wants?|would like|'d like|asked for|asking for|requests?|needs?|interested in|"
            r"get|a|an)(?: \w+){0,3} (?:quote|proposal|price)\b",
            r"(?<!repair )quote (?:for|from us)",
            r"(?:wil|wilt|graag|vraagt?(?: om)?|interesse in|ook)(?: \w+){0,3} (?:een )?"
            r"(?:offerte|voorstel)\b",
            r"graag offerte",
            r"vraagt om offerte",
            r"what (?:we|we'd|we would|we can) offer",
            r"(?:wil|wilt) (?:graag )?de tarieven",
            r"vraagt tarieven",
            r"wat (?:ons|onze) \w+ kost",
        ),
    ),
    KindRule(
        "is interested in a product",
        OPP,
        STRONG,
        _rx(
            r"(?<!not )(?<!not really )interested in",
            r"(?<!geen )interesse",
            r"geïnteresseerd",
            r"geinteresseerd",
            r"keen to",
            r"staat open voor",
            r"ziet .{0,40} wel zitten",
            r"would consider",
            r"(?:is |was )?considering",
            r"overweegt (?:ons|zonnepanelen|een|te switchen|zijn)",
            r"zou (?:het|hem|die|ie|ze)? ?(?:misschien )?(?:nemen|overwegen)",
            r"might (?:look at|switch|be interested|go|download|buy|want)",
            r"'?(?:at some stage|some day|one day)'?",
            r"misschien (?:wel )?(?:overstappen|interesse|iets voor ons)",
        ),
    ),
    KindRule(
        "wants to switch to us or add a product with us",
        OPP,
        STRONG,
        _rx(
            r"(?:switch|move|moving|bring|port|transfer|put|come|go)(?: \w+){0,5}"
            r" (?:to|over to|with|onto) us\b",
            r"(?:switch|move|moving)(?: \w+){0,3} over\b",
            r"come to us",
            r"go with us",
            r"become a (?:customer|partner)",
            r"(?:overstappen|overstap|over(?:ge)?zetten|onderbrengen|over te (?:stappen|brengen)"
            r"|overbrengen|oversluiten|switchen|over)(?: \w+){0,3} (?:naar|bij) ons",
            r"naar ons (?:over|toe|overzetten|overstappen)",
            r"(?:naar|bij) ons (?:overstappen|onderbrengen|afsluiten|afnemen|nemen|overzetten)",
            r"(?:wil|wilt) .{0,40}(?:naar|bij) ons\b",
            r"klant (?:bij ons )?worden",
            r"stapt (?:ze|hij|ie) over",
            r"wil (?:ie|hij|ze)? ?(?:misschien )?overstappen",
            r"(?:wants|would like|wanting) to switch",
        ),
    ),
    KindRule(
        "wants to buy, sign up, open or upgrade",
        OPP,
        MEDIUM,
        _rx(
            r"sign(?:ing)? up",
            r"open (?:an?|a joint|a business|a savings|one of our|his|her)(?: \w+){0,2} account",
            r"(?:rekening|spaarrekening|betaalrekening"
            r"|en/of-rekening)(?: bij ons)? (?:kan )?openen",
            r"afsluiten",
            r"(?<!n't )(?<!not )(?:wants?|would like|'d like|wanting|is looking|are looking"
            r"|looking) (?:to |for )?(?:buy|order|add|upgrade|open|borrow|refinance"
            r"|remortgage|consolidate|lock in|install|bundle|insure|set up|pay for|reserve"
            r"|purchase|finance|extend|an? (?!(?:new |replacement |nieuwe )?(?:card|pin|pas"
            r"|explanation|apology|refund|answer|reply|response|call|callback|appointment"
            r"|in-person|visit|review|fix|solution))|our |one of our |in on|full fibre"
            r"|information)",
            r"wil (?:graag |wel |best |dus |ook |straks )?(?:een|ons|onze|alle|alles)\b"
            r"(?! (?:compliment|signaal|klacht|melding|nieuwe? (?:pas|pinpas|kaart|card)"
            r"|vervang\w*|reactie|antwoord|uitleg|afspraak op|excuses))",
            r"wil (?:graag )?(?:\w+ ){0,3}(?:afsluiten|afnemen|kopen|bestellen|nemen|openen"
            r"|upgraden|verzekeren|verhogen|meenemen)",
            r"zoekt (?:een|nog|iemand|zakelijke|financiering)",
            r"(?:is |are )?looking for (?:a|an|car|home|business)",
            r"op zoek naar",
            r"upgrad(?:e|en|ing)",
            r"bestellen",
            rf"{_THEY}'?(?:ll| will|'d| would| zou) (?:want|order|take|switch|sign|move|get|go"
            r"|proceed"
            r"|pay|wel|be happy)",
            r"would proceed",
            r"(?:want|like|have) (?:one|it|them) (?:installed|fitted|placed|done) by us",
            r"(?:via|door|bij) ons (?:laten )?(?:plaatsen|installeren|leggen)",
            r"happy to (?:pay|move|be called)",
            r"ready to order",
        ),
    ),
    KindRule(
        "needs financing or is buying a home",
        OPP,
        STRONG,
        _rx(
            r"(?:koopt|kopen|gekocht|buying|bought|buys|purchas\w*) (?:\w+ ){0,3}(?:house|home"
            r"|huis|woning|flat|appartement|apartment|property)",
            r"(?:overbrugging\w*|bridging loan|financiering|financing|mortgage|hypotheek"
            r"|lening|loan)(?: \w+){0,2} (?:nodig|needed)",
            r"needs? (?:a |an |some )?(?:\w+ )?(?:loan|mortgage|financing|bridging|krediet)",
            r"(?:zoekt|looking for|is looking for|op zoek naar|asks about|vraagt naar)"
            r"(?: \w+){0,3} (?:\w*financiering|financing|\w*loan|\w*lening|\w*krediet|mortgage"
            r"|hypotheek)",
            r"how much (?:\w+ ){0,2}(?:can|could) borrow",
            r"hoeveel (?:\w+ ){0,2}(?:kan|kunnen) lenen",
        ),
    ),
    KindRule(
        "asks for advice on a product or a higher limit",
        OPP,
        MEDIUM,
        _rx(
            r"(?:wil|wilt|willen|would like|wants?|asks? for|vraagt (?:om|naar))"
            r" (?:graag |some |more |wat )?(?:\w+ )?(?:advies|advice|adviesgesprek"
            r"|informatie over|information (?:about|on)|info over)",
            r"adviesgesprek",
            r"(?:limiet|limit|kredietlimiet|credit)\w* (?:\w+ ){0,4}(?:omhoog|verhogen|verhoogd"
            r"|raised|increased)",
            r"(?:raise|increase|verhogen|verhoog) (?:\w+ ){0,3}(?:limit|limiet|mortgage|hypotheek"
            r"|loan|lening|credit)",
        ),
    ),
    KindRule(
        "names it a lead",
        OPP,
        VERY_STRONG,
        _rx(
            r"(?:quick|hot|warm|possible|potential|good|nice) lead\b",
            r"(?<!geen )(?<!no )(?<!not a )(?<!or a )lead ?[:_=-]",
            r"quicklead",
            r"leuke lead",
            r"tip:",
        ),
    ),
    KindRule(
        "calls it a lead",
        OPP,
        STRONG,
        _rx(
            r"(?<!no )(?<!not a )(?<!geen )(?<!or a )(?:sales ?)?leads?\b(?! (?:to|time|times"
            r"|paint|pipes?|poisoning|up|generation))",
        ),
    ),
    KindRule(
        "would buy if we can offer it",
        OPP,
        STRONG,
        _rx(
            r"if (?:we|our \w+) (?:can|do|have|offer|could)\b",
            r"if so\b",
            r"if (?:the rate|it'?s|that works|available|yes)",
            r"als (?:wij|we) (?:dat|die|het|zoiets|een goed)? ?(?:\w+ )?"
            r"(?:kunnen|hebben|doen|leveren|bieden|aanbieden)",
            r"als dat (?:zo is|klopt|kan)",
            r"zo ja\b",
            r"dan (?:zou|stapt|neemt|wil) (?:ze|hij|ie|zij)",
            r"doen jullie dat",
            r"do we (?:do|offer|have)",
            r"does our",
            r"can we (?:do|offer|deliver)",
            r"(?:vraagt|asks?|asked|wants to know|wil weten|vroeg|would like to know)(?: \w+){0,2}"
            r" (?:of|if|whether) (?:wij|we|jullie|you|our \w+)(?: \w+){0,3} (?:hebben|have"
            r"|offer|bieden|aanbieden|doen|do|leveren|sell|verkopen|kunnen)",
            r"hebben (?:wij|we) (?:zoiets|ook|dat)",
            r"(?:hebben|doen|bieden) (?:wij|we|jullie) (?:ook|dat|zoiets)",
        ),
    ),
    KindRule(
        "is unhappy with another provider",
        OPP,
        STRONG,
        _rx(
            r"(?:current|old|other|previous|existing) (?:\w+ )?(?:provider|supplier|bank|insurer"
            r"|lender|company|companies|network|adviser|advisor)",
            r"(?<!into )(?<!to )(?:her|his|their) (?:own )?(?:bank|provider|supplier|insurer"
            r"|lender)"
            r"(?! card| account| statement| details| balance| transfer)",
            r"(?:banks|currently|is|zit|loopt(?: nu)?(?: nog)?|bankiert(?: nu)?) (?:elsewhere"
            r"|elders)",
            r"another (?:bank|lender|supplier|provider|network)",
            r"with (?:a|another) competitor",
            r"on a competitor",
            r"bij (?:de|een) concurrent",
            r"andere (?:bank|partij|partijen|aanbieder|leverancier|verzekeraar|provider)",
            r"huidige (?:\w+ )?(?:bank|provider|leverancier|energieleverancier|verzekeraar"
            r"|hypotheekverstrekker|adviseur|partij|psp|incassoprovider)",
            r"(?:verzekeraar|provider|leverancier|bank) (?:is|was) (?:echt )?"
            r"(?:waardeloos|slecht|een drama)",
        ),
    ),
    KindRule(
        # A callback as such is no lead: complaints ask for one as often. Only a meeting
        # with an adviser, a demo or a survey, or a call about a product, counts.
        "asks for a sales call, a meeting or a demo",
        OPP,
        WEAK,
        _rx(
            r"call (?:her|him|them) about (?:a|an|our|the|his|her|their)\b",
            r"(?:appointment|meeting|afspraak|gesprek) (?:\w+ ){0,2}(?:with|met) (?:an? |een )?"
            r"(?:advis[oe]r|adviseur|specialist|sales|hypotheekadviseur)",
            r"(?:would like|wants?|asks? for|wil|wilt) (?:graag )?(?:a |an |een )?"
            r"(?:meeting|adviesgesprek|consultation|oriëntatiegesprek)",
            r"callback request",
            r"demo\b",
            r"site visit",
            r"wants survey",
            r"preferred_contact",
            r"contact_pref",
        ),
    ),
)

OTHER_RULES: tuple[KindRule, ...] = (
    AUTO_REPLY,
    BULK_MAIL,
    SPAM,
    TEST_OR_MISTAKE,
    OWN_IT_PROBLEM,
    NO_ACTION,
    PRAISE,
    IDEA,
    SERVICE_MATTER,
    STAFF_MATTERS,
)
KIND_RULES: tuple[KindRule, ...] = (*OTHER_RULES, *COMPLAINT_RULES, *OPPORTUNITY_RULES)
# Cues of something not working: a complaint when a customer's product fails.
FAILURE_RULES = frozenset({BROKEN, OUTAGE, WHEN_FIXED, SINCE})

# "blij met X hoor, maar Y werkt niet": praise followed by a "but" is no longer praise.
_CONTRAST = _rx(r"but\b", r"maar\b", r"however\b", r"alleen\b", r"only (?:thing|problem)")


def kind_evidence(text: str, channel: str | None = None) -> list[Fired]:
    """The kind rules that fire on ``text``, each at most once, in rule order.

    Bulk-mail rules are decisive only for email (or an unknown channel): an auto-reply
    does not arrive through the chat or the form. When the employee's own IT fails, the
    failure cues (broken, down, since this morning) describe that, not a customer's
    complaint, and add nothing."""
    text = normalise(text).lower()
    fired: list[Fired] = []
    own_it = OWN_IT_PROBLEM.pattern.search(text) is not None
    for rule in KIND_RULES:
        if own_it and rule in FAILURE_RULES:
            continue
        match = rule.pattern.search(text)
        if not match:
            continue
        weight = rule.weight
        if rule is PRAISE and _CONTRAST.search(text, match.end()):
            weight /= 2
        if rule.decisive and channel not in (None, "email") and rule is not TEST_OR_MISTAKE:
            rule = KindRule(rule.reason, rule.kind, rule.weight, rule.pattern, decisive=False)
        fired.append(Fired(rule, weight, match.group(0)))
    return fired


def evidence_by_kind(fired: Iterable[Fired]) -> dict[Kind, float]:
    """Added log-odds per kind, capped at MAX_EVIDENCE."""
    totals = dict.fromkeys(Kind, 0.0)
    for item in fired:
        totals[item.rule.kind] += item.weight
    return {kind: min(total, MAX_EVIDENCE) for kind, total in totals.items()}


# --- category -----------------------------------------------------------------------------

CATEGORY_CUES: dict[Category, re.Pattern[str]] = {
    Category.payments_cards: _rx(
        r"(?:debit |credit |bank |new |replacement |travel |gold |metal |virtual |prepaid )?card\b",
        r"cards\b",
        r"creditcards?",
        r"pinpas",
        r"bankpas",
        r"\bpas\b",
        r"pincode",
        r"\bpin\b",
        r"pinnen",
        r"pin(?:betal|transact|automa|pas|code|terminal)\w*",
        r"gepind",
        r"overdrawn",
        r"contactless",
        r"contactloos",
        r"apple pay",
        r"\batm\b",
        r"cash ?(?:machine|point)",
        r"geldautomaat",
        r"card (?:reader|terminal)",
        r"pinterminal",
        r"betaalterminal",
        r"terminal",
        r"current account",
        r"betaalrekening",
        r"zakelijke rekening",
        r"chargeback",
        r"overboeking",
        r"overmaken",
        r"transfer\b",
        r"betaalverzoek",
        r"ideal\b",
        r"credit limit",
        r"limiet",
        r"rood staan",
        r"overdraft",
        r"fraud",
        r"fraude",
        r"euros",
        r"currency",
    ),
    Category.mortgage_loans: _rx(
        r"mortgage",
        r"remortgage",
        r"\w*hypothe",
        r"\w*loans?\b",
        r"\w*lening",
        r"\w*krediet",
        r"overbrugging\w*",
        r"bridging",
        r"financiering",
        r"oversluit",
        r"aflossen",
        r"afgelost",
        r"aflossing",
        r"rentevast",
        r"bouwdepot",
        r"notaris",
        r"taxatie",
        r"valuation",
        r"completion",
        r"borrow",
        r"lenen",
        r"car finance",
        r"autolening",
        r"refinance",
        r"equity release",
        r"overwaarde",
        r"arrears",
        r"achterstand",
        r"veiling",
        r"geveild",
        r"(?:huis|woning) (?:te )?kopen",
        r"buy a house",
        r"property ladder",
        r"first[- ]time buyers?",
        r"agreement in principle",
        r"further advance",
    ),
    Category.insurance_claims: _rx(
        r"insur",
        r"verzeker",
        r"claim\b",
        r"claims\b",
        r"\w*schade(?!vrij)",
        r"storm\w*",
        r"dak(?:pannen|kapel|dekker|goot)?\b",
        r"roof(?:er|ing)?\b",
        r"lekkage",
        r"leak\w*",
        r"gevel\b",
        r"polis",
        r"policy\b",
        r"cover\b",
        r"dekking",
        r"eigen risico",
        r"excess\b",
        r"loss adjuster",
        r"expert\b",
        r"no-?claim",
        r"alarmcentrale",
        r"aansprakelijkheid",
        r"liability",
        r"inboedel",
        r"opstal",
        r"rechtsbijstand",
        r"jurist",
    ),
    Category.energy: _rx(
        r"energ",
        r"electric",
        r"elektri",
        r"stroom",
        r"\bgas\b",
        r"gasmeter",
        r"solar",
        r"zonnepan",
        r"heat ?pump",
        r"warmtepomp",
        r"(?:smart |slimme )?meter\b",
        r"meterstand",
        r"tariff",
        r"\btarief",
        r"dual fuel",
        r"ev charg",
        r"laadpa",
        r"teruglever",
        r"saldering",
        r"thermostat",
        r"thermostaat",
        r"boiler",
        r"heating",
        r"verwarming",
        r"power\b",
        r"outage",
        r"voltage",
        r"metering",
        r"netbeheerder",
        r"prepayment meter",
        r"prepay\b",
        r"omvormer",
        r"thuisbatterij",
        r"battery storage",
    ),
    Category.internet_telecom: _rx(
        r"(?:thuis)?internet\w*",
        r"\w*verbinding",
        r"conn?ection\b",
        r"\btv\b",
        r"broadband",
        r"wi-?fi",
        r"router",
        r"modem",
        r"fib(?:re|er)",
        r"glasvezel",
        r"mobile (?:data|signal|lines?|broadband|plan)",
        r"mobiele? (?:data|abonnement)",
        r"\bsim\b",
        r"sim-?only",
        r"e-?sim",
        r"simkaart",
        r"signal",
        r"bereik",
        r"coverage",
        r"\b[45]g\b",
        r"landline",
        r"vaste (?:lijn|telefoonlijn)",
        r"voicemail",
        r"roaming",
        r"tv (?:package|channels|box)",
        r"tv-(?:zenders|pakket)",
        r"family plan",
        r"data plan",
        r"(?:phone|mobile|old|existing|landline) numbers?\b",
        r"number (?:transfer|port)",
        r"port (?:his|her|their) number",
        r"(?:vaste|oude|mobiele|telefoon)\s?nummer",
        r"nummer(?:behoud| is niet meegekomen| overgezet)",
        r"phone line",
        r"wifi calling",
        r"gigabit|\bgbit|mbit|\bmb\b|1 gig",
        r"handsets?",
        r"(?:phone|mobile|sim) (?:contract|plan|deal)",
        r"iphone",
        r"samsung",
        r"smartphone",
        r"tablet",
        r"ipad",
        r"smartwatch",
        r"apple watch",
        r"bundel",
        r"voip",
        r"telefonie",
        r"abonnement(?:en)?\b",
        r"sms\b",
    ),
    Category.invoice_billing: _rx(
        r"invoice",
        r"\bbills?\b",
        r"billing",
        r"billed",
        r"factu",
        r"jaarafrekening",
        r"eindafrekening",
        r"jaarnota",
        r"termijnbedrag",
        r"direct debit",
        r"incasso",
        r"acceptgiro",
        r"statement",
        r"creditnota",
        r"late payment",
        r"charged",
        r"afgeschreven",
        r"bijbetalen",
        r"\bbtw\b",
        r"\bvat\b",
        r"e-?invoice",
        r"one bill",
        r"single (?:bill|invoice)",
        r"verzamelfactuur",
        r"fee\b",
        r"kosten",
        r"debt collection",
    ),
    Category.delivery: _rx(
        r"deliver",
        r"delivery",
        r"bezorg",
        r"geleverd",
        r"levering",
        r"leveren",
        r"verzend",
        r"parcel",
        r"pakketje",
        r"pakket .{0,20}(?:bezorgd|afgegeven|afgeleverd|kwijt)",
        r"verstuurd",
        r"teruggegaan",
        r"courier",
        r"koerier",
        r"vervoerder",
        r"tracking",
        r"track ?& ?trace",
        r"shipped",
        r"dispatch",
        r"posted",
        r"returns? (?:label|bag|box)",
        r"retour",
        r"in transit",
        r"onderweg",
        r"arrived",
        r"aangekomen",
        r"doos\b",
        r"\bbox\b",
        r"same-day",
        r"parcel locker",
        r"afhaalpunt",
        r"ordered",
        r"besteld",
    ),
    Category.app_website: _rx(
        r"\bapp\b",
        r"\bapps\b",
        r"de app",
        r"website",
        r"\bsite\b",
        r"online banking",
        r"internetbankieren",
        r"online bankieren",
        r"log ?in",
        r"inlog",
        r"logged",
        r"uitgelogd",
        r"password",
        r"wachtwoord",
        r"face id",
        r"push ?(?:notification|melding)",
        r"chatbot",
        r"\bapi\b",
        r"portal",
        r"portaal",
        r"browser",
        r"screen reader",
        r"download",
        r"verification code",
        r"activatiecode",
        r"qr-code",
        r"dark mode",
    ),
    Category.service_waiting: _rx(
        r"on hold",
        r"in de wacht",
        r"wachtrij",
        r"wachttijd",
        r"wachtmuziek",
        r"hold music",
        r"queue",
        r"queued",
        r"in de rij",
        r"call ?back",
        r"terugbel",
        r"teruggebeld",
        r"customer service",
        r"klantenservice",
        r"helpdesk",
        r"transferred",
        r"doorverbonden",
        r"(?:branch|office|kantoor|filiaal) .{0,30}(?:closed|shut|gesloten)",
        r"appointment",
        r"afspraak",
        r"adviseur aan huis",
        r"home visit",
        r"advis[oe]r",
        r"personal banker",
        r"account ?manager",
        r"contactpersoon",
        r"staff member",
        r"medewerker",
        r"counter",
        r"balie",
        r"interpreter",
        r"enquête",
        r"live chat",
        r"response time",
        r"reactietijd",
        r"\bsla\b",
        r"support package",
        r"bereikbaarheid",
        r"bezwaar",
        r"bereavement",
        r"overlijden",
        r"power of attorney",
        r"machtiging",
        r"returns? (?:his |her )?calls",
        r"(?:final )?response",
        r"holding letters?",
        r"reactie",
        r"neemt (?:er )?(?:niemand )?op",
        r"departments",
        r"afdelingen",
        r"ontvangstbevestiging",
        r"opnieuw vertellen",
    ),
    Category.other: _rx(
        r"invest\w*",
        r"beleg\w*",
        r"pensioen\w*",
        r"pension",
        r"\bisas?\b",
        r"savings accounts?",
    ),
}


def category_evidence(text: str) -> dict[Category, list[str]]:
    """Keywords found per category (lower-cased, distinct)."""
    text = normalise(text).lower()
    found: dict[Category, list[str]] = {}
    for category, pattern in CATEGORY_CUES.items():
        words = sorted({_whole(text, m).strip() for m in pattern.finditer(text)})
        if words:
            found[category] = words
    return found


def _whole(text: str, match: re.Match[str]) -> str:
    """The match, from the start of the word it begins in ("storing" -> "internetstoring")."""
    start = match.start()
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    return text[start : match.end()]


# --- urgency ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UrgencyRule:
    reason: str
    urgency: Urgency
    pattern: re.Pattern[str]  # searched in lower-cased text
    shouted: re.Pattern[str] | None = None  # searched as written: "NU" is urgent, "nu" not


HIGH_URGENCY_RULES: tuple[UrgencyRule, ...] = (
    UrgencyRule(
        "fraud, theft or someone else's data",
        Urgency.high,
        _rx(
            r"fraud\w*",
            r"fraude\w*",
            r"scam text",
            r"sim ?swap",
            r"pretending to be",
            r"zich voordeed als",
            r"someone else'?s",
            r"iemand anders",
            r"datalek",
            r"never made",
            r"niet kent",
        ),
    ),
    UrgencyRule(
        "stranded abroad without a working card",
        Urgency.high,
        _rx(
            r"(?:stuck|stranded) in",
            r"no cash",
            r"geen (?:contant|geld)",
            r"zonder geld",
            r"nothing to pay with",
            r"kan nergens pinnen",
            r"(?:abroad|overseas|on holiday|buitenland|op vakantie)\b.{0,80}"
            r"(?:blocked|geblokkeerd|declined|geweigerd|swallowed|ingeslikt|not working"
            r"|werkt niet)",
            r"(?:blocked|geblokkeerd|declined|geweigerd|swallowed|ingeslikt)\b.{0,80}"
            r"(?:abroad|overseas|on holiday|buitenland|op vakantie)",
            r"(?:in|staat in) (?:portugal|spanje|turkije|italië|frankrijk|lisbon|spain|turkey)\b"
            r".{0,80}(?:blocked|geblokkeerd|geweigerd|declined|ziekenhuis|hospital)",
        ),
    ),
    UrgencyRule(
        "no power, heating, gas or phone line for a vulnerable person",
        Urgency.high,
        _rx(
            r"no (?:power|gas|heating|electricity)\b",
            r"without (?:power|electricity|heating)",
            r"geen (?:stroom|gas|verwarming)\b",
            r"zonder (?:stroom|verwarming)",
            r"(?:cut|cuts) off",
            r"afgesloten",
            r"smelled gas",
            r"gaslucht",
            r"personal alarm",
            r"personenalarm",
            r"dialyse",
            r"dialysis",
            r"oxygen",
            r"traplift",
            r"onbewoonbaar",
            r"regent .{0,10}binnen",
            r"newborn",
        ),
    ),
    UrgencyRule(
        "ombudsman, lawyer, press or leaving",
        Urgency.high,
        _rx(
            r"ombudsman",
            r"ombudsdienst",
            r"lawyer",
            r"advocaat",
            r"solicitor",
            r"(?:local |the )papers?\b",
            r"the press\b",
            r"newspaper",
            r"(?:naar|bij) de krant",
            r"(?:lokale|de) krant (?:al )?(?:benaderd|ingeschakeld|gebeld)",
            r"radar\b",
            r"rtv\b",
            r"twitter",
            r"social media",
            r"write to (?:his|her) mp",
            r"leaving a review",
            r"clos(?:e|ing) everything",
            r"(?:he|she)'?s gone\b",
            r"leave the minute",
            r"vertrekt",
            r"weggaat",
            r"gaat weg",
            r"weg te halen",
            r"(?:stuurt|instuurt|dient) .{0,20}opzegging",
            r"opzegging (?:in|instuurt)",
            r"ontbindt",
            r"move (?:his|her) mortgage elsewhere",
            r"moving everything to another",
        ),
    ),
    UrgencyRule(
        "needs it today or by a near deadline",
        Urgency.high,
        _rx(
            r"(?<!not )(?<!no )(?<!niet )urgent(?:ly)?",
            r"asap\b",
            r"dringend",
            r"spoed",
            r"(?:by |before )?(?:today|tonight|tomorrow morning)",
            r"vandaag(?: nog)?",
            r"nu!",
            r"(?:right|straight) away",
            r"every hour",
            r"executieveiling",
            r"geveild",
            r"beslag",
            r"deurwaarder",
            r"completion",
            r"notaris",
            r"offer expires",
            r"losing money",
        ),
        shouted=re.compile(r"(?<![\w])(?:NU|NOW)\b"),
    ),
)
MINOR = UrgencyRule(
    "says it is minor or not urgent",
    Urgency.low,
    _rx(
        r"not urgent",
        r"no (?:rush|urgency|hurry)",
        r"geen haast",
        r"niet dringend",
        r"minor\b",
        r"tiny thing",
        r"small one",
        r"kleinigheidje",
        r"just (?:a gripe|feedback|mentioned|flagging|asking|curious|planting)",
        r"(?:not|isn'?t) (?:a drama|fussed|bothered|angry|upset)",
        r"niet (?:erg|boos)",
        r"geen groot probleem",
        r"mild(?:ly)?\b",
        r"a bit (?:annoyed|miffed)",
        r"beetje",
        r"mentioned in passing",
        r"(?:not gonna|won'?t|not going to) make a fuss",
        r"just wants (?:the )?records",
        r"in passing",
        r"terloops",
        r"low priority",
        r"nothing (?:concrete|needed yet)",
        r"niks concreets",
        r"irritant",
    ),
)
VAGUE = UrgencyRule(
    "vague or future interest",
    Urgency.low,
    _rx(
        r"might\b",
        r"maybe\b",
        r"misschien",
        r"(?:at some (?:point|stage)|some day|one day|someday)",
        r"ooit",
        r"next year",
        r"volgend (?:jaar|voorjaar|najaar|kwartaal)",
        r"over een jaar",
        r"in 20\d\d",
        r"vague(?:ly)?",
        r"vaag",
        r"just curious",
        r"wondering",
        r"oriënteert",
        r"twijfelt",
        r"benieuwd",
        r"thinking about",
        r"denkt erover",
        r"overweegt",
        r"would consider",
        r"early stage",
        r"brochure",
        r"folder",
        r"info (?:per mail|thuisgestuurd)",
    ),
)
LOW_URGENCY_RULES: tuple[UrgencyRule, ...] = (MINOR, VAGUE)


def urgency_evidence(text: str) -> list[UrgencyRule]:
    """The urgency rules that fire, high ones first."""
    text = normalise(text)
    lower = text.lower()
    return [
        rule
        for rule in (*HIGH_URGENCY_RULES, *LOW_URGENCY_RULES)
        if rule.pattern.search(lower) or (rule.shouted and rule.shouted.search(text))
    ]


# --- vocabulary ---------------------------------------------------------------------------


def lexicon() -> frozenset[str]:
    """The words (of four letters or more) that the kind and category rules spell out, so
    that a typo of a cue word can be undone even when no training text uses the word."""
    sources = [rule.pattern.pattern for rule in KIND_RULES]
    sources += [pattern.pattern for pattern in CATEGORY_CUES.values()]
    words: set[str] = set()
    for source in sources:
        # Drop escapes (\w, \b, \d) first: "\bpin" is "pin", not "bpin".
        words.update(re.findall(r"[^\W\d_]{4,}", re.sub(r"\\[a-zA-Z]", " ", source).lower()))
    return frozenset(words)
