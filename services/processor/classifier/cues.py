"""Cues: families of words and phrases, Dutch and English, that the model uses as features.

A cue says nothing about the kind by itself: the model learns from the labelled rows how
much each cue weighs for complaint, opportunity and other (and for category and urgency).
A cue is a class of wording, written from what the domain is about, not from a sentence
of any labelled set: who has the problem (the employee, or a customer they know), whether
something fails, whether money was taken wrongly, praise, buying intent, a competitor,
how the employee labels the message, negation. Some cues are combinations the model could
not form by itself, as it adds evidence up: praise next to a failure (sarcasm, or "fine,
but"), a failure next to a wish to buy (a moan that is a lead), a competitor without a
customer who wants anything (news).

Patterns are lower-case and searched in the lower-cased, normalised text; every pattern
costs linear time (``tests/unit/test_text_growth.py``), and no alternative may match only
rows the model is scored on (``tests/unit/test_held_out_leaks.py``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from re import _constants, _parser  # type: ignore[attr-defined]
from typing import Any

from schemas import Category
from services.processor.classifier import rules


def _rx(*alternatives: str) -> tuple[str, ...]:
    """The alternatives of a cue's pattern (``rules._rx``), checked to be lower-case."""
    return rules.lower_case(alternatives)


@dataclass(frozen=True)
class Cue:
    name: str  # the feature's name
    reason: str  # what it means, for the reasons a classification gives
    # Most are one word: a word's cues are looked up once per process (``_Matcher``)
    # instead of searched for in every text.
    alternatives: tuple[str, ...]

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """All the alternatives in one pattern. Compiled when first used: scoring reads
        the cues through ``_found``, and compiling them all cost every start-up a tenth
        of a second (issue #9, speed)."""
        return rules._rx(*self.alternatives)


# --- who has the problem -------------------------------------------------------------------

# The people an employee reports for. "mijn buurvrouw" is a customer; "mijn pasje" is the
# employee's own.
RELATIONS = frozenset(
    (
        "buurvrouw buurman buren buurjongen buurmeisje buurvrouwtje bovenbuurvrouw "
        "benedenbuurman overbuurvrouw overbuurman vriend vriendin vrienden vriendje "
        "vriendinnetje kennis kennissen oom ome tante neef nicht nichtje neefje zwager "
        "schoonzus schoonbroer schoonmoeder schoonvader schoonouders schoonzoon schoondochter "
        "broer broertje zus zusje zuster moeder vader ma pa mam pap mama papa ouders opa oma "
        "grootvader grootmoeder zoon dochter kinderen kind man vrouw partner verloofde "
        "vriendje collega collega's klant klanten huisbaas huurder baas kapper "
        "stiefvader stiefmoeder peetoom peettante schoonfamilie familie "
        "neighbour neighbours neighbor neighbors friend friends mate mates pal buddy "
        "acquaintance uncle aunt auntie cousin nephew niece brother sister mum mom mother "
        "dad father parents nan nana gran granny grandma grandmother grandad granddad "
        "grandpa grandfather grandparents son daughter kids kid child children husband "
        "wife partner fiance fiancée girlfriend boyfriend colleague colleagues customer "
        "customers client clients landlord tenant boss hairdresser stepdad stepmum "
        "stepmother stepfather godmother godfather family in-laws sister-in-law "
        "brother-in-law mother-in-law father-in-law son-in-law daughter-in-law old former"
    ).split()
)
# Groups an employee belongs to: "someone from my running club" is a customer too.
GROUPS = frozenset(
    (
        "team club vereniging kerk church school klas class gym sportschool straat street "
        "buurt neighbourhood neighborhood wijk flat building complex choir koor band "
        "classmate teammate klasgenoot studiegenoot ploeg squad book circle kring"
    ).split()
)
_GROUP_ENDINGS = ("club", "team", "vereniging", "genoot", "mate", "school", "groep", "group")
_POSSESSIVE = re.compile(
    r"(?<![\w'])(?:(?:from|of|van|uit|bij|in) )?(?:my|mijn|mn|m'n|our|onze)"
    r" ([\w'-]+)(?: ([\w'-]+))?"
)

THIRD_PARTY = Cue(
    "third_party",
    "about someone the employee knows",
    _rx(
        r"(?:buur|vriend|kennis|oom|tante|neef|nicht|zwager|schoon|broer|zus|moeder|vader"
        r"|ouders|opa|oma|klant|collega)\w*",
        r"(?:neighbou?r|friend|acquaintance|uncle|aunt|cousin|nephew|niece|brother|sister"
        r"|mum|mom|mother|dad|father|parent|grand|nan\b|gran\b|son\b|daughter|husband|wife"
        r"|customer|client|colleague|in-law|landlord|mate\b|pal\b)\w*",
    ),
)
SOMEONE = Cue(
    "someone",
    "about a person outside the company",
    _rx(
        r"(?:woman|man|lady|guy|bloke|girl|boy|gentleman|someone|somebody|person|people"
        r"|vrouw|meneer|mevrouw|dame|jongen|meisje|iemand|persoon|mensen|member|lid)\b",
    ),
)
THIRD_PERSON = Cue(
    "third_person",
    "speaks of her, him or them",
    _rx(r"(?:she|he|her|his|him|they|them|their|hij|zij|ze|haar|hem|hun|z'n|zn|ie)\b"),
)
FIRST_PERSON = Cue(
    "first_person",
    "speaks of themselves",
    # "een kennis van me" is someone else.
    _rx(r"(?:i|i'm|i've|i'd|ik|mij)\b", r"(?<!van )(?<!of )me\b", r"bij mij\b", r"for me\b"),
)
# What the employee has or uses at work; "the form" is the reporting form itself.
OWN_MATTER = Cue(
    "own_matter",
    "the employee's own work matter (equipment, pass, expenses, workplace, the report form)",
    _rx(
        r"(?:work |werk)?laptop",
        r"(?:work |werk)?(?:pc|computer|monitor|headset|keyboard|toetsenbord|muis)\b",
        r"docking ?station",
        r"vpn\b",
        r"outlook\b",
        r"intranet",
        r"sharepoint",
        r"printer\b",
        r"(?:access |toegangs|personeels|staff |employee |id[- ]?)(?:badge|pas|pasje|card)\b",
        r"badge\b",
        r"expense(?:s| claims?| report)",
        r"(?:onkosten|reiskosten)?declaratie\w*",
        r"onkosten",
        r"salar(?:y|is)",
        r"loonstrook",
        r"payslip",
        r"(?:coffee|vending) machine",
        r"koffie(?:automaat|machine|apparaat)",
        r"kantine",
        r"canteen",
        r"parkeer(?:plaats|garage|pas|kaart)",
        r"car park",
        r"parking (?:space|spot|permit|garage)",
        r"(?:my|mijn|mn|m'n) (?:desk|bureau|werkplek|account|wachtwoord|password|rooster"
        r"|leave|verlof|lease ?auto|lease car|werktelefoon|work phone|inbox|mailbox)\b",
        r"werkplek",
        r"servicedesk",
        r"(?:it|ict)[- ]?(?:helpdesk|support|afdeling|department)",
        r"facilit(?:ies|air)",
        r"(?:hr|p&o)[- ](?:afdeling|department|portal|portaal)",
        r"meldformulier",
        r"antenna",
    ),
)

