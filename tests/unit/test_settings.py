from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from schemas import Urgency
from services.connectors.jira_servicedesk import JiraServiceManagementConfig
from services.connectors.registry import connector_class
from services.connectors.settings import ConnectorSettings
from services.connectors.webhook import WebhookConfig
from services.connectors.zendesk import ZendeskConfig
from services.ingest.settings import IngestSettings

KEY_1 = "k1-0123456789abcdef"
KEY_2 = "k2-fedcba9876543210"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """Only what a test sets is in the environment."""
    for name in list(os.environ):
        if name.upper().startswith("ANTENNA_") or name.upper() == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)


def test_api_keys_are_read_comma_separated(monkeypatch) -> None:
    monkeypatch.setenv("ANTENNA_API_KEYS", f"{KEY_1}, {KEY_2} ,")
    settings = IngestSettings()
    assert [key.get_secret_value() for key in settings.api_keys] == [KEY_1, KEY_2]
    assert KEY_1 not in repr(settings)


def test_a_single_api_key(monkeypatch) -> None:
    monkeypatch.setenv("ANTENNA_API_KEYS", KEY_1)
    assert [k.get_secret_value() for k in IngestSettings().api_keys] == [KEY_1]


def test_api_keys_are_required() -> None:
    with pytest.raises(ValidationError, match="api_keys"):
        IngestSettings()


def test_empty_api_keys_are_rejected(monkeypatch) -> None:
    monkeypatch.setenv("ANTENNA_API_KEYS", " , ")
    with pytest.raises(ValidationError, match="api_keys"):
        IngestSettings()


@pytest.mark.parametrize("placeholder", ["changeme", "ChangeMe", "password"])
def test_a_placeholder_api_key_is_rejected(monkeypatch, placeholder: str) -> None:
    monkeypatch.setenv("ANTENNA_API_KEYS", f"{KEY_1},{placeholder}")
    with pytest.raises(ValidationError, match="placeholder"):
        IngestSettings()


def test_a_short_api_key_is_rejected(monkeypatch) -> None:
    monkeypatch.setenv("ANTENNA_API_KEYS", f"{KEY_1},short-key-12345")  # 15 characters
    with pytest.raises(ValidationError, match="at least 16 characters"):
        IngestSettings()


def test_kafka_bootstrap_default(monkeypatch) -> None:
    monkeypatch.setenv("ANTENNA_API_KEYS", KEY_1)
    settings = IngestSettings()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.bootstrap_list == ["127.0.0.1:9092"]


def test_kafka_bootstrap_servers_env_overrides_the_default(monkeypatch) -> None:
    monkeypatch.setenv("ANTENNA_API_KEYS", KEY_1)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker-a:9092, broker-b:19092")
    settings = IngestSettings()
    assert settings.kafka_bootstrap_servers == "broker-a:9092, broker-b:19092"
    assert settings.bootstrap_list == ["broker-a:9092", "broker-b:19092"]
    assert ConnectorSettings().bootstrap_list == ["broker-a:9092", "broker-b:19092"]


def test_prefixed_kafka_bootstrap_servers_is_accepted_too(monkeypatch) -> None:
    monkeypatch.setenv("ANTENNA_KAFKA_BOOTSTRAP_SERVERS", "kafka.internal:9093")
    assert ConnectorSettings().bootstrap_list == ["kafka.internal:9093"]


