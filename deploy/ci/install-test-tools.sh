#!/usr/bin/env bash
# Tools that some tests need besides Python: headless Chromium for the report page's
# phone-layout test (tests/integration/test_report_page_browser.py skips without it) and
# promtool (Debian package prometheus) for the alert rules (tests/unit/test_deploy.py).
# Debian/Ubuntu, run as root (CI). Idempotent: does nothing when Chromium is there.
set -euo pipefail

if [ -x /usr/bin/chromium ] && command -v promtool >/dev/null; then
    echo "chromium and promtool already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-tools.sh: run as root (apt-get needs it)" >&2
    exit 1
fi

apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium fonts-dejavu-core prometheus
/usr/bin/chromium --version
promtool --version | head -1
