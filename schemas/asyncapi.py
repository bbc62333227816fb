"""The AsyncAPI 3 document of every topic, built from the topic names and the models.

``make schemas`` writes it to schemas/asyncapi.yaml (``python -m schemas.asyncapi``), after
the JSON Schema files; a unit test fails when the checked-in file drifts. Payload schemas
come from the pydantic models (the same as schemas/json/), so a changed model needs no
edit here. A new topic needs one entry in ``CONTRACTS``: its key, its model and who sends
and receives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas import (
    CaseCorrection,
    DeadLetter,
    DeliveryResult,
    Incident,
    InsightSnapshot,
    Label,
    NotificationPreference,
    Outcome,
    RecordChange,
    RoutedSignal,
    Signal,
    topics,
)
from schemas.insight import INSIGHT_KEY
from schemas.signal import SCHEMA_VERSION

FILE = Path(__file__).parent / "asyncapi.yaml"
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
SCHEMA_REF = "#/components/schemas/{model}"

# The consumer group each stream worker joins (its Faust app id). Ingest's status view
# reads every partition itself, outside any group.
CONSUMER_GROUPS = {
    "processor": "antenna-processor",
    "connectors": "antenna-connectors",
    "notifier": "antenna-notifier",
    "insight": "antenna-insight",
}

SIGNAL_ID_KEY = "The signal_id (ULID) of the message's signal, UTF-8."
# `antenna dlq replay` (client id antenna-dlq) re-publishes a parked record to the topic it
# was read from, with this header naming the letter (services.common.dead_letters).
REPLAYER = "antenna-dlq"
REPLAY_HEADER = "antenna-replay-of"


@dataclass(frozen=True)
class TopicContract:
    payload: type[BaseModel]
    title: str
    description: str
    key: str  # what the Kafka record key holds
    senders: tuple[str, ...]
    receivers: tuple[str, ...]
    key_may_be_absent: bool = False
    replayable: bool = False  # its records can be parked on signals.dlq and replayed

    @property
    def all_senders(self) -> tuple[str, ...]:
        return (*self.senders, REPLAYER) if self.replayable else self.senders


CONTRACTS: dict[str, TopicContract] = {
    topics.RAW: TopicContract(
        Signal,
        "Signals as reported",
        "Every signal that ingest accepted (web form, API, chat, e-mail). Ingest answers "
        "the employee only after the broker acknowledged the record (acks=all).",
        SIGNAL_ID_KEY,
        senders=("ingest",),
        receivers=("processor", "ingest"),
        replayable=True,
    ),
    topics.ROUTED_SERVICEDESK: TopicContract(
        RoutedSignal,
        "New cases for the service desk",
        "A signal that opened a new case, routed to the service desk; the connectors "
        "open a ticket for it. Also an operator's decision on the triage page (rule_id "
        "'triage:operator', published by ingest), and a report an operator said is not "
        "the same case as the one it had joined (routed by the processor's rules).",
        SIGNAL_ID_KEY + " For a new case this is also the case id (its cluster_id).",
        senders=("processor", "ingest"),
        receivers=("connectors", "ingest", "notifier", "insight"),
        replayable=True,
    ),
    topics.ROUTED_CRM: TopicContract(
        RoutedSignal,
        "New cases for the CRM",
        "A signal that opened a new case, routed to the CRM; the connectors create a lead "
        "or opportunity for it. Also an operator's decision on the triage page (rule_id "
        "'triage:operator', published by ingest), and a report an operator said is not "
        "the same case as the one it had joined (routed by the processor's rules).",
        SIGNAL_ID_KEY + " For a new case this is also the case id (its cluster_id).",
        senders=("processor", "ingest"),
        receivers=("connectors", "ingest", "notifier", "insight"),
        replayable=True,
    ),
    topics.TRIAGE: TopicContract(
        RoutedSignal,
        "Signals for a person to judge",
        "A new case that no rule could route with enough confidence, or that the rules "
        "send to triage. It never reaches a customer-facing system by itself: an "
        "operator decides on the triage page (/triage), which publishes the signal to "
        "signals.routed.servicedesk or .crm and a Label on signals.labels.",
        SIGNAL_ID_KEY,
        senders=("processor",),
        receivers=("ingest", "insight"),
    ),
    topics.DUPLICATES: TopicContract(
        RoutedSignal,
        "Later reports of a known case",
        "A report that joined an earlier case (dedupe.duplicate_of, dedupe.cluster_id, "
        "dedupe.reporters_count). The connectors add it to the case's ticket or lead as a "
        "note.",
        "The case's cluster_id: the signal_id of the case's first report, not this "
        "report's own signal_id. With the same partition count and partitioner, a case's "
        "routed record and its duplicates land in the same partition number.",
        senders=("processor",),
        receivers=("connectors", "ingest", "notifier", "insight"),
        replayable=True,
    ),
    topics.DLQ: TopicContract(
        DeadLetter,
        "Messages set aside",
        "A message that could not be processed (undecodable, invalid) or delivered for "
        "good, with the error and where it came from (topic, partition, offset). "
        "Processing goes on; operators are alerted through antenna_dead_letters_total and "
        "replay letters with `antenna dlq`. A letter's id is its place here: "
        "<partition>-<offset>.",
        "The key of the original record, unchanged; absent when the original had none.",
        senders=("processor", "connectors", "notifier", "insight"),
        receivers=(REPLAYER,),
        key_may_be_absent=True,
    ),
    topics.DELIVERED: TopicContract(
        DeliveryResult,
        "What the destination made of a case",
        "The outcome of handing a routed signal to its destination: delivered (with the "
        "ticket or lead id and link), retrying, failed or dead.",
        SIGNAL_ID_KEY,
        senders=("connectors",),
        receivers=("ingest", "notifier", "insight"),
    ),
    topics.OUTCOMES: TopicContract(
        Outcome,
        "What became of a case at its destination",
        "One change of the status of a case's ticket or lead at its destination: opened, "
        "in_progress, resolved or closed (desks), won or lost (CRMs), with the time of the "
        "change at the source and the source's event id. Published at least once and in "
        "no particular order: fold them by event_id and changed_at "
        "(services.common.outcomes.fold_outcome); a late in_progress never overwrites "
        "resolved. The notifier tells the reporters that their case was resolved or won.",
        "The case id: the signal_id of the case's first report (its cluster_id), UTF-8. "
        "With the same partition count and partitioner, a case's outcomes land in the "
        "partition number of its routed record.",
        senders=("connectors", "ingest"),
        receivers=("notifier", "connectors", "ingest", "insight"),
    ),
    topics.RECORD_CHANGES: TopicContract(
        RecordChange,
        "A destination's change to a record, before its case is known",
        "A verified vendor webhook event that names a record but not its case: HubSpot's "
        "deal stage changes. Ingest holds no vendor credentials; the connector of the "
        "destination looks the record up in its system, finds the case and publishes the "
        "Outcome on signals.outcomes, with this change's event_id.",
        "The record's id at the vendor (e.g. the HubSpot deal id), UTF-8.",
        senders=("ingest",),
        receivers=("connectors",),
    ),
    topics.PREFERENCES: TopicContract(
        NotificationPreference,
        "What employees want to hear back",
        "An employee's choice about notifications (notify false: tell them nothing), "
        "written by the report page's preferences (/report/preferences). Compacted: the "
        "latest record per employee is kept for good; a record without a value (a "
        "tombstone) restores the default, which is to tell them.",
        "The employee_id as in Reporter.employee_id, or the e-mail address of someone "
        "known only by mail; equal to the value's employee_id.",
        senders=("ingest",),
        receivers=("notifier", "ingest"),
    ),
    topics.INSIGHT: TopicContract(
        InsightSnapshot,
        "The programme's insight, summarised",
        "What the insight app publishes for the programme lead's page (/insight): signals "
        "per week by channel, kind, category and department, participation per "
        "department, outcomes and the reports that mattered, over the last "
        "ANTENNA_INSIGHT_HORIZON_WEEKS weeks. Counts and pseudonymous reporter references "
        "only: nothing about a customer, no employee's name. Compacted: the latest "
        "snapshot is what counts.",
        f'Always "{INSIGHT_KEY}", so that compaction keeps the latest snapshot.',
        senders=("insight",),
        receivers=("ingest",),
    ),
    topics.INCIDENTS: TopicContract(
        Incident,
        "Possible outages",
        "Several different customers, reported by different employees, with one problem "
        "within a short time (same category, alike wording; optionally the same place): "
        "opened, updated as more reports join, closed after a quiet period. Each report "
        "stays its own case. Every change carries the whole incident with a higher "
        "version: keep the highest per incident_id. The service desk gets it as one "
        "ticket through signals.incidents.desk.",
        "The incident_id (ULID), UTF-8: also the case id of the incident's ticket.",
        senders=("processor",),
        receivers=(),
    ),
    topics.INCIDENTS_DESK: TopicContract(
        RoutedSignal,
        "Incidents for the service desk",
        "One ticket per incident that lists its reports, and its notes: the opening is a "
        "RoutedSignal whose signal_id is the incident_id (the case id, so the ticket is "
        "opened once), each report that joins and the closing are notes with the incident "
        "as their case (dedupe.cluster_id) and ids derived from what they add. "
        "signal.source is 'antenna-incidents', rule_id 'incident'. Not employees' "
        "reports: those stay on the routed, triage and duplicates topics, once each.",
        "The incident_id, UTF-8: an incident's ticket and notes share a partition, in order.",
        senders=("processor",),
        receivers=("connectors",),
        replayable=True,
    ),
    topics.LABELS: TopicContract(
        Label,
        "What operators decided signals are",
        "An operator's decision on the triage page: the kind, category and urgency of a "
        "signal, where it was sent, the text it was derived from (subject line and text, "
        "as the classifier read them), the classifier's guess, and a pseudonymous "
        "reference of the operator. Training data for `antenna train` "
        "(`antenna labels export`). Compacted: the latest label per signal is kept for "
        "good. It holds report texts: treat it like signals.raw, and erase a label with "
        "a tombstone under its key. The processor follows it to send a case's later "
        "reports where the operator sent the case.",
        "The label_id, <source>:<signal_id> (e.g. operator:01JD6W2Q7X5N6G2M3K4P5R6S7T), UTF-8.",
        senders=("ingest",),
        receivers=("ingest", "processor", "antenna-labels"),
    ),
    topics.CASE_CORRECTIONS: TopicContract(
        CaseCorrection,
        "Operators' corrections of dedupe",
        "'These two are one case' (same_case: signal_id joins the case of "
        "other_signal_id) or 'not the same case' (not_same_case: signal_id leaves the case "
        "it had joined and becomes a case of its own, routed by the rules), with both "
        "reports as they were routed, the operator's pseudonymous reference and the time. "
        "The processor's dedupe applies them; `antenna labels export --pairs` writes them "
        "for the dedupe evaluation. Compacted: the latest verdict per pair is kept.",
        "The pair of signal ids, sorted and joined by '|', UTF-8.",
        senders=("ingest",),
        receivers=("processor", "antenna-labels"),
    ),
}


class MissingContract(LookupError):
    """A topic in schemas.topics.ALL has no entry in CONTRACTS."""


def _contracts() -> list[tuple[str, TopicContract]]:
    missing = [name for name in topics.ALL if name not in CONTRACTS]
    if missing:
        raise MissingContract(
            f"schemas/asyncapi.py CONTRACTS has no entry for {', '.join(missing)}: "
            "add its key, payload model, senders and receivers"
        )
    return [(name, CONTRACTS[name]) for name in topics.ALL]


def _component_schemas(models: list[type[BaseModel]]) -> dict[str, Any]:
    """Every model and the models inside them, once each, as AsyncAPI components."""
    _, top = models_json_schema([(m, "serialization") for m in models], ref_template=SCHEMA_REF)
    defs: dict[str, Any] = top.get("$defs", {})
    return dict(sorted(defs.items()))


def _message(contract: TopicContract) -> dict[str, Any]:
    name = contract.payload.__name__
    key: dict[str, Any] = {"type": "string", "description": contract.key}
    if contract.key_may_be_absent:
        key["type"] = ["string", "null"]
    message: dict[str, Any] = {
        "name": name,
        "title": contract.title,
        "contentType": "application/json",
    }
    if contract.replayable:
        message["headers"] = {
            "type": "object",
            "properties": {
                REPLAY_HEADER: {
                    "type": "string",
                    "description": "Only on a record that `antenna dlq replay` re-published: "
                    "the id of the letter on signals.dlq it replays.",
                }
            },
        }
    message["payload"] = {"$ref": SCHEMA_REF.format(model=name)}
    message["bindings"] = {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING_VERSION}}
    return message


def _operation(party: str, action: str, topic: str, message: str) -> dict[str, Any]:
    verb = "publishes" if action == "send" else "reads"
    operation: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{topic}"},
        "title": f"{party} {verb} {topic}",
        "messages": [{"$ref": f"#/channels/{topic}/messages/{message}"}],
        "tags": [{"name": party}],
    }
    group = CONSUMER_GROUPS.get(party)
    if action == "receive" and group is not None:
        operation["bindings"] = {
            "kafka": {
                "groupId": {"type": "string", "enum": [group]},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        }
    return operation


def document() -> dict[str, Any]:
    contracts = _contracts()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for name, contract in contracts:
        message = contract.payload.__name__
        channels[name] = {
            "address": name,
            "title": contract.title,
            "description": contract.description,
            "messages": {message: _message(contract)},
            "bindings": {"kafka": {"topic": name, "bindingVersion": KAFKA_BINDING_VERSION}},
        }
        for action, parties in (("send", contract.all_senders), ("receive", contract.receivers)):
            for party in parties:
                operations[f"{party}.{action}.{name}"] = _operation(party, action, name, message)
    payloads = list(dict.fromkeys(contract.payload for _, contract in contracts))
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Antenna topics",
            "version": str(SCHEMA_VERSION),
            "description": (
                "The topics Antenna's services exchange, and other teams may read. Values "
                "are UTF-8 JSON carrying a schema_version; keys are UTF-8 strings. Delivery "
                "is at least once: a consumer may see a record again and must be "
                "idempotent by its key. Faust's internal topics (changelogs, "
                "repartitioning) are not part of this contract. Generated from schemas/ "
                "by `make schemas`; do not edit by hand."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "The Kafka cluster Antenna runs against.",
                "variables": {
                    "bootstrap": {
                        "default": "kafka:9092",
                        "description": "A bootstrap server (KAFKA_BOOTSTRAP_SERVERS)",
                    }
                },
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": _component_schemas(payloads)},
    }


def render() -> str:
    header = "# Generated by `make schemas` from schemas/ (asyncapi.py); do not edit.\n"
    body: str = yaml.safe_dump(
        document(), sort_keys=False, allow_unicode=True, width=100, default_flow_style=False
    )
    return header + body


def main() -> None:
    FILE.write_text(render())
    print(f"wrote {FILE}")


if __name__ == "__main__":
    main()
