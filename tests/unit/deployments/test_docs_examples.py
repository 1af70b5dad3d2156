"""The automation examples of docs/operations.md are ones Prefect accepts."""

from __future__ import annotations

from pathlib import Path

import yaml
from prefect.events.schemas.automations import AutomationCore

ROOT = Path(__file__).resolve().parents[3]


def test_every_example_automation_is_valid() -> None:
    doc = yaml.safe_load((ROOT / "docs/ops/automations.yaml").read_text())
    automations = [AutomationCore.model_validate(a) for a in doc["automations"]]
    assert {a.name for a in automations} >= {"payflows hold unresolved"}
    [hold] = [a for a in automations if a.name == "payflows hold unresolved"]
    assert hold.trigger.expect == {"payflows.hold.unresolved"}


def test_the_deployments_doc_lists_every_catalog_entry() -> None:
    from deployments import CATALOG

    text = (ROOT / "docs/deployments.md").read_text()
    missing = [s.full_name for s in CATALOG if f"`{s.full_name}`" not in text]
    assert not missing, f"docs/deployments.md does not list {missing}"
