"""The report page in a real browser on a phone-sized screen (390x844 CSS pixels, an
iPhone 12-15), driven by headless Chromium's command line only.

The screenshots load the page straight from the ingest process, with the credentials in
the URL. The layout numbers come from a measuring page holding the report page in a
390x844 iframe (tests/support/browser.py): nothing wider than the phone, touch targets at
least 44 pixels.

Chromium comes from Debian (deploy/ci/install-test-tools.sh); without it the test skips."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import (
    MIN_TOUCH_PX,
    PHONE_HEIGHT,
    PHONE_WIDTH,
    MeasuringProxy,
    chromium,
    layout,
    measuring_page,
    needs_chromium,
    png_size,
)
from tests.support.services import Services, service_env

PASSWORD = "browser-test-password-0123"

pytestmark = [pytest.mark.integration, needs_chromium]

MEASURE = measuring_page(
    "textarea, input[type=text], input[type=email], input[type=tel], button, label.choice, .bar a",
    """
  var button = doc.querySelector("button[type=submit]").getBoundingClientRect();
  found.textarea_width = doc.querySelector("textarea").getBoundingClientRect().width;
  found.button_width = button.width;
  found.button_height = button.height;
""",
)


@pytest.fixture(scope="module")
def ingest(kafka: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var_dir: Path = tmp_path_factory.mktemp("report-browser")
    services = Services(
        service_env(kafka, var_dir, {"ANTENNA_REPORT_USERS": f"anna:{PASSWORD}"}), var_dir
    )
    services.start("ingest")
    yield services
    services.stop()


@pytest.fixture(scope="module")
def proxy(ingest: Services) -> Iterator[MeasuringProxy]:
    server = MeasuringProxy(ingest.api, ("anna", PASSWORD), MEASURE)
    yield server
    server.close()


def credentials_url(ingest: Services, path: str) -> str:
    return ingest.api.replace("http://", f"http://anna:{PASSWORD}@") + path


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_screenshot_on_a_phone(ingest: Services, tmp_path: Path, lang: str) -> None:
    shot = tmp_path / f"report-{lang}.png"
    chromium(tmp_path, credentials_url(ingest, f"/report?lang={lang}"), f"--screenshot={shot}")
    assert shot.exists() and shot.stat().st_size > 5_000  # a rendered page, not a blank
    assert png_size(shot) == (PHONE_WIDTH, PHONE_HEIGHT)
    # The whole form, for a person to look at (see the test's tmp_path).
    full = tmp_path / f"report-{lang}-full.png"
    chromium(
        tmp_path,
        credentials_url(ingest, f"/report?lang={lang}"),
        f"--screenshot={full}",
        height=2000,
    )
    assert png_size(full) == (PHONE_WIDTH, 2000)


def test_dom_has_the_form_and_the_viewport_meta(ingest: Services, tmp_path: Path) -> None:
    dom = chromium(tmp_path, credentials_url(ingest, "/report?lang=nl"), "--dump-dom")
    assert re.search(r'<meta name="viewport" content="width=device-width, initial-scale=1">', dom)
    assert re.search(r'<textarea[^>]*name="text"', dom)
    assert re.search(r'<button type="submit">Melding versturen</button>', dom)
    assert 'value="anna"' in dom  # signed in through the credentials in the URL
    assert "<script" not in dom


def test_no_horizontal_overflow_and_large_touch_targets(
    proxy: MeasuringProxy, tmp_path: Path
) -> None:
    layouts = {}
    for lang in ("en", "nl"):
        layouts[lang] = found = layout(
            chromium(tmp_path, proxy.measure_url(f"/report?lang={lang}"), "--dump-dom")
        )
        assert (found["viewport"], found["lang"]) == (PHONE_WIDTH, lang), found
        assert found["scroll_width"] <= PHONE_WIDTH, found  # nothing scrolls sideways
        assert found["wide"] == [], found
        assert found["small"] == [], found
        assert found["button_height"] >= MIN_TOUCH_PX
        # One column: the text box and the button span the screen but for the margins.
        assert found["textarea_width"] >= PHONE_WIDTH - 40
        assert found["button_width"] >= PHONE_WIDTH - 40
    # Dutch labels are longer; the layout must not care.
    assert layouts["en"]["textarea_width"] == layouts["nl"]["textarea_width"]
