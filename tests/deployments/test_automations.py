"""The automations of docs/ops/automations.yaml land on the Prefect server, once each."""

from __future__ import annotations

from pathlib import Path

import yaml
from prefect.client.orchestration import get_client

from deployments.automations import AUTOMATIONS_FILE, automation_specs, install_automations
from tests.support.prefect_server import PrefectServer

NAMES = {
    "payflows run failed or crashed",
    "payflows billing failure rate",
    "payflows reconciliation mismatches",
    "payflows hold unresolved",
}


async def _ours() -> list:
    async with get_client() as client:
        return [a for a in await client.read_automations() if a.name.startswith("payflows ")]


async def test_installing_twice_creates_each_automation_once_and_updates_it(
    prefect_api: PrefectServer, tmp_path: Path
) -> None:
    first = await install_automations()
    assert set(first) >= NAMES
    ids = {a.name: a.id for a in await _ours()}

    doc = yaml.safe_load(AUTOMATIONS_FILE.read_text())
    doc["automations"][0]["description"] = "changed by the test"
    changed = tmp_path / "automations.yaml"
    changed.write_text(yaml.safe_dump(doc))
    await install_automations(changed)

    after = await _ours()
    assert sorted(a.name for a in after) == sorted(first)  # no duplicates
    assert {a.name: a.id for a in after} == ids  # updated in place
    [failed] = [a for a in after if a.name == "payflows run failed or crashed"]
    assert failed.description == "changed by the test"
    assert [action.type for action in failed.actions] == ["do-nothing"]  # no block configured


def test_failed_runs_are_matched_by_state_type_not_by_state_name() -> None:
    [failed] = [a for a in automation_specs() if a.name == "payflows run failed or crashed"]
    match = failed.trigger.match.root
    assert match["prefect.state-type"] == ["FAILED", "CRASHED"]
    assert failed.trigger.expect == {"prefect.flow-run.*"}


def test_a_configured_notification_block_replaces_the_placeholder() -> None:
    block = "6f1c7a0e-1111-4b7c-9d2e-0123456789ab"
    for spec in automation_specs(block_id=block):
        assert [str(a.block_document_id) for a in spec.actions] == [block]