# --- what is wrong --------------------------------------------------------------------------

FAILURE = Cue(
    "failure",
    "something fails, is broken or refused",
    _rx(
        r"(?:doesn'?t|does not|won'?t|will not|didn'?t|did not|stopped|isn'?t|never)"
        r" (?:\w+ )?work(?:s|ing|ed)?\b",
        r"(?:can'?t|cannot|could not|couldn'?t|unable to) (?:\w+ )?(?:log|get|access|use|pay"
        r"|open|reach|send|make|see|find|connect|receive|transfer|withdraw)",
        r"crash\w*",
        r"freez\w*",
        r"error\w*",
        r"fail\w*",
        r"broke\w*",
        r"faulty",
        r"damaged",
        r"kapot\w*",
        r"\w*storing\w*",
        r"outage\w*",
        r"(?:is|are|was|were|went|been|goes) (?:\w+ )?down\b",
        r"(?:werkt|werken|doet|doen|functioneert)(?: \w+){0,3} (?:niet|nie)\b",
        r"(?:lukt|lukken)(?: \w+){0,3} niet\b",
        r"(?:kan|kon|kunnen|krijgt?|krijgen)(?: \w+){0,5} niet (?:meer )?(?:in|inloggen|betalen"
        r"|pinnen|openen|gebruiken|bellen|overmaken|versturen|vinden|bereiken)\b",
        r"foutmelding\w*",
        r"fout\w*",
        r"mislukt\w*",
        r"misgegaan",
        r"gaat (?:\w+ )?(?:mis|fout)\b",
        r"(?:no|zero|geen|without|zonder)(?: \w+){0,2} (?:connection|verbinding|signal|signaal"
        r"|bereik|internet|wi-?fi|stroom|power|electricity|gas|heating|verwarming|warm water"
        r"|hot water|tv|beeld)\b",
        r"declined",
        r"geweigerd",
        r"rejected",
        r"afgewezen",
        r"blocked",
        r"geblokkeerd",
        r"locked out",
        r"keeps? (?:\w+ )?(?:crashing|failing|dropping|freezing|saying|asking)",
        r"blijft (?:\w+ )?(?:hangen|haperen|vastlopen|crashen|weigeren|vragen|zeggen)",
        r"vastgelopen",
        r"loopt (?:steeds )?vast",
        r"valt (?:\w+ )?(?:uit|weg)\b",
        r"(?:drops?|cuts?|cutting|dropping) out",
        r"lost\b",
        r"missing",
        r"vermist",
        r"(?:never|not|nooit|niet) (?:\w+ )?(?:arrived|delivered|aangekomen|bezorgd|geleverd"
        r"|ontvangen|received|came|come|showed|turned up|gekomen|paid|betaald|uitbetaald)",
        r"no-?show",
        r"(?:didn'?t|did not|kwam|komt) (?:\w+ )?(?:niet|show|come|turn up)\b",
        r"wrong\w*",
        r"verkeerd\w*",
        r"mis-?sold",
        r"(?:too |te |erg |very |so |zo )?(?:slow|traag)\b",
        r"rude\b",
        r"onbeleefd",
        r"useless",
        r"nutteloos",
        r"impossible",
        r"onmogelijk",
        r"absurd\w*",
        r"boete\w*",
        r"penalt\w*",
        r"(?:instead of|in plaats van)\b",
        r"(?:not|niet) (?:\w+ )?(?:impressed|happy|pleased|tevreden|blij)",
        r"ontevreden",
        r"dissatisfied",
    ),
)
WANTS_FIXED = Cue(
    "wants_fixed",
    "wants it fixed, corrected, explained or looked at again",
    _rx(
        r"(?:wants?|would like|asks?|asking|requests?) (?:\w+ ){0,3}(?:sorted|fixed|resolved"
        r"|corrected|reopened|reviewed|explained|repaired|replaced|back|redone|an explanation"
        r"|an apology|a review|a reconciliation|reconsidered)",
        r"(?:wants?|would like) (?:\w+ ){0,3}to (?:return|come back|redo|fix|sort|correct)",
        r"(?:wil|wilt|willen|vraagt|eist) (?:\w+ ){0,4}(?:opgelost|hersteld|gecorrigeerd"
        r"|rechtgezet|teruggedraaid|vergoed|terugbetaald|vervangen|gerepareerd|uitgelegd"
        r"|excuses|uitleg)",
        r"graag uitleg",
        r"(?:snapt|begrijpt) er (?:\w+ )?(?:niks|niets) (?:meer )?van",
        r"(?:doesn'?t|does not|don'?t) understand (?:why|how|where)",
        r"(?:hoe|how) (?:kan|can) (?:dat|dit|this|that)\b",
    ),
)
MONEY_WRONG = Cue(
    "money_wrong",
    "money taken wrongly, twice or too much, or a refund wanted",
    _rx(
        r"twice",
        r"dubbel\w*",
        r"twee ?keer",
        r"two times",
        r"te (?:veel|hoog)\b",
        r"too (?:much|high)",
        r"overcharg\w*",
        r"charged",
        r"afgeschreven",
        r"refund\w*",
        r"terugbetal\w*",
        r"terugstort\w*",
        r"(?:geld|money) (?:terug|back)",
        r"compensat\w*",
        r"vergoed\w*",
        r"(?:wrong|incorrect|verkeerde?) (?:amount|bedrag|bill|invoice|factuur|rekening)",
        r"klopt (?:\w+ )?niet",
        r"(?:isn'?t|not) (?:right|correct)",
        r"verhoogd",
        r"raised",
    ),
)
WAITING = Cue(
    "waiting",
    "kept waiting, still not solved, or happening again",
    _rx(
        r"still\b",
        r"nog (?:steeds|altijd)",
        r"(?:weeks?|weken|maanden|months?|dagen|days)\b",
        r"no (?:answer|reply|response|one|callback)",
        r"nobody",
        r"niemand",
        r"on hold",
        r"in de wacht",
        r"wacht(?!woord)\w*",
        r"waiting",
        r"again\b",
        r"alweer",
        r"opnieuw",
        r"(?:third|fourth|fifth|derde|vierde|vijfde) (?:time|keer)",
        r"keer op keer",
        r"since\b",
        r"sinds\b",
        r"al (?:\w+ )?(?:dagen|weken|maanden)",
    ),
)
ANGER = Cue(
    "anger",
    "angry, fed up or threatens to leave",
    _rx(
        r"furious",
        r"livid",
        r"fed up",
        r"annoy\w*",
        r"frustrat\w*",
        r"upset",
        r"ridiculous",
        r"unacceptable",
        r"disgrace\w*",
        r"terrible",
        r"awful",
        r"worst",
        r"complain\w*",
        r"woedend",
        r"kwaad\b",
        r"pissig",
        r"balen",
        r"baalt",
        r"zat\b",
        r"klaar mee",
        r"belachelijk",
        r"schandalig",
        r"slecht\w*",
        r"ergert",
        r"geërgerd",
        r"klaagt",
        r"ombudsman",
        r"opzeg\w*",
        r"cancel\w*",
        r"(?:leave|leaving|weg|vertrekken|overstappen) (?:\w+ )?(?:elsewhere|ergens anders"
        r"|naar een andere|to another)",
    ),
)