def test_ingest_options_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("ANTENNA_API_KEYS", KEY_1)
    monkeypatch.setenv("ANTENNA_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("ANTENNA_API_PORT", "8123")
    settings = IngestSettings()
    assert (settings.max_body_bytes, settings.api_port) == (2048, 8123)


def test_connector_destinations_from_nested_env(monkeypatch) -> None:
    monkeypatch.setenv("ANTENNA_SERVICEDESK__CONNECTOR", "webhook")
    monkeypatch.setenv("ANTENNA_SERVICEDESK__URL", "https://desk.example/hooks/antenna")
    monkeypatch.setenv("ANTENNA_SERVICEDESK__SECRET", "desk-secret-0123456789")
    destinations = ConnectorSettings().destinations()
    assert set(destinations) == {"servicedesk", "crm"}
    desk = destinations["servicedesk"]
    assert desk.connector == "webhook"
    assert desk.options == {
        "url": "https://desk.example/hooks/antenna",
        "secret": "desk-secret-0123456789",
    }
    # The options are exactly what the plugin's own config model validates.
    config = WebhookConfig.model_validate(desk.options)
    assert config.secret.get_secret_value() == "desk-secret-0123456789"


def test_destinations_default_to_the_outbox() -> None:
    destinations = ConnectorSettings().destinations()
    assert destinations["crm"].connector == "outbox"
    assert destinations["crm"].options == {}
    assert destinations["servicedesk"].connector == "outbox"


def test_delivery_policy_settings(monkeypatch) -> None:
    monkeypatch.setenv("ANTENNA_DELIVERY_MAX_ATTEMPTS", "3")
    assert ConnectorSettings().delivery_max_attempts == 3
    monkeypatch.setenv("ANTENNA_DELIVERY_MAX_ATTEMPTS", "0")
    with pytest.raises(ValidationError, match="delivery_max_attempts"):
        ConnectorSettings()


def test_an_empty_channel_secret_means_the_channel_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTENNA_API_KEYS", "k" * 20)
    monkeypatch.setenv("ANTENNA_SLACK_SIGNING_SECRET", "")
    monkeypatch.setenv("ANTENNA_TEAMS_HMAC_SECRET", "")
    settings = IngestSettings()
    assert settings.slack_signing_secret is None
    assert settings.teams_hmac_secret is None
    monkeypatch.setenv("ANTENNA_SLACK_SIGNING_SECRET", "changeme")
    with pytest.raises(ValidationError, match="placeholder"):
        IngestSettings()


def test_empty_connector_options_are_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTENNA_CRM__CONNECTOR", "outbox")
    monkeypatch.setenv("ANTENNA_CRM__URL", "")
    assert ConnectorSettings().destinations()["crm"].options == {}


def test_zendesk_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "CONNECTOR": "zendesk",
        "SUBDOMAIN": "acme",
        "EMAIL": "antenna@acme.com",
        "TOKEN": "zendesk-token-0123456789",
        "GROUP_ID": "",
        "GROUPS__PAYMENTS-URGENT": "360001",
        "PRIORITY__HIGH": "urgent",
        "TAGS": "antenna,desk",
        "REQUESTER_FROM_CUSTOMER": "false",
    }.items():
        monkeypatch.setenv(f"ANTENNA_SERVICEDESK__{name}", value)
    desk = ConnectorSettings().servicedesk
    config = connector_class(desk.connector).config_model.model_validate(desk.options)
    assert isinstance(config, ZendeskConfig)
    assert config.base_url == "https://acme.zendesk.com" and config.group_id is None
    assert config.groups == {"payments-urgent": 360001}
    assert config.priority[Urgency.high] == "urgent" and config.tags == ["antenna", "desk"]
    assert not config.requester_from_customer


def test_jira_service_management_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "CONNECTOR": "jira_servicedesk",
        "URL": "https://acme.atlassian.net",
        "EMAIL": "antenna@acme.com",
        "TOKEN": "atlassian-token-0123456789",
        "SERVICE_DESK_ID": "4",
        "REQUEST_TYPE_ID": "10",
        "REQUEST_TYPES__PAYMENTS-URGENT": "12",
        "PRIORITY__HIGH": "Highest",
        "SETTLE_S": "30",
    }.items():
        monkeypatch.setenv(f"ANTENNA_SERVICEDESK__{name}", value)
    desk = ConnectorSettings().servicedesk
    config = connector_class(desk.connector).config_model.model_validate(desk.options)
    assert isinstance(config, JiraServiceManagementConfig)
    assert (config.service_desk_id, config.request_type_id) == ("4", "10")
    assert config.request_types == {"payments-urgent": "12"}
    assert config.priority == {Urgency.high: "Highest"} and config.settle_s == 30
