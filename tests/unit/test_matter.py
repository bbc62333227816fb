from __future__ import annotations

import pytest

from services.processor.domain.matter import (
    MAX_TERMS,
    amounts,
    details,
    is_chaser,
    matter_of,
    mentions_of,
    name_words,
    term_overlap,
    terms_of,
)


@pytest.mark.parametrize(
    "text",
    [
        "Has anyone called him back yet?",
        "has anybody contacted mrs Smit already?",
        "Any news on the Baker case?",
        "Did someone get back to her? She is still waiting for a callback.",
        "Still nothing heard, can someone look at it",
        "Following up on my report about the solar panels",
        "Al iets gehoord over mevrouw Jansen?",
        "Is hij al teruggebeld?",
        "Heeft iemand al contact gehad met meneer De Vries?",
        "Nog niks gehoord van jullie over mijn buurman",
        "Hoe staat het met de melding van vorige week?",
        "Zoals eerder gemeld: de pas van mijn tante is nog steeds niet binnen",
        "Nog even over die dubbele afschrijving van mijn buurvrouw",
    ],
)
def test_chasers_in_dutch_and_english(text: str) -> None:
    assert is_chaser(text)


@pytest.mark.parametrize(
    "text",
    [
        "has he been contacted yet?",
        "Has she been called back? Mrs Smith",
        "anyone picked this up yet? (Jansen)",
        "did anyone follow up with Mrs Smith",
        "any luck reaching Mrs Smith?",
        "still waiting on a callback for Mrs Smith",
        "no one has called her yet",
        "she hasn't been called yet",
        "he still hasnt heard anything",
        "when will someone call Smith back?",
        "who is handling the Smith case?",
        "nog iets gehoord over mevrouw De Vries?",
        "wordt meneer Bakker nog gebeld?",
        "wanneer wordt Jansen teruggebeld?",
        "hoe zit het met de klacht van Jansen?",
        "Is iemand al met Jansen bezig?",
        "niemand heeft haar nog gebeld",
        "nog altijd niet teruggebeld, mevr. Jansen",
    ],
)
def test_chasers_in_other_words_and_chat_shorthand(text: str) -> None:
    """Phrasings the first pattern missed (issue #9): each asks after an earlier report."""
    assert is_chaser(text)


@pytest.mark.parametrize(
    "text",
    [
        "Her card was declined twice today",
        "Mijn buurvrouw heeft een herinnering met aanmaningskosten gekregen",  # a dunning letter
        "My brother got an unjustified reminder plus collection costs",
        "Friend asked how interest is calculated. Explained it, no follow up needed.",
        "Wil graag een offerte voor zonnepanelen, bel haar morgen",
        "The app closes after entering the PIN",
        "My brother waited at home for nothing: nobody called to cancel",
        "She keeps being called by the debt collector",
        "Ze wordt steeds gebeld door een incassobureau",
        "Ze was beloofd dat ze teruggebeld zou worden, maar niemand heeft gebeld",
        "How is interest calculated? Hoe zit het met de rente?",
    ],
)
def test_reports_that_chase_nothing(text: str) -> None:
    assert not is_chaser(text)


def test_terms_are_content_words_and_amounts_without_the_customer_s_name() -> None:
    text = "Lotte Verhoeven wil €3.900 extra aflossen op haar hypotheek; graag even bellen."
    terms = terms_of(text, name_words("Verhoeven, Lotte"))
    assert terms == {"3900", "€3900", "extra", "afloss", "hypoth"}
    assert terms_of("aflossing van 3900 euro") >= {"afloss", "3900"}


def test_terms_are_few_whatever_the_text() -> None:
    text = " ".join(f"w{i:05d}x" for i in range(5000))
    assert len(terms_of(text)) == MAX_TERMS


def test_term_overlap_is_over_the_shorter_report() -> None:
    assert term_overlap({"a", "b"}, {"a", "b", "c", "d"}) == 1.0
    assert term_overlap({"a", "b"}, {"c"}) == 0.0
    assert term_overlap(set(), {"c"}) == 0.0


def test_a_chaser_mentions_the_phones_mails_and_names_in_its_text() -> None:
    text = "Heeft iemand mevr. De Vries (06-12345678, anna@example.nl) al gebeld? KPN zegt niks"
    assert set(mentions_of(text)) == {
        "phone:612345678",
        "email:anna@example.nl",
        "name:fries",
    }
    assert matter_of(text).mentions and not matter_of("Her card was declined, 0612345678").mentions


def test_details_are_amounts_and_numbers_not_years_ages_or_the_phone() -> None:
    terms = terms_of("Sinds maart 2026 €86,51 en 3.900 euro; hij is 85; bel 06 1234 1537")
    assert details(terms) == {"8651", "3900"}
    assert details({"8651", "1234"}, ["612341234"]) == {"8651"}


def test_sums_of_money_are_marked_among_the_terms() -> None:
    terms = terms_of("€86,51 en EUR 3.900, 245 euro, £1,250.00; om 14.30 op 12.03, ref 48213")
    assert amounts(terms) == {"€8651", "€3900", "€245", "€125000"}
    assert {"1430", "48213"} <= details(terms)