# --- what they think or want ----------------------------------------------------------------

PRAISE = Cue(
    "praise",
    "praise or thanks",
    _rx(
        r"compliment\w*",
        r"thank(?:s|ed)? (?:to|for)\b",
        r"thank (?:her|him|them|you)\b",
        r"bedank\w*",
        r"dank(?:je| je| jullie|baar)\w*",
        r"(?:well|goed|top|super|prima|geweldig|fantastisch|snel|keurig|netjes) geholpen",
        r"(?:great|excellent|fantastic|brilliant|amazing|wonderful|outstanding|superb|lovely"
        r"|friendly|helpful|kind|quick|fast) (?:service|help|job|work|staff|person|man|woman"
        r"|lady|guy|engineer|advisor|adviser)",
        r"(?:so|very|really|super|heel|erg|echt|zo|zeer) (?:happy|pleased|impressed|helpful"
        r"|friendly|kind|tevreden|blij|vriendelijk|behulpzaam|goed)",
        r"tevreden",
        r"blij (?:met|mee)",
        r"pleased with",
        r"impressed",
        r"onder de indruk",
        r"kudos",
        r"shout ?out",
        r"pluim",
        r"well done",
        r"goed gedaan",
        r"top(?:werk|service)\b",
        r"10/10",
        r"legend\b",
        r"gem\b",
        r"loved\b",
        r"(?:geweldig|fantastisch|uitstekend|excellent|brilliant|fantastic|wonderful)\b",
    ),
)
SARCASM = Cue(
    "sarcasm",
    "an ironic marker",
    _rx(
        r"nou top\w*",
        r"lekker (?:dan|hoor|bezig)",
        r"echt top\b",
        r"(?:geweldig|fantastisch|super|top) (?:hoor|zeg)\b",
        r"bedankt hoor",
        r"dank je de koekoek",
        r"thanks a lot\b",
        r"great job\b",
        r"love (?:how|that|it when)\b",
        r"just what (?:i|he|she|they) needed",
        r"yeah right",
        r"oh (?:great|joy|wonderful)",
        r"what a (?:joke|service)\b",
        r"wat een service\b",
        r"bravo\b",
        r"\U0001f643",
        r"\U0001f644",
        r"/s\b",
    ),
)
BUYING = Cue(
    "buying",
    "wants to buy, switch to us, upgrade or get a quote",
    _rx(
        r"offerte\w*",
        r"prijsopgave",
        r"quot(?:e|es|ation)\b",
        r"interest(?:ed)? in\b",
        r"geinteresseerd",
        r"interesse\b",
        r"(?:switch|move|come|transfer|bring)(?:es|ing)? (?:\w+ ){0,3}(?:to|over to) us\b",
        r"(?:overstappen|overstapt|overkomen|overzetten|verhuizen) (?:\w+ ){0,3}naar ons",
        r"naar ons (?:over|toe)",
        r"bij ons (?:\w+ )?(?:afsluiten|nemen|onderbrengen|regelen|openen|kopen)",
        r"(?:wil|wilt|wants?|would like|zou graag|looking|zoekt|op zoek)(?: \w+){0,4}"
        r" (?:afsluiten|aanvragen|kopen|nemen|openen|upgraden|uitbreiden|buy|open|take out"
        r"|sign up|upgrade|get|switch)\b",
        r"(?:wants?|would like|'d like|wil|willen|zou graag|zoekt) (?:\w+ ){0,5}(?:from|with|bij"
        r"|van|via) (?:us|ons)\b",
        r"(?:wants?|would like|'d like|wil|willen|zou graag) (?:\w+ ){0,2}(?:our|onze|ons)\b",
        r"(?:move|moved|moving|port|porting|bring|add|adding|put|bundle|transfer)"
        r" (?:\w+ ){0,4}(?:to|over to|onto|on to|with|into) (?:us|our)\b",
        r"(?:do|does|can|could) (?:we|you) (?:\w+ )?(?:do|offer|have|sell|provide|deliver"
        r"|arrange|help)\b",
        r"(?:doen|bieden|hebben|verkopen|leveren) (?:jullie|we|wij)\b",
        r"(?:if|als) (?:we|wij|jullie) (?:\w+ )?(?:do|offer|have|can|doen|bieden|hebben|kunnen)\b",
        r"(?:wants?|would like|'d like|wil|willen|zou) (?:\w+ )?(?:to )?(?:add|borrow|order"
        r"|buy|take|remortgage|port|lease|set up|open|bundle|install|insure|lenen|bestellen"
        r"|toevoegen|aanschaffen|installeren|verzekeren)\b",
        r"(?:would|'d|zou|might|may|misschien) (?:\w+ ){0,2}(?:take|buy|order|move|switch|open"
        r"|add|sign|go for|kopen|afsluiten|nemen|overstappen|bestellen)\b",
        r"(?:proposal|voorstel)\b",
        r"upgrade\w*",
        r"uitbreid\w*",
        r"looking for\b",
        r"(?:sign|signing) up",
        r"aanmelden voor",
        r"(?:advies|advice|adviesgesprek|afspraak|appointment|meeting|gesprek)"
        r" (?:\w+ ){0,3}(?:over|about|for|voor)\b",
        r"(?:wat|how much) (?:kost|costs?|would|does)\b",
        r"(?:tarieven|pricing|prices|prijzen)\b",
        r"meer (?:weten|informatie) over",
        r"(?:know|hear|learn) more about",
        r"(?:overstap|oversluit|switch)\w*",
        r"nieuwe? (?:\w+ )?(?:hypotheek|verzekering|lening|rekening|contract|abonnement)",
        r"(?:a|an|new) (?:\w+ )?(?:mortgage|loan|policy|account|contract)\b",
        r"lead\b",
        r"sales\b",
    ),
)
CALLBACK = Cue(
    "callback",
    "asks to be called",
    _rx(
        r"(?:call|ring|phone|contact)(?:ed)? (?:her|him|them|back)\b",
        r"(?:bel|bellen|terugbellen|gebeld)\b",
        r"call ?back",
        r"terugbel\w*",
        r"contact (?:\w+ )?(?:opnemen|op ?nemen)",
    ),
)
COMPETITOR = Cue(
    "competitor",
    "mentions another provider",
    _rx(
        r"concurrent\w*",
        r"competitor\w*",
        r"rival\w*",
        r"(?:andere|other|another) (?:bank|aanbieder|leverancier|energieleverancier|verzekeraar"
        r"|provider|supplier|insurer|lender|company|maatschappij|partij)\b",
        r"(?:current|old|existing|huidige|oude) (?:bank|aanbieder|leverancier|energieleverancier"
        r"|verzekeraar|provider|supplier|insurer|lender|hypotheekverstrekker)\b",
        r"(?:elders|elsewhere)\b",
        r"\w+bank\b",
    ),
)
NEWS = Cue(
    "news",
    "passes on news or an advert",
    _rx(
        r"launch\w*",
        r"lanceer\w*",
        r"gelanceerd",
        r"introduc\w*",
        r"komt met",
        r"adverte\w*",
        r"advert\w*",
        r"campaign\w*",
        r"campagne\w*",
        r"reclame\w*",
        r"(?:in the|in het) (?:news|nieuws|paper|krant)",
        r"nieuws\w*",
        r"news\b",
        r"krant\w*",
        r"(?:read|heard|saw|las|hoorde|zag) (?:\w+ )?(?:that|dat|about|over)\b",
        r"(?:cheaper|goedkoper|lower|lagere?|hogere?|higher|better|betere?) (?:\w+ )?(?:rate"
        r"|rente|price|prijs|tarief|deal|offer|aanbod)",
        r"fyi\b",
        r"ter info\w*",
    ),
)
# How the employee labels the message: a hint, not the truth ("not a lead, but ...").
SAYS_COMPLAINT = Cue("says_complaint", "calls it a complaint", _rx(r"complaint\w*", r"klacht\w*"))
SAYS_NOT = Cue(
    "says_not",
    "says it is not a complaint or not a lead",
    _rx(
        r"(?:not|no|geen|niet) (?:really |echt |per se |zozeer )?(?:a |an |een )?(?:formal |"
        r"sales |echte )?(?:complaint|klacht|klachtje|lead|sales|verkoop\w*)",
    ),
)
QUESTION = Cue(
    "question",
    "asks for information only",
    _rx(
        r"(?:wants|wanted|would like) to know",
        r"wil (?:graag )?weten",
        r"wondering",
        r"(?:vraagt|vroeg) (?:me |mij |zich )?(?:af )?(?:of|hoe|wat|wanneer|waarom|waar|welke)\b",
        r"(?:asks|asked) (?:me )?(?:how|what|when|why|where|whether|which|if)\b",
        r"hoe (?:werkt|zit)",
        r"how (?:does|do|is)\b",
    ),
)
RESOLVED = Cue(
    "resolved",
    "says it is solved or needs no action",
    _rx(
        r"(?:is|was|werd|been|got|all) (?:\w+ )?(?:opgelost|resolved|solved|sorted|fixed)",
        r"all good",
        r"kan dicht",
        r"(?:no|geen) (?:action|actie|follow[- ]?up)",
        r"nothing (?:to do|needed|else)",
        r"(?:verder|voor de rest) (?:niks|niets)",
        r"niks mee",
        r"doe er (?:maar )?(?:wat|iets) mee",
        r"no (?:problem|issue)s?\b",
    ),
)
IDEA = Cue(
    "idea",
    "an idea or suggestion",
    _rx(
        r"ide(?:e|ea|eën|as)\b",
        r"suggesti\w*",
        r"what if we",
        r"zou het niet",
        r"would be (?:nice|great|good|handy|cool) if",
        r"(?:misschien|maybe) (?:kunnen|could|should) we",
        r"why don'?t we",
        r"waarom (?:hebben|doen|bieden) we",
    ),
)
ARRANGE = Cue(
    "arrange",
    "asks to arrange something (a payment plan, an estate, a visit, a move)",
    _rx(
        r"betalingsregeling",
        r"gespreid",
        r"uitstel van betaling",
        r"estate\b",
        r"inheritance",
        r"passed away",
        r"deceased",
        r"persoonlijk",
        r"(?:op|at|in) (?:een |het |a |the )?(?:kantoor|branch|filiaal)",
        r"face[- ]to[- ]face",
        r"(?:change|changing) (?:of |his |her |their )?address",
        r"verhuiz\w*",
        r"(?:moving|moves) (?:house|home|to)\b",
        r"extra (?:\w+ )?aflossen",
        r"(?:pay|paying) off (?:\w+ )?(?:early|extra)",
        r"machtiging",
        r"volmacht",
    ),
)
FRAUD = Cue(
    "fraud",
    "fraud, phishing or theft",
    _rx(
        r"fraud\w*",
        r"oplicht\w*",
        r"scam\w*",
        r"gestolen",
        r"stolen",
        r"hack\w*",
        r"gehackt",
        r"nep\w*",
        r"fake\b",
        r"verdacht\w*",
        r"suspicious",
    ),
)

