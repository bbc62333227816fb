"""The report page in a real browser on a phone-sized screen (390x844 CSS pixels, an
iPhone 12-15), driven by headless Chromium's command line only.

The screenshots load the page straight from the ingest process, with the credentials in
the URL. The layout check needs numbers: the page has no script of its own (and its CSP
forbids one), and headless Chromium will not make a window narrower than 500 pixels
outside screenshot mode. So a tiny loopback proxy serves a measuring page holding the
report page in a 390x844 iframe (same origin through the proxy, which adds the Basic
credentials and drops the CSP that forbids framing). ``--dump-dom`` shows what the
measuring script found: nothing wider than the phone, touch targets at least 44 pixels.

Chromium comes from Debian (deploy/ci/install-test-tools.sh); without it the test skips."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import threading
from collections.abc import Iterator
from html import escape, unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.services import Services, service_env

CHROMIUM = Path("/usr/bin/chromium")
PHONE_WIDTH, PHONE_HEIGHT = 390, 844
MIN_TOUCH_PX = 44  # Apple's and WCAG 2.5.5's minimum target size
PASSWORD = "browser-test-password-0123"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"{CHROMIUM} not installed; CI installs it with deploy/ci/install-test-tools.sh",
    ),
]

MEASURE = """<!doctype html>
<html><body style="margin:0">
<iframe id="phone" src="%(src)s" width="%(width)d" height="%(height)d" style="border:0"></iframe>
<script>
document.getElementById("phone").addEventListener("load", function () {
  var doc = this.contentDocument, win = this.contentWindow, root = doc.documentElement;
  var width = win.innerWidth, wide = [], small = [];
  doc.querySelectorAll("body *").forEach(function (e) {
    var box = e.getBoundingClientRect();
    if (box.width > 0 && (box.right > width + 0.5 || box.left < -0.5)) {
      wide.push(e.tagName.toLowerCase() + (e.id ? "#" + e.id : ""));
    }
  });
  var targets = "textarea, input[type=text], input[type=email], input[type=tel], "
    + "button, label.choice, .bar a";
  doc.querySelectorAll(targets).forEach(function (e) {
    if (e.getBoundingClientRect().height < %(min)d) { small.push(e.id || e.textContent.trim()); }
  });
  var button = doc.querySelector("button[type=submit]").getBoundingClientRect();
  document.documentElement.setAttribute("data-layout", JSON.stringify({
    viewport: width, scroll_width: root.scrollWidth, wide: wide, small: small,
    textarea_width: doc.querySelector("textarea").getBoundingClientRect().width,
    button_width: button.width, button_height: button.height, lang: root.lang
  }));
});
</script>
</body></html>"""


class MeasuringProxy:
    """GET-only loopback proxy: ``/measure?src=<path>`` is the measuring page; any other
    path is fetched from the ingest process with Basic credentials, minus its CSP."""

    def __init__(self, upstream: str, auth: tuple[str, str]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/measure":
                    src = parse_qs(url.query)["src"][0]
                    values = {"src": escape(src), "width": PHONE_WIDTH, "height": PHONE_HEIGHT}
                    body = (MEASURE % {**values, "min": MIN_TOUCH_PX}).encode()
                    status, content_type = 200, "text/html; charset=utf-8"
                else:
                    answer = httpx.get(upstream + self.path, auth=auth, timeout=10)
                    body, status = answer.content, answer.status_code
                    content_type = answer.headers.get("content-type", "text/html")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except ConnectionError:
                    pass  # the browser went away (e.g. it gave up on a favicon)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
    server = MeasuringProxy(ingest.api, ("anna", PASSWORD))
    yield server
    server.close()


def chromium(tmp_path: Path, url: str, *args: str, height: int = PHONE_HEIGHT) -> str:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        f"--window-size={PHONE_WIDTH},{height}",
        *args,
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR", "not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


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


def _layout(dom: str) -> dict[str, Any]:
    found = re.search(r'data-layout="([^"]*)"', dom)
    assert found, "the measuring script did not run"
    layout: dict[str, Any] = json.loads(unescape(found.group(1)))
    return layout


def test_no_horizontal_overflow_and_large_touch_targets(
    proxy: MeasuringProxy, tmp_path: Path
) -> None:
    layouts = {}
    for lang in ("en", "nl"):
        layouts[lang] = layout = _layout(
            chromium(tmp_path, f"{proxy.url}/measure?src=/report%3Flang%3D{lang}", "--dump-dom")
        )
        assert (layout["viewport"], layout["lang"]) == (PHONE_WIDTH, lang), layout
        assert layout["scroll_width"] <= PHONE_WIDTH, layout  # nothing scrolls sideways
        assert layout["wide"] == [], layout
        assert layout["small"] == [], layout
        assert layout["button_height"] >= MIN_TOUCH_PX
        # One column: the text box and the button span the screen but for the margins.
        assert layout["textarea_width"] >= PHONE_WIDTH - 40
        assert layout["button_width"] >= PHONE_WIDTH - 40
    # Dutch labels are longer; the layout must not care.
    assert layouts["en"]["textarea_width"] == layouts["nl"]["textarea_width"]
