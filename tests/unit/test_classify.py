from __future__ import annotations

import pytest

from schemas import Category, Kind, Urgency
from services.processor.domain.classify import (
    CLASSIFIER_VERSION,
    category_of,
    classify,
    urgency_of,
)
from services.processor.domain.language import detect_language
from services.processor.domain.route import route
from services.processor.settings import ProcessorSettings

MIN_CONFIDENCE: float = ProcessorSettings.model_fields["min_confidence"].default


def test_threshold_is_the_processor_default() -> None:
    assert MIN_CONFIDENCE == 0.6


@pytest.mark.parametrize(
    ("text", "kind", "language"),
    [
        (
            "Her internet is broken again and she is furious, this is unacceptable.",
            Kind.complaint,
            "en",
        ),
        (
            "The customer was charged twice for the same invoice and wants a refund.",
            Kind.complaint,
            "en",
        ),
        ("Mijn buurvrouw is boos: haar pinpas is al een week geblokkeerd.", Kind.complaint, "nl"),
        ("De klant heeft een klacht, de verwarming werkt nog steeds niet.", Kind.complaint, "nl"),
        (
            "He is interested in solar panels and would like a quote for his roof.",
            Kind.opportunity,
            "en",
        ),
        (
            "She wants to switch to us for her energy contract, please call her back tomorrow.",
            Kind.opportunity,
            "en",
        ),
        (
            "De klant heeft interesse in zonnepanelen en wil graag een offerte.",
            Kind.opportunity,
            "nl",
        ),
        (
            "Hij wil overstappen naar ons voor zijn hypotheek, graag terugbellen.",
            Kind.opportunity,
            "nl",
        ),
    ],
)
def test_clear_signals_get_the_right_kind_with_enough_confidence(text, kind, language) -> None:
    result = classify(text)
    assert result.kind is kind
    assert result.confidence >= MIN_CONFIDENCE
    assert result.language == language
    assert result.classifier_version == CLASSIFIER_VERSION
    assert any(reason.startswith(f"{kind.value}:") for reason in result.reasons)


@pytest.mark.parametrize(
    "text",
    [
        "She asked what the opening hours of the office are.",
        "De klant vroeg naar de openingstijden van het kantoor.",
    ],
)
def test_text_without_a_cue_is_other_and_goes_to_triage(text: str) -> None:
    result = classify(text)
    assert result.kind is Kind.other
    assert result.confidence < MIN_CONFIDENCE
    assert result.reasons == ["no complaint or opportunity cue"]
    assert route(result, MIN_CONFIDENCE).destination == "triage"


def test_detect_language_tells_dutch_from_english() -> None:
    assert detect_language("De klant wil graag een offerte voor zijn dak") == "nl"
    assert detect_language("The customer would like a quote for his roof") == "en"


def test_detect_language_defaults_to_english_without_function_words() -> None:
    assert detect_language("") == "en"
    assert detect_language("zonnepanelen!!!") == "en"


@pytest.mark.parametrize(("hint", "expected"), [("nl", "nl"), ("NL-be", "nl"), ("en-GB", "en")])
def test_detect_language_respects_a_supported_hint(hint: str, expected: str) -> None:
    english = "The customer would like a quote for his roof"
    dutch = "De klant wil graag een offerte voor zijn dak"
    assert detect_language(english, hint) == expected
    assert detect_language(dutch, hint) == expected


def test_detect_language_ignores_an_unsupported_hint() -> None:
    assert detect_language("De klant wil graag een offerte voor zijn dak", "de") == "nl"
    assert detect_language("The customer would like a quote", "fr") == "en"


def test_classify_passes_the_language_hint_on() -> None:
    assert classify("The customer is furious about the bill", language_hint="nl").language == "nl"
    assert classify("The customer is furious about the bill").language == "en"


def test_classification_is_deterministic() -> None:
    text = "Klant is woedend: pinpas geblokkeerd in het buitenland, wil ook een offerte."
    results = [classify(text, "nl") for _ in range(5)]
    assert all(r == results[0] for r in results)
    assert results[0].model_dump_json() == classify(text, "nl").model_dump_json()


def test_category_of_bank_card_is_payments_cards() -> None:
    assert category_of("Her bank card was declined at the ATM") is Category.payments_cards
    assert category_of("Zijn pinpas werkt niet bij de geldautomaat") is Category.payments_cards


def test_category_of_solar_panels_is_energy() -> None:
    assert category_of("He wants solar panels and a heat pump") is Category.energy
    assert category_of("Ze wil zonnepanelen op haar dak") is Category.energy


def test_category_of_text_without_cue_is_other() -> None:
    assert category_of("She asked about the opening hours") is Category.other


def test_classify_reports_category_and_urgency() -> None:
    result = classify("Fraud! Her card was stolen abroad and payments are still going through")
    assert result.category is Category.payments_cards
    assert result.urgency is Urgency.high
    assert urgency_of("She would like a quote next month") is Urgency.normal


def test_mixed_text_votes_for_both_kinds() -> None:
    # Precondition for the tie test below: one complaint cue and one opportunity cue.
    result = classify("The customer has a complaint but is also interested in a new contract")
    assert result.reasons == ["complaint: 'complain'", "opportunity: 'interested in'"]


@pytest.mark.xfail(
    reason="BUG: classify.py:130 gives a tie (margin 0) confidence 0.5+0.05*total >= 0.6, so "
    "an undecided signal is routed to the service desk instead of triage",
    strict=True,
)
def test_a_tie_between_complaint_and_opportunity_goes_to_triage() -> None:
    result = classify("The customer has a complaint but is also interested in a new contract")
    assert result.confidence < MIN_CONFIDENCE
    assert route(result, MIN_CONFIDENCE).destination == "triage"


@pytest.mark.xfail(
    reason="BUG: classify.py:58,63 list the cue 'upgrade' in both the English and the Dutch "
    "opportunity cues, so one word casts two votes and inflates confidence",
    strict=True,
)
def test_one_cue_word_casts_one_vote() -> None:
    result = classify("She wants an upgrade")
    assert result.reasons == ["opportunity: 'upgrade'"]
    assert result.confidence == classify("She wants to buy it").confidence


@pytest.mark.xfail(
    reason="BUG: classify.py:93-97 _HIGH_URGENCY has no word boundary at the end, so 'pers' "
    "matches persoon/persoonlijk/person/personeel and 'press' matches pressure",
    strict=True,
)
@pytest.mark.parametrize(
    "text",
    [
        "Hij wil een persoonlijk gesprek over zijn hypotheek",
        "She would like to talk to a person about her mortgage",
        "She is under some pressure to switch supplier",
    ],
)
def test_urgency_words_match_whole_words(text: str) -> None:
    assert urgency_of(text) is Urgency.normal