KIND_CUES: tuple[Cue, ...] = (
    THIRD_PARTY,
    SOMEONE,
    THIRD_PERSON,
    FIRST_PERSON,
    OWN_MATTER,
    FAILURE,
    MONEY_WRONG,
    WANTS_FIXED,
    WAITING,
    ANGER,
    PRAISE,
    SARCASM,
    BUYING,
    CALLBACK,
    COMPETITOR,
    NEWS,
    SAYS_COMPLAINT,
    SAYS_NOT,
    QUESTION,
    RESOLVED,
    IDEA,
    ARRANGE,
    FRAUD,
)

_NEGATION_BEFORE = re.compile(
    r"(?<![\w'])(?:not|no|never|niet|geen|nooit|allesbehalve|hardly|nauwelijks)"
    r"(?: (?:really|echt|erg|zo|so|very|heel|too|te|altijd|always))?\s*$"
)
_NEGATION_REACH = 24  # characters before a praise word in which a "not" turns it round

# Combinations: (name, reason, cues that must all fire, cues that must not fire).
COMBINATIONS: tuple[tuple[str, str, tuple[Cue, ...], tuple[Cue, ...]], ...] = (
    ("praise_and_trouble", "praise next to a failure or a wait", (PRAISE,), ()),
    ("own_trouble", "the employee's own matter fails", (OWN_MATTER, FAILURE), (THIRD_PARTY,)),
    ("customer_fraud", "fraud or theft against a customer", (THIRD_PARTY, FRAUD), ()),
    ("someone_trouble", "a person's matter fails", (SOMEONE, FAILURE), (OWN_MATTER,)),
    ("customer_trouble", "a customer's matter fails", (THIRD_PARTY, FAILURE), ()),
    ("moan_and_buying", "a complaint that comes with a wish to buy", (BUYING,), ()),
    ("switch_to_us", "leaves another provider for us", (COMPETITOR, BUYING), ()),
    ("competitor_news", "news about another provider", (COMPETITOR,), (BUYING,)),
)
_TROUBLE = (FAILURE, WAITING, MONEY_WRONG, ANGER, WANTS_FIXED, FRAUD)
# The same by name, looked up per text as sets (no generator per combination and text).
_TROUBLE_NAMES = frozenset(cue.name for cue in _TROUBLE)
_COMBINED = tuple(
    (name, frozenset(cue.name for cue in needed), frozenset(cue.name for cue in excluded))
    for name, _, needed, excluded in COMBINATIONS
)
_PLAIN_KIND_NAMES = tuple(cue.name for cue in KIND_CUES if cue is not PRAISE)


