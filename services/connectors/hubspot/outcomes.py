"""HubSpot: what a deal's stage change means for its case. Pure.

HubSpot's deal webhooks (``deal.propertyChange`` on ``dealstage``) name the deal and
the new stage's id, nothing else; ingest passes them on as RecordChanges. The connector
reads the deal (its case key and pipeline) and the pipeline's stages, whose metadata
say whether a stage is closed and with what probability (the pipelines API,
``GET /crm/v3/pipelines/deals``: ``stages[].metadata.isClosed`` and ``.probability``,
strings such as ``"true"`` and ``"1.0"``):

==========================================  ============
stage                                       Outcome
==========================================  ============
closed, probability 1 (e.g. closedwon)      won
closed, probability 0 (e.g. closedlost)     lost
the stage new deals are created in          opened
any other open stage                        in_progress
==========================================  ============

A closed stage with a probability between 0 and 1 says neither won nor lost: it is not
reported."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas import OutcomeStatus
from services.connectors.crm import KEY_PREFIX

DEAL_STAGE = "dealstage"


@dataclass(frozen=True)
class Stage:
    closed: bool
    probability: float | None


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() == "true"


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def stages_of(pipelines: list[dict[str, Any]]) -> dict[str, dict[str, Stage]]:
    """pipeline id -> stage id -> Stage, from the pipelines API's ``results``."""
    found: dict[str, dict[str, Stage]] = {}
    for pipeline in pipelines:
        stages = {}
        for stage in pipeline.get("stages") or []:
            meta = stage.get("metadata") or {}
            stages[str(stage["id"])] = Stage(
                _flag(meta.get("isClosed")), _number(meta.get("probability"))
            )
        found[str(pipeline["id"])] = stages
    return found


def deal_status(
    stage_id: str, stages: Mapping[str, Stage], initial_stage: str
) -> OutcomeStatus | None:
    """The Outcome of a deal now in ``stage_id`` of a pipeline with ``stages``; None
    for a stage the pipeline does not have, or a closed one that is neither won nor lost."""
    stage = stages.get(stage_id)
    if stage is None:
        return None
    if stage.closed:
        if stage.probability == 1.0:
            return OutcomeStatus.won
        if stage.probability == 0.0:
            return OutcomeStatus.lost
        return None
    return OutcomeStatus.opened if stage_id == initial_stage else OutcomeStatus.in_progress


def case_of(case_key: str | None) -> str | None:
    """The case id in a deal's case property (``antenna-<case id>``); None for a deal
    Antenna did not create."""
    if not case_key or not case_key.startswith(KEY_PREFIX):
        return None
    return case_key[len(KEY_PREFIX) :] or None
