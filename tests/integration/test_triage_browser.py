"""/triage in a real browser (headless Chromium) on a phone (390x844 CSS pixels), Dutch and
English: nothing scrolls sideways, not even a report with a very long word; every button,
select and link is a touch target of at least 44 pixels; the buttons span the screen.
The waiting signal travels the real way: on signals.triage of the test broker, followed
by a real ingest process.

Chromium comes from Debian (deploy/ci/install-test-tools.sh); without it the test skips."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from schemas import Category, Classification, Destination, Kind, Urgency, topics
from tests.support.browser import (
    MIN_TOUCH_PX,
    PHONE_WIDTH,
    MeasuringProxy,
    chromium,
    layout,
    measuring_page,
    needs_chromium,
)
from tests.support.builders import build_routed, build_signal
from tests.support.kafka import produce
from tests.support.services import Services, service_env, wait_for

pytestmark = [pytest.mark.integration, needs_chromium]

PASSWORD = "triage-browser-password-0123"
LONG_WORD = "Rekeningnummer" + "X" * 120  # a pasted reference without spaces
MEASURE = measuring_page(
    "button, select, .bar a",
    """
  var buttons = Array.prototype.map.call(doc.querySelectorAll(".choices button"),
    function (b) { return b.getBoundingClientRect().width; });
  found.buttons = buttons.length;
  found.narrowest_button = Math.min.apply(null, buttons);
""",
)


@pytest.fixture(scope="module")
def ingest(kafka: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var_dir: Path = tmp_path_factory.mktemp("triage-browser")
    env = {"ANTENNA_REPORT_USERS": f"olga:{PASSWORD}", "ANTENNA_OPERATORS": "olga"}
    services = Services(service_env(kafka, var_dir, env), var_dir)
    waiting = build_routed(
        build_signal(
            subject="Pinpas geweigerd bij de kassa",
            text=f"Klant meldt: {LONG_WORD} werd geweigerd, twee keer, en ze wil teruggebeld.",
        ),
        classification=Classification(
            kind=Kind.other,
            confidence=0.38,
            category=Category.payments_cards,
            urgency=Urgency.normal,
            language="nl",
            reasons=["complaint cues and a lead cue in one text", "short"],
            classifier_version="test",
        ),
        destination=Destination(name="triage"),
        rule_id="low-confidence",
    )
    key = waiting.signal.signal_id
    produce(kafka, topics.TRIAGE, waiting.model_dump_json().encode(), key=key.encode())
    services.start("ingest")

    def listed() -> bool:
        page = httpx.get(f"{services.api}/triage", auth=("olga", PASSWORD), timeout=10)
        return page.status_code == 200 and f'id="item-{key}"' in page.text

    wait_for(listed, "the waiting signal on /triage")
    yield services
    services.stop()


@pytest.fixture(scope="module")
def proxy(ingest: Services) -> Iterator[MeasuringProxy]:
    server = MeasuringProxy(ingest.api, ("olga", PASSWORD), MEASURE)
    yield server
    server.close()


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_triage_fits_a_phone_with_large_touch_targets(
    proxy: MeasuringProxy, tmp_path: Path, lang: str
) -> None:
    found = layout(chromium(tmp_path, proxy.measure_url(f"/triage?lang={lang}"), "--dump-dom"))
    assert (found["viewport"], found["lang"]) == (PHONE_WIDTH, lang), found
    assert found["scroll_width"] <= PHONE_WIDTH, found  # nothing scrolls sideways
    assert found["wide"] == [], found
    assert found["small"] == [], found  # every button, select and link >= 44 px high
    assert found["buttons"] >= 3, found
    assert found["narrowest_button"] >= PHONE_WIDTH - 80, found
    assert MIN_TOUCH_PX == 44