def kind_cue_names() -> tuple[str, ...]:
    names = [cue.name for cue in KIND_CUES] + ["negated_praise", "own_object", "their_object"]
    names.append("nothing_wrong_or_wanted")
    return (*names, *(name for name, *_ in COMBINATIONS))


def kind_cue_reasons() -> dict[str, str]:
    reasons = {cue.name: cue.reason for cue in KIND_CUES}
    reasons["negated_praise"] = "praise turned round by a negation"
    reasons["own_object"] = "names something of their own (my ...)"
    reasons["their_object"] = "names someone they know (my neighbour, ...)"
    reasons["nothing_wrong_or_wanted"] = "names nothing wrong and nothing to buy"
    reasons.update({name: reason for name, reason, *_ in COMBINATIONS})
    return reasons


def kind_cues(text: str) -> dict[str, float]:
    """The kind cues that fire on ``text`` (lower-cased, normalised), each 1.0."""
    return _kind_cues(text, _found(text))


def _kind_cues(text: str, found: Counter[str]) -> dict[str, float]:
    fired = {name: 1.0 for name in _PLAIN_KIND_NAMES if name in found}
    if PRAISE.name in found:
        praised = negated = False
        for match in PRAISE.pattern.finditer(text):
            before = text[max(0, match.start() - _NEGATION_REACH) : match.start()]
            if _NEGATION_BEFORE.search(before):
                negated = True
            else:
                praised = True
        if praised:
            fired[PRAISE.name] = 1.0
        if negated:
            fired["negated_praise"] = 1.0
    own = their = False
    for match in _POSSESSIVE.finditer(text):
        # "my neighbour", "my son's classmate", "someone from my running club": a customer.
        words = [word.split("'")[0] for word in match.groups() if word]
        if match.group(0).startswith(("from ", "of ", "van ", "uit ", "bij ", "in ")) or any(
            word in RELATIONS or word in GROUPS or word.endswith(_GROUP_ENDINGS) for word in words
        ):
            their = True
        else:
            own = True
    if own:
        fired["own_object"] = 1.0
    if their:
        fired["their_object"] = 1.0
    trouble = not _TROUBLE_NAMES.isdisjoint(fired)
    if not trouble and "buying" not in fired and "negated_praise" not in fired:
        fired["nothing_wrong_or_wanted"] = 1.0
    for name, needed, excluded in _COMBINED:
        if needed.issubset(fired) and excluded.isdisjoint(fired):
            if name in ("praise_and_trouble", "moan_and_buying") and not trouble:
                continue
            fired[name] = 1.0
    return fired


# --- category and urgency -------------------------------------------------------------------


def _category(category: Category, *alternatives: str) -> Cue:
    return Cue(f"category_{category.value}", category.value, _rx(*alternatives))


