"""Headless Chromium driven by its command line only (Debian's /usr/bin/chromium, which
deploy/ci/install-test-tools.sh installs): screenshots, the DOM after load, and layout
numbers measured by a script on a page of the test's own.

The pages under test have no script of their own (their CSP forbids one), and headless
Chromium will not make a window narrower than 500 pixels outside screenshot mode. So a
tiny loopback proxy (``MeasuringProxy``) serves a measuring page holding the page under
test in an iframe of the size wanted (same origin through the proxy, which adds the Basic
credentials and drops the CSP that forbids framing); its script writes what it found
into an attribute that ``--dump-dom`` shows, and ``layout`` reads it back."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import threading
from html import escape, unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
PHONE_WIDTH, PHONE_HEIGHT = 390, 844  # an iPhone 12-15, in CSS pixels
MIN_TOUCH_PX = 44  # Apple's and WCAG 2.5.5's minimum target size

needs_chromium = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"{CHROMIUM} not installed; CI installs it with deploy/ci/install-test-tools.sh",
)


_MEASURING_PAGE = """<!doctype html>
<html><body style="margin:0">
<iframe id="screen" src="%(src)s" width="%(width)d" height="%(height)d" style="border:0"></iframe>
<script>
document.getElementById("screen").addEventListener("load", function () {
  var doc = this.contentDocument, win = this.contentWindow, root = doc.documentElement;
  var width = win.innerWidth, wide = [], small = [];
  doc.querySelectorAll("body *").forEach(function (e) {
    var box = e.getBoundingClientRect();
    if (box.width > 0 && (box.right > width + 0.5 || box.left < -0.5)) {
      wide.push(e.tagName.toLowerCase() + (e.id ? "#" + e.id : ""));
    }
  });
  doc.querySelectorAll(@TARGETS@).forEach(function (e) {
    if (e.getBoundingClientRect().height < %(min)d) { small.push(e.id || e.textContent.trim()); }
  });
  var found = {viewport: width, scroll_width: root.scrollWidth, wide: wide, small: small,
               lang: root.lang};
@EXTRA@
  document.documentElement.setAttribute("data-layout", JSON.stringify(found));
});
</script>
</body></html>"""


def measuring_page(targets: str, extra: str = "") -> str:
    """A measuring page for MeasuringProxy. It finds the elements wider than the frame
    (``wide``), the touch targets (CSS selector ``targets``) lower than MIN_TOUCH_PX
    (``small``), the frame's width, the page's scroll width and language; ``extra`` is
    JavaScript that adds to ``found`` (it may use doc, win and width)."""
    return _MEASURING_PAGE.replace("@TARGETS@", json.dumps(targets)).replace(
        "@EXTRA@", extra.replace("%", "%%")
    )


class MeasuringProxy:
    """GET-only loopback proxy: ``/measure?src=<path>&width=W&height=H`` is ``measure``
    (a page template with %(src)s, %(width)d, %(height)d and %(min)d) framing ``src`` at
    W x H; any other path is fetched from ``upstream`` with Basic credentials, minus its
    CSP."""

    def __init__(self, upstream: str, auth: tuple[str, str], measure: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/measure":
                    query = parse_qs(url.query)
                    values = {
                        "src": escape(query["src"][0]),
                        "width": int(query.get("width", [PHONE_WIDTH])[0]),
                        "height": int(query.get("height", [PHONE_HEIGHT])[0]),
                        "min": MIN_TOUCH_PX,
                    }
                    body = (measure % values).encode()
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

    def measure_url(self, path: str, width: int = PHONE_WIDTH, height: int = PHONE_HEIGHT) -> str:
        src = path.replace("?", "%3F").replace("=", "%3D").replace("&", "%26")
        return f"{self.url}/measure?src={src}&width={width}&height={height}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def chromium(
    tmp_path: Path, url: str, *args: str, width: int = PHONE_WIDTH, height: int = PHONE_HEIGHT
) -> str:
    """Run headless Chromium on ``url`` with ``args`` (--screenshot=..., --dump-dom) in a
    window of ``width`` x ``height``; its standard output."""
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
        f"--window-size={width},{height}",
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


def layout(dom: str) -> dict[str, Any]:
    """What the measuring page's script found (its data-layout attribute)."""
    found = re.search(r'data-layout="([^"]*)"', dom)
    assert found, "the measuring script did not run"
    measured: dict[str, Any] = json.loads(unescape(found.group(1)))
    return measured
