"""The AsyncAPI document describes every topic, matches the models and is valid AsyncAPI 3."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from pydantic import BaseModel

import services.common.dead_letters
import services.connectors.app
import services.insight.app
import services.notifier.app
import services.processor.app
from schemas import DeadLetter, DeliveryResult, NotificationPreference, Outcome, topics
from schemas import asyncapi as contract
from services.insight.summary import summarise
from tests.support.builders import build_routed, build_signal

FIXTURES = Path(__file__).parents[1] / "fixtures" / "asyncapi"
# From the npm package @asyncapi/specs 6.11.1 (schemas/3.0.0.json), see its README.
ASYNCAPI_SCHEMA = FIXTURES / "asyncapi-3.0.0.schema.json"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(contract.FILE.read_text())
    return loaded


def test_checked_in_asyncapi_document_matches_the_contracts() -> None:
    assert contract.FILE.exists(), "schemas/asyncapi.yaml is missing: run `make schemas`"
    assert contract.FILE.read_text() == contract.render(), (
        "schemas/asyncapi.yaml is out of date with schemas/: run `make schemas` and commit it"
    )


def test_document_is_valid_asyncapi_3(doc: dict[str, Any]) -> None:
    schema = json.loads(ASYNCAPI_SCHEMA.read_text())
    assert schema["properties"]["asyncapi"]["const"] == doc["asyncapi"] == "3.0.0"
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in Draft7Validator(schema).iter_errors(doc)
    ]
    assert not errors


def test_the_asyncapi_schema_rejects_a_broken_document(doc: dict[str, Any]) -> None:
    """The validation above can fail: a misspelt channel field is caught."""
    broken = json.loads(json.dumps(doc))
    broken["channels"][topics.RAW]["adress"] = broken["channels"][topics.RAW].pop("address")
    schema = json.loads(ASYNCAPI_SCHEMA.read_text())
    assert not Draft7Validator(schema).is_valid(broken)


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} points nowhere"
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def test_every_reference_points_at_something(doc: dict[str, Any]) -> None:
    refs = _refs(doc)
    assert len(refs) > 20
    for ref in refs:
        _resolve(doc, ref)


def test_every_topic_is_a_channel_with_its_address(doc: dict[str, Any]) -> None:
    assert list(doc["channels"]) == list(topics.ALL)
    for name, channel in doc["channels"].items():
        assert channel["address"] == name
        assert channel["bindings"]["kafka"]["topic"] == name


def test_a_topic_without_a_contract_stops_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topics, "ALL", (*topics.ALL, "signals.new"))
    with pytest.raises(contract.MissingContract, match=r"signals\.new"):
        contract.document()


def _key(doc: dict[str, Any], topic: str) -> dict[str, Any]:
    [message] = doc["channels"][topic]["messages"].values()
    key: dict[str, Any] = message["bindings"]["kafka"]["key"]
    return key


def test_keys_say_what_they_hold(doc: dict[str, Any]) -> None:
    for topic in (topics.RAW, topics.ROUTED_CRM, topics.ROUTED_SERVICEDESK, topics.DELIVERED):
        assert _key(doc, topic)["type"] == "string"
        assert _key(doc, topic)["description"].startswith(contract.SIGNAL_ID_KEY)
    assert "cluster_id" in _key(doc, topics.DUPLICATES)["description"]
    assert "not this report's own signal_id" in _key(doc, topics.DUPLICATES)["description"]
    assert _key(doc, topics.DLQ)["type"] == ["string", "null"]
    assert "original record" in _key(doc, topics.DLQ)["description"]


def _sent_and_received(doc: dict[str, Any]) -> dict[str, tuple[set[str], set[str]]]:
    parties: dict[str, tuple[set[str], set[str]]] = {t: (set(), set()) for t in topics.ALL}
    for operation in doc["operations"].values():
        topic = _resolve(doc, operation["channel"]["$ref"])["address"]
        [tag] = operation["tags"]
        parties[topic][0 if operation["action"] == "send" else 1].add(tag["name"])
    return parties


def test_operations_name_who_publishes_and_who_reads(doc: dict[str, Any]) -> None:
    parties = _sent_and_received(doc)
    assert parties[topics.RAW] == ({"ingest", "antenna-dlq"}, {"processor", "ingest"})
    assert parties[topics.DUPLICATES] == (
        {"processor", "antenna-dlq"},
        {"connectors", "ingest", "notifier", "insight"},
    )
    assert parties[topics.DLQ] == (
        {"processor", "connectors", "notifier", "insight"},
        {"antenna-dlq"},
    )
    # Pollers and HubSpot lookups in the connectors, Zendesk and Jira webhooks in ingest;
    # the connectors fold them into what their pollers compare with.
    assert parties[topics.OUTCOMES] == (
        {"connectors", "ingest"},
        {"notifier", "connectors", "ingest", "insight"},
    )
    assert parties[topics.RECORD_CHANGES] == ({"ingest"}, {"connectors"})
    assert parties[topics.PREFERENCES] == ({"ingest"}, {"notifier", "ingest"})
    assert parties[topics.INSIGHT] == ({"insight"}, {"ingest"})
    assert parties[topics.DELIVERED][0] == {"connectors"}
    for topic, (senders, _) in parties.items():
        assert senders, f"nobody publishes {topic}"
    for operation in doc["operations"].values():
        channel = _resolve(doc, operation["channel"]["$ref"])
        for message in operation["messages"]:
            assert _resolve(doc, message["$ref"]) in channel["messages"].values()


def test_replays_are_described_as_antenna_dlq_sends_them() -> None:
    assert contract.REPLAY_HEADER == services.common.dead_letters.REPLAY_HEADER


def test_consumer_groups_are_the_workers_app_ids(doc: dict[str, Any]) -> None:
    assert contract.CONSUMER_GROUPS == {
        "processor": services.processor.app.APP_ID,
        "connectors": services.connectors.app.APP_ID,
        "notifier": services.notifier.app.APP_ID,
        "insight": services.insight.app.APP_ID,
    }
    groups = {
        op["tags"][0]["name"]: op["bindings"]["kafka"]["groupId"]["enum"]
        for op in doc["operations"].values()
        if "bindings" in op
    }
    assert groups == {
        "processor": ["antenna-processor"],
        "connectors": ["antenna-connectors"],
        "notifier": ["antenna-notifier"],
        "insight": ["antenna-insight"],
    }


def _payload_validator(doc: dict[str, Any], topic: str) -> Draft7Validator:
    """The channel's payload schema with the document's components, so that its
    #/components/schemas/... references resolve."""
    [message] = doc["channels"][topic]["messages"].values()
    return Draft7Validator({**message["payload"], "components": doc["components"]})


NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
SAMPLES: dict[str, BaseModel] = {
    topics.RAW: build_signal(),
    topics.ROUTED_SERVICEDESK: build_routed(),
    topics.DUPLICATES: build_routed(),
    topics.DELIVERED: DeliveryResult(
        signal_id="01JD6W2Q7X5N6G2M3K4P5R6S7T",
        destination="servicedesk",
        connector="webhook",
        status="delivered",
        attempts=1,
        at=NOW,
    ),
    topics.DLQ: DeadLetter(
        stage="processor", error="bad", topic=topics.RAW, partition=0, offset=7, payload="{", at=NOW
    ),
    topics.OUTCOMES: Outcome(
        case_id="01JD6W2Q7X5N6G2M3K4P5R6S7T",
        status="resolved",
        changed_at=NOW,
        record_id="4711",
        destination="servicedesk",
        connector="request_tracker",
        event_id="rt:4711:resolved:2025-03-14T09:30:00Z",
        observed_at=NOW,
    ),
    topics.PREFERENCES: NotificationPreference(
        employee_id="e-1001", notify=False, credit_name="Sam Example", updated_at=NOW
    ),
    topics.INSIGHT: summarise([], {}, NOW, 2),
}


@pytest.mark.parametrize("topic", list(SAMPLES))
def test_payload_schemas_accept_real_messages_and_refuse_unknown_fields(
    doc: dict[str, Any], topic: str
) -> None:
    validator = _payload_validator(doc, topic)
    message = json.loads(SAMPLES[topic].model_dump_json())
    assert not [e.message for e in validator.iter_errors(message)]
    assert not validator.is_valid({**message, "unexpected": 1})