CATEGORY_CUES: tuple[Cue, ...] = (
    _category(
        Category.payments_cards,
        r"(?:debit |credit |bank |new |replacement |travel |virtual |prepaid )?cards?\b",
        r"creditcard\w*",
        r"\w*pas\b",
        r"\w*pasje\b",
        r"pincode",
        r"pin\b",
        r"pinnen",
        r"pin(?:betal|transact|automa|pas|code|terminal)\w*",
        r"gepind",
        r"contactless",
        r"contactloos",
        r"apple pay",
        r"cash ?(?:machine|point)",
        r"geldautomaat",
        r"\w*terminal",
        r"current account",
        r"betaalrekening",
        r"(?:zakelijke |bank)?rekening\b",
        r"bank account",
        r"overboeking",
        r"overmaken",
        r"transfer\w*",
        r"betaalverzoek",
        r"ideal\b",
        r"limiet",
        r"limit\b",
        r"overdraft",
        r"savings?\b",
        r"spaar\w*",
        r"deposito\w*",
        r"deposit\b",
    ),
    _category(
        Category.mortgage_loans,
        r"mortgage\w*",
        r"\w*hypothe\w*",
        r"\w*loans?\b",
        r"\w*lening\w*",
        r"\w*krediet\w*",
        r"financiering",
        r"oversluit\w*",
        r"aflos\w*",
        r"afgelost",
        r"rentevast\w*",
        r"notaris",
        r"taxatie",
        r"valuation",
        r"borrow\w*",
        r"lenen",
        r"remortgag\w*",
        r"(?:huis|woning) (?:te )?kopen",
        r"first[- ]time buyers?",
        r"interest rate",
        r"rente\b",
    ),
    _category(
        Category.insurance_claims,
        r"insur\w*",
        r"verzeker\w*",
        r"claim\w*",
        r"\w*schade(?!vrij)\w*",
        r"damage\w*",
        r"storm\w*",
        r"leak\w*",
        r"polis\w*",
        r"policy\b",
        r"cover\b",
        r"dekking",
        r"eigen risico",
        r"excess\b",
        r"no-?claim",
        r"inboedel",
        r"opstal",
        r"rechtsbijstand",
    ),
    _category(
        Category.energy,
        r"energ\w*",
        r"electric\w*",
        r"elektri\w*",
        r"stroom\w*",
        r"gas\b",
        r"gasmeter",
        r"solar",
        r"zonnepan\w*",
        r"heat ?pump",
        r"warmtepomp\w*",
        r"(?:smart |slimme )?meter\w*",
        r"tariff",
        r"laadpa\w*",
        r"teruglever\w*",
        r"thermostat\w*",
        r"boiler",
        r"heating",
        r"verwarming",
        r"power\b",
    ),
    _category(
        Category.internet_telecom,
        r"(?:thuis)?internet\w*",
        r"\w*verbinding",
        r"connection\b",
        r"tv\b",
        r"broadband",
        r"wi-?fi",
        r"router",
        r"modem",
        r"fib(?:re|er)",
        r"glasvezel",
        r"mobile (?:data|signal|lines?|plan)",
        r"mobiele? (?:data|abonnement|telefoon)",
        r"sim\b",
        r"sim-?only",
        r"e-?sim",
        r"simkaart",
        r"signal\b",
        r"bereik\b",
        r"coverage",
        r"[45]g\b",
        r"landline",
        r"vaste (?:lijn|telefoon)",
        r"roaming",
        r"(?:phone|mobile) (?:contract|plan|deal|number)",
        r"telefoon\w*",
        r"iphone",
        r"samsung",
        r"smartphone",
        r"abonnement\w*",
        r"bundel\w*",
    ),
    _category(
        Category.invoice_billing,
        r"invoice\w*",
        r"bills?\b",
        r"billing",
        r"billed",
        r"factu\w*",
        r"\w*afrekening",
        r"direct debit",
        r"incasso",
        r"statement",
        r"charged",
        r"afgeschreven",
        r"bijbetalen",
        r"kosten\b",
        r"fee\b",
        r"fees\b",
    ),
    _category(
        Category.delivery,
        r"deliver\w*",
        r"bezorg\w*",
        r"geleverd",
        r"levering",
        r"leveren",
        r"verzend\w*",
        r"parcel",
        r"pakket\w*",
        r"verstuurd",
        r"courier",
        r"koerier",
        r"tracking",
        r"track ?& ?trace",
        r"shipped",
        r"in transit",
        r"onderweg",
        r"arrived",
        r"aangekomen",
        r"ordered",
        r"besteld",
    ),
    _category(
        Category.app_website,
        r"app\b",
        r"apps\b",
        r"website",
        r"site\b",
        r"online banking",
        r"internetbankieren",
        r"online bankieren",
        r"log ?in\w*",
        r"inlog\w*",
        r"logged",
        r"uitgelogd",
        r"wachtwoord",
        r"update\b",
        r"browser",
        r"download\w*",
    ),
    _category(
        Category.service_waiting,
        r"on hold",
        r"in de wacht",
        r"queue\w*",
        r"call ?back",
        r"terugbel\w*",
        r"teruggebeld",
        r"klantenservice",
        r"helpdesk",
        r"transferred",
        r"appointment",
        r"afspraak",
        r"advis[oe]r",
        r"adviseur",
        r"medewerker",
        r"engineer",
        r"monteur",
        r"no-?show",
        r"(?:never|didn'?t) (?:show|turn) up",
        r"reactie",
        r"response\b",
    ),
)

