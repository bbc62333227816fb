"""Write the JSON Schema of every contract model to schemas/json/ (``make schemas``)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

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
)
from schemas.classification import Classification

JSON_DIR = Path(__file__).parent / "json"
MODELS: dict[str, type[BaseModel]] = {
    "signal": Signal,
    "classification": Classification,
    "routed_signal": RoutedSignal,
    "delivery_result": DeliveryResult,
    "dead_letter": DeadLetter,
    "outcome": Outcome,
    "notification_preference": NotificationPreference,
    "insight_snapshot": InsightSnapshot,
    "record_change": RecordChange,
    "incident": Incident,
    "label": Label,
    "case_correction": CaseCorrection,
}


def render(model: type[BaseModel]) -> str:
    return (
        json.dumps(model.model_json_schema(mode="serialization"), indent=2, sort_keys=True) + "\n"
    )


def expected_files() -> dict[Path, str]:
    return {JSON_DIR / f"{name}.schema.json": render(model) for name, model in MODELS.items()}


def main() -> None:
    JSON_DIR.mkdir(exist_ok=True)
    for path, text in expected_files().items():
        path.write_text(text)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
