"""The suite itself: tiers are selectable by marker, and the unit tier does not read the
shell's settings. Each check runs pytest in a child process, as a developer would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def pytest_run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_integration_test_carries_the_integration_marker() -> None:
    result = pytest_run("--collect-only", "-q", "-m", "not integration", "tests/integration")
    assert "deselected" in result.stdout, result.stdout + result.stderr
    assert "::" not in result.stdout, f"unmarked integration tests:\n{result.stdout}"


def test_unit_tests_ignore_the_shells_antenna_and_kafka_variables() -> None:
    env = {
        **os.environ,
        # Each of these once changed what a unit test saw.
        "ANTENNA_SLACK_SIGNING_SECRET": "a-signing-secret-from-the-shell-0123",
        "ANTENNA_API_KEYS": "a-key-from-the-shell-0123456789",
        "ANTENNA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_BOOTSTRAP_SERVERS": "kafka.example.invalid:9093",
    }
    result = pytest_run(
        "-q", "tests/unit/test_chat_routes.py", "tests/unit/test_settings.py", env=env
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