URGENCY_CUES: tuple[Cue, ...] = (
    Cue(
        "urgent_money",
        "without money or a way to pay",
        _rx(
            r"no (?:money|cash)\b",
            r"geen (?:geld|contant)",
            r"zonder geld",
            r"(?:can'?t|cannot|kan) (?:\w+ )?(?:pay|betalen)",
            r"(?:rent|huur)\b",
            r"abroad",
            r"buitenland",
            r"(?:on|op) (?:holiday|vakantie)",
            r"stranded",
        ),
    ),
    Cue(
        "urgent_utility",
        "without power, heating, water or a phone line",
        _rx(
            r"(?:no|geen|without|zonder) (?:\w+ )?(?:power|stroom|electricity|heating"
            r"|verwarming|gas|hot water|warm water|phone line|telefoonlijn)\b",
            r"gas ?(?:smell|lucht)",
            r"(?:smell|ruikt) (?:\w+ )?gas",
            r"flood\w*",
            r"overstrom\w*",
            r"(?:cut|afgesloten)\b",
        ),
    ),
    Cue(
        "urgent_vulnerable",
        "a vulnerable person",
        _rx(
            r"elderly",
            r"bejaard\w*",
            r"hoogbejaard",
            r"(?:8|9)\d[- ]?(?:year|jaar|jarige)",
            r"baby\w*",
            r"newborn",
            r"pasgeboren",
            r"medicijn\w*",
            r"insulin\w*",
            r"alarm\w*",
            r"zwanger",
            r"pregnant",
            r"rolstoel",
            r"dementi\w*",
            r"disabled",
            r"gehandicapt",
        ),
    ),
    Cue(
        "urgent_deadline",
        "needs it now or by a near deadline",
        _rx(
            r"(?<!not )(?<!niet )urgent\w*",
            r"asap\b",
            r"dringend",
            r"spoed\w*",
            r"vandaag",
            r"today\b",
            r"vanavond",
            r"(?:tomorrow|morgen)\b",
            r"deadline",
            r"notaris",
            r"completion",
            r"overdracht",
            r"z\.?s\.?m\.?",
            r"meteen",
            r"direct\b",
            r"for (?:his|her|their) (?:work|business|shop)",
            r"voor (?:zijn|haar|hun) (?:werk|zaak|bedrijf|winkel)",
            r"(?:can'?t|kan niet) (?:\w+ )?(?:work|werken)",
        ),
    ),
    Cue("urgent_fraud", "fraud or theft", FRAUD.alternatives),
    Cue(
        "not_urgent",
        "says there is no hurry, or the interest is vague",
        _rx(
            r"(?:not|niet) (?:\w+ )?(?:urgent|dringend)",
            r"no (?:rush|hurry|urgency)",
            r"geen (?:haast|spoed)",
            r"maybe",
            r"misschien",
            r"perhaps",
            r"someday",
            r"ooit",
            r"(?:next|volgend) (?:year|jaar)",
            r"(?:later|next) this year",
            r"(?:in|over) (?:a few|een paar|\w+) (?:months|maanden)",
            r"(?:just|gewoon|only|alleen) (?:curious|benieuwd|wondering|vragen|asking)",
            r"(?:orienteren|oriënteren|orienting|browsing|thinking about|denkt na|overweegt"
            r"|considering)\w*",
            r"no (?:action|problem)",
            r"minor\b",
            r"kleinigheid\w*",
            r"whenever",
            r"(?:when|wanneer) (?:it suits|het uitkomt)",
        ),
    ),
)


def category_cues(text: str) -> dict[str, float]:
    """Per category: its cue words found in ``text``, 1.0 for one, 2.0 for more."""
    found = _found(text)
    return {cue.name: float(min(found[cue.name], 2)) for cue in CATEGORY_CUES if cue.name in found}


def urgency_cues(text: str) -> dict[str, float]:
    found = _found(text)
    return {cue.name: 1.0 for cue in URGENCY_CUES if cue.name in found}


def cue_names() -> tuple[str, ...]:
    """Every cue feature, in the order of the model's cue columns."""
    return (
        *kind_cue_names(),
        *(cue.name for cue in CATEGORY_CUES),
        *(cue.name for cue in URGENCY_CUES),
    )


def cues(text: str) -> dict[str, float]:
    """All cue features of ``text`` (lower-cased, normalised)."""
    found = _found(text)
    fired = _kind_cues(text, found)
    for cue in CATEGORY_CUES:
        if cue.name in found:
            fired[cue.name] = float(min(found[cue.name], 2))
    for cue in URGENCY_CUES:
        if cue.name in found:
            fired[cue.name] = 1.0
    return fired


def describe(names: Sequence[str]) -> list[str]:
    """What each cue means, for the reasons of a classification."""
    return [_REASONS.get(name, name) for name in names]


_REASONS = {
    **kind_cue_reasons(),
    **{cue.name: f"about {cue.reason}" for cue in CATEGORY_CUES},
    **{cue.name: cue.reason for cue in URGENCY_CUES},
}


# --- matching: one-word alternatives through a per-word cache, the rest as patterns -------

# A word as the patterns see it: letters, digits, apostrophes; an emoji on its own.
_WORD = re.compile(r"\w[\w']*|[\U0001f300-\U0001faff\u2600-\u27bf]")
# Alternatives that can span more than one word stay patterns searched in the text.
_SPANS_WORDS = re.compile(r" |\\s|\.|/|&|-|\(\?<|\\b(?!$)")
MAX_CACHED_WORDS = 100_000


@dataclass(frozen=True)
class _Matcher:
    """One cue's alternatives, split: ``starts`` (one word, matched at a word's start),
    ``inside`` (one word, may start inside it: compounds) and ``phrases`` (the rest)."""

    name: str
    starts: re.Pattern[str] | None
    inside: re.Pattern[str] | None
    phrases: tuple[str, ...]


def _matcher(cue: Cue) -> _Matcher:
    starts, inside, phrases = [], [], []
    for alternative in cue.alternatives:
        if _SPANS_WORDS.search(alternative):
            if alternative.startswith("\\w*"):
                raise ValueError(f"a phrase that starts inside a word: {alternative!r}")
            phrases.append(alternative)
        elif alternative.startswith("\\w*"):
            inside.append(alternative[3:])
        else:
            starts.append(alternative)

    # ``starts`` is only ever matched at a word's start: the lookbehind says so, and keeps
    # a search through a long run of letters linear.
    return _Matcher(cue.name, _union(starts, r"(?<!\w)"), _union(inside), tuple(phrases))


def _union(alternatives: list[str], lead: str = "") -> re.Pattern[str] | None:
    """One pattern of ``alternatives`` (of a cue's source, never of input), or None."""
    return re.compile(lead + "(?:" + "|".join(alternatives) + ")") if alternatives else None


ALL_CUES: tuple[Cue, ...] = (*KIND_CUES, *CATEGORY_CUES, *URGENCY_CUES)
_MATCHERS = tuple(_matcher(cue) for cue in ALL_CUES)
# A category counts up to 2; any other cue fires or not.
_ENOUGH = {cue.name: 2 if cue in CATEGORY_CUES else 1 for cue in ALL_CUES}
_PHRASES = tuple((m.name, rules._rx(*m.phrases), _ENOUGH[m.name]) for m in _MATCHERS if m.phrases)
PREFIX = 4  # characters of a phrase's start that choose the cues tried there
Phrase = tuple[str, re.Pattern[str], int]  # a cue's name, its phrases' pattern, enough


