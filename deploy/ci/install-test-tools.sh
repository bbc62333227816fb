#!/usr/bin/env bash
# Tools that some tests need besides Python:
# - headless Chromium for the report page's phone-layout test
#   (tests/integration/test_report_page_browser.py skips without it);
# - promtool (Debian package prometheus) for the alert rules (tests/unit/test_deploy.py);
# - Request Tracker 5 with SQLite, a real service desk for the request_tracker connector
#   (tests/integration/test_request_tracker.py skips without it).
# Debian/Ubuntu, run as root (CI). Idempotent: does nothing when all are there.
set -euo pipefail

RT_SERVER=/usr/share/request-tracker5/libexec/rt-server  # rt-test-up.sh also needs curl
if [ -x /usr/bin/chromium ] && command -v promtool >/dev/null && command -v curl >/dev/null && [ -x "$RT_SERVER" ]; then
    echo "chromium, promtool and Request Tracker already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-tools.sh: run as root (apt-get needs it)" >&2
    exit 1
fi

apt-get update -qq
# dbconfig-no-thanks skips Debian's database wizard for RT.
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
    --no-install-recommends \
    chromium fonts-dejavu-core prometheus \
    request-tracker5 rt5-db-sqlite rt5-standalone dbconfig-no-thanks curl
/usr/bin/chromium --version
promtool --version | head -1
test -x "$RT_SERVER" && echo "Request Tracker 5 installed"
