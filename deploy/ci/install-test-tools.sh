#!/usr/bin/env bash
# Tools that some tests need besides Python:
# - headless Chromium for the report page's phone-layout test
#   (tests/integration/test_report_page_browser.py skips without it);
# - promtool and prometheus (Debian package prometheus) for the alert rules and scrape
#   configs (tests/unit/test_deploy.py) and a real scrape of the running stack
#   (tests/integration/test_prometheus.py);
# - docker-compose 1.29 (Debian package docker-compose), whose `docker-compose config`
#   checks docker-compose.yml without a Docker engine (tests/unit/test_compose.py);
# - openssl, which makes the throwaway certificates of the TLS tests
#   (tests/integration/test_smtp_doors.py, test_kafka_security.py);
# - Request Tracker 5 with SQLite, a real service desk for the request_tracker connector
#   (tests/integration/test_request_tracker.py skips without it);
# - wrk, the HTTP load generator of `make bench` (tests/bench/bench_ingest.py).
# Debian/Ubuntu, run as root (CI). Idempotent: does nothing when all are there.
set -euo pipefail

RT_SERVER=/usr/share/request-tracker5/libexec/rt-server  # rt-test-up.sh also needs curl
if [ -x /usr/bin/chromium ] && command -v promtool >/dev/null && command -v prometheus >/dev/null \
    && command -v docker-compose >/dev/null && command -v curl >/dev/null \
    && command -v openssl >/dev/null && [ -x "$RT_SERVER" ] && command -v wrk >/dev/null; then
    echo "chromium, prometheus, docker-compose, openssl, Request Tracker and wrk already installed"
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
    chromium fonts-dejavu-core prometheus docker-compose \
    request-tracker5 rt5-db-sqlite rt5-standalone dbconfig-no-thanks curl openssl wrk
/usr/bin/chromium --version
promtool --version | head -1
docker-compose version --short
test -x "$RT_SERVER" && echo "Request Tracker 5 installed"
wrk --version 2>&1 | head -1 || true  # wrk prints its version and exits 1