def _starts(items: Any, k: int) -> set[str] | None:
    """What every string the parsed regex ``items`` matches starts with: its first ``k``
    characters, or fewer where the match may end or the next part is no small set of
    characters (a class such as ``\\w``). None: not even the first character is known.
    Lookarounds and anchors are skipped: they only narrow what matches."""
    open_, done = {""}, set()
    for op, av in items:
        step = _item_starts(op, av, k)
        if step is None:
            break
        grown = {(end + more)[:k] for end in open_ for more in step}
        done |= {end for end in grown if len(end) >= k}
        open_ = {end for end in grown if len(end) < k}
        if not open_:
            break
    done |= open_
    return None if "" in done else done


def _item_starts(op: Any, av: Any, k: int) -> set[str] | None:
    c = _constants
    if op is c.LITERAL:
        return {chr(av)}
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return {""}
    if op is c.IN:
        chars: set[str] = set()
        for kind, value in av:
            if kind is c.LITERAL:
                chars.add(chr(value))
            elif kind is c.RANGE and value[1] - value[0] < 64:
                chars.update(map(chr, range(value[0], value[1] + 1)))
            else:
                return None
        return chars
    if op is c.SUBPATTERN:
        return _starts(av[-1], k) if av[-1] else {""}
    if op is c.ATOMIC_GROUP:
        return _starts(av, k)
    if op is c.BRANCH:
        union: set[str] = set()
        for branch in av[1]:
            found = _starts(branch, k) if branch else {""}
            if found is None:
                return None
            union |= found
        return union
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        low, high, item = av
        once = _starts(item, k)
        if once is None:
            return None
        out = {""} if low == 0 else set()
        ends = {""}
        for count in range(1, min(high, k) + 1):
            ends = {(end + more)[:k] for end in ends for more in once}
            if count >= low:
                out |= ends
        return out if low <= k else ends
    return None


def _trie(prefixes: set[str]) -> str:
    """One regex for a set of literal strings, each alternative led by a literal."""
    heads: dict[str, set[str]] = {}
    for prefix in prefixes:
        heads.setdefault(prefix[0], set()).add(prefix[1:])
    parts = []
    for head, tails in sorted(heads.items()):
        rest = {tail for tail in tails if tail}
        # A prefix that ends here matches whatever follows: its longer ones add nothing.
        parts.append(re.escape(head) + ("" if "" in tails or not rest else f"(?:{_trie(rest)})"))
    return "|".join(parts)


def _phrase_index(
    phrases: Sequence[Phrase], alternatives: dict[str, tuple[str, ...]]
) -> tuple[str, dict[str, tuple[Phrase, ...]]]:
    """Where a phrase may start, and which cues to try there: the source of a scan for the first
    characters (up to ``PREFIX``) a phrase can start with, and the cues of each such
    start. A phrase whose first character is not known is tried at every word start."""
    by_prefix: dict[str, list[Phrase]] = {}
    for phrase in phrases:
        for alternative in alternatives[phrase[0]]:
            for prefix in _starts(_parser.parse(alternative), PREFIX) or {""}:
                cues = by_prefix.setdefault(prefix, [])
                if phrase not in cues:
                    cues.append(phrase)
    known = {prefix for prefix in by_prefix if prefix}
    scan = r"(?<![\w])" + ("" if "" in by_prefix else f"(?={_trie(known)})")
    return scan, {prefix: tuple(cues) for prefix, cues in by_prefix.items()}


_PHRASE_SCAN, _PHRASES_AT = _phrase_index(_PHRASES, {m.name: m.phrases for m in _MATCHERS})
_PHRASE_START = re.compile(_PHRASE_SCAN)
_PREFIX_LENGTHS = sorted({len(prefix) for prefix in _PHRASES_AT})
_WORD_CUES: dict[str, tuple[str, ...]] = {}
# The cues to try where a text continues with these (up to PREFIX) characters.
_TRIED_AT: dict[str, tuple[Phrase, ...]] = {}


def _tried_at(start: str) -> tuple[Phrase, ...]:
    """The cues with a phrase that may start with ``start``'s first 1 to PREFIX
    characters, shortest prefix first (the order ``_found`` tries them in)."""
    tried = _TRIED_AT.get(start)
    if tried is None:
        if len(_TRIED_AT) >= MAX_CACHED_WORDS:
            _TRIED_AT.clear()
        tried = _TRIED_AT[start] = tuple(
            cue for n in _PREFIX_LENGTHS for cue in _PHRASES_AT.get(start[:n], ())
        )
    return tried


def _cues_of_word(word: str) -> tuple[str, ...]:
    found = _WORD_CUES.get(word)
    if found is None:
        if len(_WORD_CUES) >= MAX_CACHED_WORDS:
            _WORD_CUES.clear()
        found = _WORD_CUES[word] = tuple(
            m.name
            for m in _MATCHERS
            if (m.starts is not None and m.starts.match(word))
            or (m.inside is not None and m.inside.search(word))
        )
    return found


def _found(text: str) -> Counter[str]:
    """How often each cue's alternatives occur in ``text``, as far as a feature needs to
    know (once, or twice for a category): a cue found among the words is not searched
    for again as a phrase. Phrases are tried only where the first characters of one of them
    stand (one scan of ``_PHRASE_START``), only the cues that have a phrase starting so,
    each cue from where its previous match ended: the counts of a ``finditer`` per cue
    (``test_classifier.py`` compares them)."""
    found: Counter[str] = Counter()
    known = _WORD_CUES.get
    for word in _WORD.findall(text):
        cues_of_word = known(word)
        if cues_of_word is None:
            cues_of_word = _cues_of_word(word)
        for name in cues_of_word:  # most words are no cue; no Counter.update per word
            found[name] = found.get(name, 0) + 1
    resume: dict[str, int] = {}  # cue -> where its next match may start
    known_starts = _TRIED_AT.get
    for start in _PHRASE_START.finditer(text):
        at = start.start()
        head = text[at : at + PREFIX]
        tried = known_starts(head)
        if tried is None:
            tried = _tried_at(head)
        for name, pattern, enough in tried:
            have = found.get(name, 0)
            if have >= enough or at < resume.get(name, 0):
                continue
            match = pattern.match(text, at)
            if match:
                found[name] = have + 1
                resume[name] = max(match.end(), at + 1)
    return found
