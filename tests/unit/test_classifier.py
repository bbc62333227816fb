"""The signal classifier (decisive rules + calibrated model), its text cleaning and its split.

Fast and broker-free. The example texts are written for these tests, not copied from the
labelled data set.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from schemas import Category, Kind, Urgency
from services.common.message_text import clean_text, report_content
from services.processor.classifier import (
    CLASSIFIER_VERSION,
    DEFAULT_MIN_CONFIDENCE,
    classify,
    classify_detailed,
    classify_many,
    classify_with,
    topic_profile,
)
from services.processor.classifier.evaluate import evaluate, format_report
from services.processor.classifier.features import CHAR_NGRAMS, char_terms
from services.processor.classifier.model import (
    Speller,
    _by_rounds,
    _by_sorting,
    classification_only_models,
    predict,
    train,
    trained_models,
)
from services.processor.classifier.split import (
    CLASSIFICATION,
    DEDUPE,
    held_out_rows,
    is_held_out,
    load_labelled,
    split_labelled,
    train_rows,
)

# The cross-author kind accuracy this version reaches (a model trained on the classification
# files only, scored on the dedupe set, written by another author): see CROSS_AUTHOR_* below,
# set a few rows under what it measured; a regression of more than a few rows fails.
CROSS_AUTHOR_MIN_ACCURACY = 0.85  # measured 0.872 (macro-F1 0.748)
CROSS_AUTHOR_HELD_OUT_MIN_ACCURACY = 0.84  # measured 0.879 (macro-F1 0.718)

# --- clean_text ---------------------------------------------------------------------------


def test_clean_text_leaves_a_chat_message_alone() -> None:
    chat = "my neighbour's wifi keeps dropping out, she's had enough.\ncan someone call her?"
    assert clean_text(chat) == chat


def test_clean_text_of_empty_text_is_empty() -> None:
    assert clean_text("") == ""
    assert clean_text(" \n\n ") == ""


def test_clean_text_drops_a_gmail_quote_and_the_closing() -> None:
    email = (
        "Hi Sam,\n\n"
        "My uncle's pension payment was sent back twice and he still has not been paid.\n"
        "He has called three times and nobody can tell him why. Please look into it.\n\n"
        "Kind regards,\n"
        "Priya Shah\n"
        "Team Lead, Payments Operations\n"
        "Tel: +44 20 7946 0011\n\n"
        "On Mon, 2 Mar 2026 at 09:14, Sam Okoro <sam.okoro@example.com> wrote:\n"
        "> Hi Priya, thanks, I passed it to the payments team.\n"
        "> Sam\n"
    )
    assert clean_text(email) == (
        "Hi Sam,\n\n"
        "My uncle's pension payment was sent back twice and he still has not been paid.\n"
        "He has called three times and nobody can tell him why. Please look into it."
    )


def test_clean_text_handles_a_wrapped_gmail_attribution() -> None:
    email = (
        "The replacement router for my sister never arrived, it has been three weeks now and "
        "she works from home, so she is using her phone as a hotspot every day.\n\n"
        "On Tue, 10 Feb 2026 at 18:03, Jo Bakker <jo.bakker@example.org>\n"
        "wrote:\n"
        "> It is on its way.\n"
    )
    assert clean_text(email).endswith("as a hotspot every day.")


def test_clean_text_drops_a_dutch_gmail_quote() -> None:
    email = (
        "Hoi Lotte,\n\n"
        "Mijn schoonvader heeft nog steeds geen nieuwe pinpas ontvangen, terwijl die vorige "
        "week al zou komen. Hij kan nu geen boodschappen betalen. Kun je nog eens kijken?\n\n"
        "Met vriendelijke groet,\n"
        "Joris de Vries\n"
        "Adviseur Particulieren\n"
        "06-12345678\n\n"
        "Op wo 4 mrt. 2026 om 11:20 schreef Lotte Smit <lotte.smit@example.nl>:\n"
        "> Hoi Joris, ik heb de pas opnieuw aangevraagd.\n"
        "> Groet, Lotte\n"
    )
    cleaned = clean_text(email)
    assert cleaned.startswith("Hoi Lotte,")
    assert cleaned.endswith("Kun je nog eens kijken?")
    assert "schreef" not in cleaned and "Joris de Vries" not in cleaned


def test_clean_text_drops_an_outlook_reply_header_block() -> None:
    email = (
        "Thanks Mark. The customer is still without heating after the second engineer visit "
        "and the house is freezing; she has two small children and wants someone there today.\n\n"
        "From: Mark Evans <mark.evans@example.com>\n"
        "Sent: Thursday, 5 February 2026 10:02\n"
        "To: Ana Lopez <ana.lopez@example.com>\n"
        "Subject: RE: boiler\n\n"
        "Hi Ana, the engineer has been booked for Friday.\n"
    )
    cleaned = clean_text(email)
    assert cleaned.endswith("wants someone there today.")
    assert "engineer has been booked" not in cleaned


def test_clean_text_drops_a_dutch_outlook_original_message() -> None:
    email = (
        "Beste Karin,\n\n"
        "De hypotheekofferte van mijn neef is verlopen omdat de taxatie drie weken bij ons "
        "bleef liggen. Hij moet nu een hogere rente betalen en is daar erg boos over.\n\n"
        "-----Oorspronkelijk bericht-----\n"
        "Van: Karin Mulder <karin.mulder@example.nl>\n"
        "Verzonden: dinsdag 3 maart 2026 14:05\n"
        "Aan: Pieter Bos <pieter.bos@example.nl>\n"
        "Onderwerp: RE: taxatie neef\n\n"
        "Hoi Pieter, de taxatie is doorgezet naar de acceptatie.\n"
    )
    cleaned = clean_text(email)
    assert cleaned.endswith("is daar erg boos over.")
    assert "Oorspronkelijk" not in cleaned and "acceptatie" not in cleaned


def test_clean_text_drops_an_english_original_message_separator() -> None:
    email = (
        "Her direct debit was taken twice this month and she wants the second one refunded, "
        "she is on a pension and it left her overdrawn for a week.\n\n"
        "-----Original Message-----\n"
        "From: Billing <billing@example.com>\n"
        "Sent: 1 March 2026 08:00\n"
        "Subject: Your bill\n\n"
        "Your bill is ready.\n"
    )
    assert clean_text(email).endswith("overdrawn for a week.")


def test_clean_text_keeps_a_forwarded_message_when_the_new_text_is_empty() -> None:
    email = (
        "---------- Forwarded message ---------\n"
        "From: Dina Haddad <dina.h@example.org>\n"
        "Date: Sat, 7 Mar 2026 at 21:40\n"
        "Subject: my card\n"
        "To: Tom Reed <tom.reed@example.com>\n\n"
        "Tom, my card was declined at three shops today and the app says it is blocked. "
        "I have no other way to pay for groceries this weekend.\n"
        "Dina\n"
    )
    cleaned = clean_text(email)
    assert "my card was declined at three shops today" in cleaned
    assert "From:" not in cleaned and "Date:" not in cleaned


def test_clean_text_keeps_a_forwarded_outlook_message_under_a_tiny_note() -> None:
    email = (
        "FYI, can someone pick this up?\n\n"
        "Sent from my iPhone\n\n"
        "From: Lena Vos <lena.vos@example.nl>\n"
        "Sent: Friday, 6 March 2026 19:12\n"
        "To: Bram de Wit <bram.dewit@example.nl>\n"
        "Subject: FW: internet\n\n"
        "Bram, our internet has been down for five days and nobody has come. "
        "I work from home and cannot do my job.\n"
    )
    cleaned = clean_text(email)
    assert cleaned.startswith("FYI, can someone pick this up?")
    assert "internet has been down for five days" in cleaned
    assert "iPhone" not in cleaned


def test_clean_text_keeps_an_apple_mail_forward() -> None:
    email = (
        "Begin forwarded message:\n\n"
        "> From: Omar <omar@example.org>\n"
        "> Date: 2 March 2026 at 20:14\n"
        "> Subject: loan\n"
        "> I would like to borrow 20k for a new kitchen, can someone call me?\n"
    )
    assert (
        clean_text(email)
        == "loan\nI would like to borrow 20k for a new kitchen, can someone call me?"
    )


def test_clean_text_drops_quoted_lines_below_new_text() -> None:
    chat = (
        "still no answer about my dad's claim, it has been six weeks and he is fed up with it.\n"
        "> any news on the claim?\n"
        "> not yet\n"
    )
    assert clean_text(chat) == (
        "still no answer about my dad's claim, it has been six weeks and he is fed up with it."
    )


def test_clean_text_drops_a_signature_after_the_delimiter() -> None:
    email = (
        "A friend wants a quote for home insurance for her new flat in Leeds.\n"
        "-- \n"
        "Rob Hill | Branch Advisor | 555-0100\n"
        "Leeds Central\n"
    )
    assert clean_text(email) == (
        "A friend wants a quote for home insurance for her new flat in Leeds."
    )


@pytest.mark.parametrize(
    "device_line",
    ["Sent from my iPhone", "Verstuurd vanaf mijn iPhone", "Sent from Outlook for Android"],
)
def test_clean_text_drops_device_signatures(device_line: str) -> None:
    email = f"Mijn buurman wil graag een offerte voor zonnepanelen.\n\n{device_line}"
    assert clean_text(email) == "Mijn buurman wil graag een offerte voor zonnepanelen."


@pytest.mark.parametrize(
    "disclaimer",
    [
        "Dit e-mailbericht is uitsluitend bestemd voor de geadresseerde(n). Als u dit bericht "
        "onterecht ontvangt, wordt u verzocht de inhoud niet te gebruiken.",
        "This e-mail and any attachments are confidential and may be privileged. If you are "
        "not the intended recipient, please notify the sender and delete it.",
    ],
)
def test_clean_text_drops_legal_disclaimers(disclaimer: str) -> None:
    email = (
        "Mijn zus heeft al twee weken geen internet en de monteur komt steeds niet.\n\n"
        "Met vriendelijke groet,\n"
        "Anne Kok\n"
        "Medewerker Klantcontact\n\n"
        f"{disclaimer}\n"
    )
    assert clean_text(email) == (
        "Mijn zus heeft al twee weken geen internet en de monteur komt steeds niet."
    )


def test_clean_text_keeps_prose_after_a_thank_you_line() -> None:
    email = (
        "Thank you.\n"
        "My aunt still cannot log in to the app since the update, and she has tried to reset "
        "her password four times without getting the email.\n"
    )
    assert "cannot log in to the app" in clean_text(email)


def test_clean_text_drops_stacked_closings() -> None:
    email = (
        "Mijn neef wil een hypotheekgesprek, hij is op woensdag bereikbaar.\n\n"
        "Bij voorbaat dank!\n\n"
        "Met hartelijke groet,\n"
        "Linda\n"
    )
    assert clean_text(email) == "Mijn neef wil een hypotheekgesprek, hij is op woensdag bereikbaar."


# --- report_content: the relay's wrapping ----------------------------------------------


def test_report_content_drops_the_wrapping_of_a_relayed_report() -> None:
    report = (
        "Subject: Broadband down\n\n"
        "Hi team,\n\n"
        "Not really my department, but passing it on anyway.\n\n"
        "My cousin's broadband has been down since the weekend.\n\n"
        "Customer details: Tom Baker, +44 7700 900456, tom.baker@example.org\n\n"
        "Who can pick this up?"
    )
    assert (
        report_content(report)
        == "Broadband down\n\nMy cousin's broadband has been down since the weekend."
    )


def test_report_content_drops_a_tool_tag_a_form_label_and_a_contact_field() -> None:
    report = (
        "[Meld-widget] Onderwerp: Storing / Omschrijving: Bij mijn tante doet de tv het niet. "
        "| klant: A. de Boer, 06 1234 9876"
    )
    assert report_content(report) == "Storing / Bij mijn tante doet de tv het niet."


def test_report_content_keeps_what_the_customer_wants() -> None:
    # A contact field that is a sentence is kept; so is a callback the customer asked for.
    text = "Klant: wil een offerte voor zonnepanelen en wil graag teruggebeld worden."
    assert report_content(text) == text
    assert report_content("Thanks!") == "Thanks!"  # nothing would be left: unchanged


def test_a_case_insensitive_pattern_matches_alike_in_ascii_and_other_text() -> None:
    """ASCII text is searched lower-cased without IGNORECASE (quicker); the result is what
    the pattern with IGNORECASE gives, in ASCII text and in other text."""
    from services.common import message_text

    texts = [
        "THANK YOU",
        "Could Someone CALL her? Thanks!",
        "Klant: J. Jansen | KLANT: wil een offerte",
        "Kunt u hier even naar kijken? Bedankt",
        "Müller: Could someone call her? Thanks \U0001f600",
        "ſo could someone call her? THANKS",  # a long s: not ASCII, IGNORECASE as before
    ]
    patterns = {
        "relay": (message_text._RELAY_PHRASES, " "),
        "thanks": (message_text._TRAILING_THANKS, ""),
        "contact": (message_text._CONTACT_FIELD, message_text._drop_contact_field),
    }
    for pattern, repl in patterns.values():
        for text in texts:
            expected = pattern.ignoring_case.sub(
                repl if isinstance(repl, str) else lambda m, r=repl: r(m.group(0), m), text
            )
            assert pattern.sub(repl, text) == expected, text
    assert message_text._TRAILING_THANKS.sub("", "Call her back. THANKS!") == "Call her back. "


def test_the_trailing_thanks_are_looked_for_in_the_last_word_only() -> None:
    """The search for thanks at the end of a report starts just before its last word; it
    removes what a search of the whole text removes."""
    from services.common import message_text

    endings = [
        "thanks", "Thank you", "CHEERS", "thx", "ta", "bedankt", "dank je", "Dank jewel",
        "groetjes", "say thanks", "dank jewel!!", "thanks .\n", "thanks \t! ", "thanks \U0001f600",
        "ta.\n\n", "x ta", "thanks a lot", "metta", "",
    ]  # fmt: skip
    for ending in endings:
        text = f"Her card was blocked. {ending}".strip()
        everywhere = message_text._TRAILING_THANKS.ignoring_case.sub("", text)
        assert message_text._without_trailing_thanks(text) == everywhere, ending


# --- spelling slips -------------------------------------------------------------------------


def test_the_speller_undoes_swapped_doubled_and_missing_letters() -> None:
    speller = Speller.of(["no connection since the storm", "mijn schoonmoeder belt"])
    assert speller.correct("No connectoin since the sotrm") == "No connection since the storm"
    assert speller.correct("mijn schoonnmoeder") == "mijn schoonmoeder"
    assert speller.correct("no conection") == "no connection"


def test_the_speller_leaves_known_short_and_far_off_words_alone() -> None:
    speller = Speller.of(["the storm damaged the roof"], lexicon=["leaking"])
    assert speller.correct("The roof is leaknig") == "The roof is leaking"
    assert speller.correct("the strom") == "the storm"
    assert speller.correct("teh roof") == "teh roof"  # too short to guess
    assert speller.correct("a hurricane") == "a hurricane"  # no known word one slip away


def test_the_fast_char_ngrams_equal_scikit_learns() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    theirs = TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS).build_analyzer()
    for text in ["", "a", "ab c", "  geen  verbinding\tsinds 8 uur ", "Ãœber straße".lower()]:
        assert char_terms(text) == theirs(text)


# --- classify: clear cases ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "language"),
    [
        (
            "The broadband at my parents' place has been down since Monday and the engineer "
            "visit got cancelled twice.",
            Kind.complaint,
            "en",
        ),
        (
            "My neighbour's home insurance claim for the flooded cellar was turned down and "
            "nobody explained why.",
            Kind.complaint,
            "en",
        ),
        (
            "Mijn zwager wordt al weken aan het lijntje gehouden over zijn schadeclaim, "
            "niemand belt terug.",
            Kind.complaint,
            "nl",
        ),
        (
            "Buurman krijgt al twee maanden een te hoge energierekening, het voorschot is "
            "verdubbeld zonder uitleg.",
            Kind.complaint,
            "nl",
        ),
        (
            "A friend runs a bakery and wants a card terminal from us, his current provider "
            "charges too much.",
            Kind.opportunity,
            "en",
        ),
        (
            "Neighbour asked for a quote for solar panels and a home battery, happy to be "
            "called on Thursday.",
            Kind.opportunity,
            "en",
        ),
        (
            "Kennis van me heeft een kapperszaak en wil overstappen naar ons voor zijn "
            "zakelijke rekening.",
            Kind.opportunity,
            "nl",
        ),
        (
            "Mijn oom is geïnteresseerd in een warmtepomp en wil graag teruggebeld worden.",
            Kind.opportunity,
            "nl",
        ),
        (
            "my laptop won't connect to the VPN this morning, who should I call?",
            Kind.other,
            "en",
        ),
        (
            "Just wanted to say my dad was really happy with the lady at the Leeds branch, "
            "no action needed.",
            Kind.other,
            "en",
        ),
        (
            "Mijn Outlook blijft hangen bij het openen van een bijlage, kan iemand van IT helpen?",
            Kind.other,
            "nl",
        ),
        (
            "Idee: een QR-code op de folder zodat mensen direct een afspraak kunnen maken.",
            Kind.other,
            "nl",
        ),
    ],
)
def test_clear_signals_get_their_kind_with_enough_confidence(
    text: str, kind: Kind, language: str
) -> None:
    result = classify(text)
    assert result.kind is kind, result.reasons
    assert result.confidence >= DEFAULT_MIN_CONFIDENCE, result.reasons
    assert result.language == language
    # The classifier's version, and the model file's when one is loaded.
    assert result.classifier_version.split("+")[0] == CLASSIFIER_VERSION
    assert any(
        reason.startswith(f"model: {result.kind.value}") or "-> " in reason
        for reason in result.reasons
    )


@pytest.mark.parametrize(
    "text",
    [
        "Automatic reply: I am out of the office until Monday with no access to email.",
        "Automatisch antwoord: ik ben afwezig tot en met vrijdag. Voor dringende zaken kunt u "
        "mijn collega bellen.",
    ],
)
def test_an_auto_reply_is_other_with_high_confidence_and_says_why(text: str) -> None:
    result = classify(text, channel="email")
    assert result.kind is Kind.other
    assert result.confidence >= 0.9
    assert result.category is Category.other
    assert result.urgency is Urgency.low
    assert "rule: auto-reply or out-of-office -> other" in result.reasons


def test_bulk_mail_cues_are_decisive_only_for_email() -> None:
    text = "Automatic reply: I am on annual leave until 3 April and will reply when I am back."
    by_email = classify(text, channel="email")
    by_chat = classify(text, channel="chat")
    assert by_email.confidence == 0.97
    assert by_chat.kind is Kind.other
    assert by_chat.confidence != by_email.confidence


def test_spam_and_newsletters_are_other() -> None:
    spam = "Congratulations! You have won a prize. Pay the processing fee to claim your prize."
    news = (
        "Branch news, March edition. In this issue: new opening hours. Click here to unsubscribe."
    )
    assert classify(spam).kind is Kind.other
    assert classify(news).kind is Kind.other


def test_reasons_name_the_model_and_a_decisive_rule() -> None:
    result = classify("Her card was charged twice for the same purchase and she wants a refund.")
    assert result.kind is Kind.complaint
    assert result.reasons[0].startswith("model: complaint ")
    assert not any(reason.startswith("rule: ") for reason in result.reasons)
    auto_reply = classify("Automatic reply: I am out of the office until Monday.", None, "email")
    assert auto_reply.kind is Kind.other
    assert auto_reply.reasons[0] == "rule: auto-reply or out-of-office -> other"
    assert auto_reply.reasons[1].startswith("model: ")


def test_anger_at_another_provider_plus_switching_is_a_lead() -> None:
    text = "My friend is fed up with her current energy supplier and wants to switch to us."
    assert classify(text).kind is Kind.opportunity


@pytest.mark.parametrize(
    "text",
    [
        "Fwd from the chat bot: no connection at my nan's flat since about 7 this morning. "
        "When will this be fixed? Customer: R. Patel, 07700 900321. Pls call back",
        "His monthly electricity instalment was raised from 90 to 150 euros with no clear "
        "reason, he actually uses less now. Could someone get in touch with him?",
        "After last night's storm my uncle has damage to his garden wall and a broken window. "
        "How does he report this the fastest? Water is coming in through the frame.",
        "Onderwerp: Stroomstoring / Omschrijving: Mijn buurvrouw zit sinds vanochtend "
        "zonder stroom. | klant: J. Smit, 06 1234 1122",
        "Stormschade bij mijn zwager: er lekt water naar binnen via het dak. Hoe meldt hij "
        "dit het snelst? Zouden jullie contact met hem willen opnemen?",
        "Pinnen werkt niet bij mijn oom sinds vanmiddag, hij moest zijn boodschappen laten "
        "staan. Wanneer is dit opgelost?",
        "No conection for my nieghbour since 9 am, wehn will this be fixed?",
    ],
)
def test_outages_charges_and_damage_are_complaints_however_they_are_relayed(text: str) -> None:
    result = classify(text)
    assert result.kind is Kind.complaint, result.reasons


@pytest.mark.parametrize(
    "text",
    [
        "Her internet has been down since yesterday, can someone call her back?",
        "Mijn broer zijn pas is gestolen en blokkeren lukt niet online. Graag even bellen.",
    ],
)
def test_a_callback_request_alone_does_not_make_a_lead(text: str) -> None:
    result = classify(text)
    assert result.kind is Kind.complaint, result.reasons


def test_a_request_to_arrange_a_payment_plan_is_neither_complaint_nor_lead() -> None:
    result = classify("My neighbour asks whether her final bill can be paid in instalments.")
    assert result.kind is Kind.other, result.reasons


def test_a_blocked_card_abroad_is_a_card_complaint() -> None:
    # The old rules made this urgent; the urgency head (0.85 on held-out rows) says normal.
    result = classify("My sister is stuck abroad, her card got blocked and she has no cash left.")
    assert result.kind is Kind.complaint
    assert result.category is Category.payments_cards


def test_urgency_no_heating_is_high() -> None:
    result = classify("Mijn oma van 90 zit sinds gisteren zonder verwarming en het vriest.")
    assert result.kind is Kind.complaint
    assert result.urgency is Urgency.high


def test_urgency_of_vague_interest_is_low() -> None:
    result = classify("My uncle might look at a mortgage with us next year, nothing concrete yet.")
    assert result.kind is Kind.opportunity
    assert result.urgency is Urgency.low
    assert result.category is Category.mortgage_loans


def test_classify_cleans_the_text_first() -> None:
    # The new text says the matter is closed; the quoted older complaint must not count.
    email = (
        "Update: it has been sorted, she is happy now. No action needed, thanks!\n\n"
        "On Mon, 9 Mar 2026 at 10:00, Kim <kim@example.org> wrote:\n"
        "> Her internet has been down for a week and she is furious, she wants a refund.\n"
    )
    assert classify(email).kind is Kind.other


# --- classify: low confidence -------------------------------------------------------------


def test_empty_text_goes_to_triage() -> None:
    result = classify("   ")
    assert result.kind is Kind.other
    assert result.confidence == 0.0
    assert result.reasons == ["no text to classify"]


@pytest.mark.parametrize("text", ["ok", "see above", "belde net"])
def test_too_little_text_gets_low_confidence(text: str) -> None:
    result = classify(text)
    assert result.confidence < DEFAULT_MIN_CONFIDENCE
    assert any(reason.startswith("too short to judge") for reason in result.reasons)


def test_confidence_stays_in_range_and_classification_is_deterministic() -> None:
    text = "Buurvrouw is boos, haar factuur klopt niet, maar ze wil ook glasvezel bij ons."
    results = [classify(text, "nl") for _ in range(3)]
    assert all(r == results[0] for r in results)
    assert 0.0 <= results[0].confidence <= 1.0
    assert results[0].language == "nl"


# --- split, training, held-out evaluation -------------------------------------------------


def test_split_is_deterministic_and_has_no_overlap() -> None:
    rows = load_labelled()
    ids = [row.id for row in rows]
    assert len(ids) == len(set(ids))
    train_ids = {row.id for row in train_rows()}
    held_ids = {row.id for row in held_out_rows()}
    assert not train_ids & held_ids
    assert train_ids | held_ids == set(ids)
    assert [is_held_out(i) for i in ids] == [is_held_out(i) for i in ids]
    assert 0.15 < len(held_ids) / len(ids) < 0.35
    assert {row.language for row in held_out_rows()} == {"nl", "en"}
    assert {row.source for row in held_out_rows()} == {CLASSIFICATION, DEDUPE}


def test_the_classification_files_are_split_by_id() -> None:
    train, held = split_labelled((CLASSIFICATION,))
    assert all(not is_held_out(row.id) for row in train)
    assert all(is_held_out(row.id) for row in held)
    assert {row.source for row in train + held} == {CLASSIFICATION}


def test_the_dedupe_set_is_split_by_case_so_near_copies_never_leak() -> None:
    train, held = split_labelled((DEDUPE,))
    train_cases = {row.case for row in train}
    held_cases = {row.case for row in held}
    assert None not in train_cases | held_cases
    assert not train_cases & held_cases
    assert 0.15 < len(held_cases) / len(train_cases | held_cases) < 0.35
    assert all(row.urgency is None and row.source == DEDUPE for row in train + held)


def test_the_model_is_trained_on_the_train_split_only() -> None:
    assert trained_models().n_rows == len(train_rows())
    assert classification_only_models().n_rows == len(train_rows((CLASSIFICATION,)))


def test_training_is_deterministic() -> None:
    from services.common.message_text import clean_text as clean

    rows = train_rows()[:120]
    first, second = train(rows, clean=clean), train(rows, clean=clean)
    text = "She wants her money back for the broken router."
    assert predict(first, text) == predict(second, text)
    assert classify_with(first, text) == classify_with(second, text)


def test_the_fast_scoring_path_equals_the_fitted_estimators() -> None:
    """Head.probabilities is what scikit-learn's fitted estimators predict: the calibrated
    kind head (temperature scaling, grouped folds) and a plain head."""
    from sklearn.calibration import CalibratedClassifierCV

    from services.processor.classifier import model

    rows = train_rows()[:200]
    texts = [model.prepare(model.report_text(row.text)) for row in rows]
    languages = [row.language for row in rows]
    features = model.fit_features(
        texts, languages, word_min_df=2, char_min_df=2, cue_scale=0.5, negation=True
    )
    x = features.matrix(texts, languages)
    labels = [row.kind for row in rows]
    groups = [row.split_key for row in rows]
    head = model.fit_calibrated_head(x, labels, groups, 4.0, 1e-3, 4)
    fitted = CalibratedClassifierCV(
        model._logistic(4.0, 1e-3),
        method="temperature",
        cv=model._group_folds(labels, groups, 4),
        ensemble=False,
    ).fit(x, labels)
    assert head.classes == tuple(fitted.classes_)
    assert head.probabilities(x) == pytest.approx(fitted.predict_proba(x), abs=1e-9)
    plain = model.fit_head(x, [row.category for row in rows], 10.0, 1e-3)
    reference = model._logistic(10.0, 1e-3).fit(x, [row.category for row in rows])
    assert plain.probabilities(x) == pytest.approx(reference.predict_proba(x), abs=1e-9)


def test_a_batch_classifies_each_signal_as_alone() -> None:
    texts = [
        ("Her card was declined twice today.", None, "chat"),
        ("Mijn buurman wil een offerte voor zonnepanelen.", "nl", "form"),
        ("Automatic reply: I am out of the office until Monday.", None, "email"),
        ("  ", None, None),
    ]
    together = classify_many(texts)
    assert together == [classify_detailed(*item) for item in texts]
    assert [c.kind for c, _ in together[:3]] == [Kind.complaint, Kind.opportunity, Kind.other]


@pytest.fixture(scope="module")
def report() -> dict:
    return evaluate()


def test_held_out_figures_do_not_regress(report: dict) -> None:
    """Set a few rows under what this version measures (macro-F1 0.856: nl 0.895, en 0.814;
    7.7% to triage, 93.5% of the rest right); the targets of issue #9 (0.90, 12%, 97%) are
    not reached, see /work/coord/readme-classifier.md."""
    combined = report["sets"]["combined"]
    kind = combined["kind"]
    text = format_report(report)
    assert report["held_out_rows"] == len(held_out_rows()) == combined["n"]
    assert kind["overall"]["macro_f1"] >= 0.83, text
    assert kind["nl"]["macro_f1"] >= 0.86, text
    assert kind["en"]["macro_f1"] >= 0.78, text
    assert combined["routed_accuracy"] >= 0.91, text
    assert combined["triage_fraction"] <= 0.12, text
    assert report["kind"] == kind  # the top-level keys are those of the combined set
    assert "macro-F1" in text and "cross-author" in text


def test_each_held_out_source_is_reported(report: dict) -> None:
    sets = report["sets"]
    assert sets["classification"]["n"] + sets["dedupe"]["n"] == sets["combined"]["n"]
    assert sets["classification"]["kind"]["overall"]["macro_f1"] >= 0.82, format_report(report)
    assert sets["dedupe"]["kind"]["overall"]["accuracy"] >= 0.91, format_report(report)
    assert sets["dedupe"]["urgency_accuracy"] is None  # the dedupe set rates no urgency


def test_cross_author_kind_accuracy_does_not_regress(report: dict) -> None:
    """Trained on one author's reports, judged on another's: the figure that matters."""
    sets = report["sets"]
    whole, held = sets["cross_author"], sets["cross_author_held_out"]
    assert whole["n"] == len(load_labelled((DEDUPE,)))
    assert held["n"] == sets["dedupe"]["n"]
    assert whole["kind"]["overall"]["accuracy"] >= CROSS_AUTHOR_MIN_ACCURACY, format_report(report)
    assert held["kind"]["overall"]["accuracy"] >= CROSS_AUTHOR_HELD_OUT_MIN_ACCURACY, format_report(
        report
    )


# --- topic profile ----------------------------------------------------------------------------


def test_topic_profile_is_a_distribution_over_the_categories() -> None:
    profile = topic_profile("Mijn buurman zit sinds gisteren zonder internet en tv.")
    assert set(profile) == {category.value for category in Category}
    assert sum(profile.values()) == pytest.approx(1.0)
    assert all(0.0 <= p <= 1.0 for p in profile.values())
    assert max(profile, key=profile.__getitem__) == "internet_telecom"


def test_topic_profile_of_a_card_text_puts_most_mass_on_payments_cards() -> None:
    profile = topic_profile(
        "Her debit card was declined at the till twice today and the contactless payment "
        "failed as well.",
        channel="chat",
    )
    assert max(profile, key=profile.__getitem__) == "payments_cards"
    assert profile["payments_cards"] > 0.5


def test_topic_profile_of_empty_text_is_all_other() -> None:
    assert topic_profile("  ") == {
        category.value: float(category is Category.other) for category in Category
    }


def test_classify_detailed_returns_the_classification_and_the_profile() -> None:
    text = "Neighbour wants a quote for a heat pump, please call her about it."
    classification, profile = classify_detailed(text, None, "form")
    assert classification == classify(text, None, "form")
    assert profile == topic_profile(text, "form")


# --- cues: the one-scan phrase search counts what a search per cue counts ------------------


def _found_one_cue_at_a_time(text: str) -> Counter[str]:
    """The plain way: every word through the per-word cues, then a finditer per cue."""
    from services.processor.classifier import cues

    found: Counter[str] = Counter()
    for word in cues._WORD.findall(text):
        found.update(cues._cues_of_word(word))
    for name, pattern, enough in cues._PHRASES:
        have = found[name]
        if have >= enough:
            continue
        for _ in pattern.finditer(text):
            have += 1
            if have >= enough:
                break
        if have:
            found[name] = have
    return found


def test_the_phrase_scan_counts_what_a_search_per_cue_counts() -> None:
    from services.processor.classifier import cues, model, rules

    texts = [rules.normalise(model.report_text(row.text)).lower() for row in load_labelled()]
    texts += [
        "not working, not working and still not working: my card, her card, their cards",
        "geen verbinding geen verbinding. de pinpas van mijn buurman werkt niet meer",
        "",
        "a" * 50,
    ]
    for text in texts:
        assert cues._found(text) == _found_one_cue_at_a_time(text), text


def test_top_terms_are_the_same_by_sorting_and_by_rounds() -> None:
    """A batch's top terms come from one sort of the pushing entries when they are few and
    from rounds of each row's strongest push when they are many: both choose alike."""

    rng = np.random.default_rng(7)
    for rows, width in ((1, 40), (5, 30), (64, 300)):
        lengths = rng.integers(0, width, rows)
        row = np.repeat(np.arange(rows), lengths)
        # Few distinct values: ties, broken by the place in the row.
        push = rng.integers(-3, 6, len(row)).astype(float)
        pushing = np.flatnonzero(push > 0)
        by_sorting = _by_sorting(push, row, pushing)
        by_rounds = _by_rounds(push, row, pushing)
        assert by_sorting.tolist() == sorted(
            by_rounds.tolist(), key=lambda e: (row[e], -push[e], e)
        )
        for i in range(rows):
            mine = [int(e) for e in pushing if row[e] == i]
            strongest = sorted(mine, key=lambda e: (-push[e], e))[:3]
            assert [int(e) for e in by_sorting if row[e] == i] == strongest


def test_the_speller_finds_a_left_out_letter_as_trying_every_letter_would() -> None:
    """The index of known words with a letter left out finds what putting each letter of
    the alphabet back in each place finds."""
    speller = Speller.of(
        [
            "connection colleague schoonmoeder afschrijving zonnepanelen klantenservice "
            "overstappen overstap ëénmalig geïnteresseerd storingen storing"
        ]
    )
    alphabet = "abcdefghijklmnopqrstuvwxyzëéïöü"
    for known in speller.counts:
        for i in range(len(known)):
            slip = known[:i] + known[i + 1 :]
            if len(slip) < 6:
                continue
            splits = [(slip[:j], slip[j:]) for j in range(len(slip) + 1)]
            every = {a + c + b for a, b in splits for c in alphabet}
            every |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
            every |= {a + b[1:] for a, b in splits if a and b and a[-1] == b[0]}
            expected = {w for w in every - {slip} if w in speller.counts}
            assert set(speller._slips_undone(slip)) == expected, slip
