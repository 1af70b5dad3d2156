"""The automations of ``docs/ops/automations.yaml``, installed through the Prefect API.

``payflows serve`` (and so ``payflows up``) calls :func:`install_automations` before serving:
each automation is created the first time and updated in place (found by its name) every
time after, so serving again never makes duplicates and a change to the YAML reaches the
server. Automations of other names are left alone.

The YAML's notification actions name a placeholder block (the zero id). With
``PAYFLOWS_NOTIFICATION_BLOCK_ID`` set to a notification block's id they notify through it;
without one they are installed with Prefect's ``do-nothing`` action, so each firing is still
recorded (the automation's history, the event feed) until someone attaches a block.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from deployments.catalog import PROJECT_ROOT

__all__ = ["AUTOMATIONS_FILE", "PLACEHOLDER_BLOCK", "automation_specs", "install_automations"]

AUTOMATIONS_FILE = PROJECT_ROOT / "docs" / "ops" / "automations.yaml"
PLACEHOLDER_BLOCK = "00000000-0000-0000-0000-000000000000"


def _actions(actions: list[dict[str, Any]], block_id: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for action in actions:
        if str(action.get("block_document_id")) != PLACEHOLDER_BLOCK:
            out.append(action)
        elif block_id:
            out.append({**action, "block_document_id": block_id})
        else:
            out.append({"type": "do-nothing"})
    return out


def automation_specs(path: Path = AUTOMATIONS_FILE, block_id: str | None = None) -> list[Any]:
    """The file's automations as Prefect ``AutomationCore`` objects, block id filled in."""
    from prefect.events.schemas.automations import AutomationCore

    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    specs = []
    for raw in doc["automations"]:
        entry = dict(raw)
        for key in ("actions", "actions_on_trigger", "actions_on_resolve"):
            if key in entry:
                entry[key] = _actions(entry[key], block_id)
        specs.append(AutomationCore.model_validate(entry))
    return specs


async def install_automations(
    path: Path = AUTOMATIONS_FILE, *, block_id: str | None = None
) -> list[str]:
    """Create or update every automation of ``path`` on the server; their names."""
    from prefect.client.orchestration import get_client

    block_id = block_id or os.environ.get("PAYFLOWS_NOTIFICATION_BLOCK_ID") or None
    names = []
    async with get_client() as client:
        for spec in automation_specs(path, block_id):
            existing = await client.read_automations_by_name(spec.name)
            if existing:
                await client.update_automation(existing[0].id, spec)
                for duplicate in existing[1:]:
                    await client.delete_automation(duplicate.id)
            else:
                await client.create_automation(spec)
            names.append(spec.name)
    return names
