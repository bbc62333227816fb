from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from services.notifier.settings import NotifierSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets is in the environment."""
    for name in list(os.environ):
        if name.upper().startswith("ANTENNA_") or name.upper() == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)


def test_every_channel_is_off_until_configured() -> None:
    settings = NotifierSettings()
    assert settings.notify_smtp_host is None
    assert settings.slack_bot_token is None and settings.teams_notify_webhook_url is None


def test_a_relay_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTENNA_NOTIFY_SMTP_HOST", "mail.bank.example")
    monkeypatch.setenv("ANTENNA_NOTIFY_SMTP_PORT", "587")
    monkeypatch.setenv("ANTENNA_NOTIFY_FROM", "Antenna <antenna@bank.example>")
    monkeypatch.setenv("ANTENNA_NOTIFY_SMTP_USER", "antenna")
    monkeypatch.setenv("ANTENNA_NOTIFY_SMTP_PASSWORD", "s3cr3t-relay")
    monkeypatch.setenv("ANTENNA_NOTIFY_SMTP_STARTTLS", "true")
    monkeypatch.setenv("ANTENNA_PUBLIC_URL", "https://antenna.bank.example/")
    settings = NotifierSettings()
    assert (settings.notify_smtp_port, settings.notify_smtp_starttls) == (587, True)
    assert settings.public_url == "https://antenna.bank.example"
    assert "s3cr3t-relay" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"ANTENNA_NOTIFY_SMTP_HOST": "mail.bank.example"}, "ANTENNA_NOTIFY_FROM"),
        ({"ANTENNA_NOTIFY_SMTP_PASSWORD": "s3cr3t-relay"}, "ANTENNA_NOTIFY_SMTP_USER"),
        ({"ANTENNA_NOTIFY_SMTP_USER": "a", "ANTENNA_NOTIFY_SMTP_PASSWORD": "changeme"}, "placeh"),
        ({"ANTENNA_SLACK_BOT_TOKEN": "xoxb-short"}, "at least 16"),
        ({"ANTENNA_PUBLIC_URL": "antenna.bank.example"}, "http"),
        ({"ANTENNA_NOTIFY_MAX_AGE_DAYS": "30"}, "must not exceed"),
    ],
)
def test_a_configuration_that_cannot_work_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], problem: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=problem):
        NotifierSettings()


def test_empty_values_mean_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NOTIFY_SMTP_HOST", "SLACK_BOT_TOKEN", "TEAMS_NOTIFY_WEBHOOK_URL"):
        monkeypatch.setenv(f"ANTENNA_{name}", "")
    settings = NotifierSettings()
    assert settings.notify_smtp_host is None and settings.slack_bot_token is None
