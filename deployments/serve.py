"""``payflows serve``: every catalog deployment, with its schedule, from one process.

Prefect's ``serve`` registers the deployments with the server (``PREFECT_API_URL``), creates
their scheduled runs and executes each run in a subprocess of this one; at most ``limit`` at
once. Right for a single machine; beyond one, use ``prefect.yaml`` and a work pool.

Serving again keeps what an operator chose in the UI: a deployment or schedule paused there
stays paused (Prefect's ``serve`` would otherwise register it active again), and stopping the
server does not pause anything (Prefect's default ``pause_on_shutdown`` would, and the next
start could not tell the operator's pauses from its own). The automations of
``docs/ops/automations.yaml`` are installed at the same time (:mod:`deployments.automations`).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any

from deployments.catalog import CATALOG, DeploymentSpec

__all__ = ["OperatorChoice", "operator_choices", "runner_deployments", "serve_catalog"]


@dataclass(frozen=True)
class OperatorChoice:
    """What the server says an operator set on a deployment already registered there."""

    paused: bool = False
    schedule_active: bool = True


async def operator_choices(specs: list[DeploymentSpec]) -> dict[str, OperatorChoice]:
    """The paused flags of the catalog's deployments already on the server (none when new)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    found: dict[str, OperatorChoice] = {}
    async with get_client() as client:
        for spec in specs:
            try:
                deployment = await client.read_deployment_by_name(spec.full_name)
            except ObjectNotFound:
                continue
            active = [s.active for s in deployment.schedules]
            found[spec.full_name] = OperatorChoice(
                paused=bool(deployment.paused), schedule_active=all(active) if active else True
            )
    return found


def runner_deployments(
    specs: tuple[DeploymentSpec, ...] | list[DeploymentSpec] = CATALOG,
    *,
    schedules: bool = True,
    choices: dict[str, OperatorChoice] | None = None,
) -> list[Any]:
    """The available entries as Prefect runner deployments; each left-out one is named on stderr."""
    found = []
    choices = choices or {}
    for spec in specs:
        if spec.missing is not None:
            print(f"payflows serve: skipping {spec.full_name}: {spec.missing}", file=sys.stderr)
            continue
        choice = choices.get(spec.full_name, OperatorChoice())
        found.append(
            spec.to_runner_deployment(
                schedules=schedules, paused=choice.paused, schedule_active=choice.schedule_active
            )
        )
    return found


def serve_catalog(*, limit: int = 4, schedules: bool = True, automations: bool = True) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM), after installing the automations."""
    from prefect import serve

    specs = [spec for spec in CATALOG if spec.missing is None]
    choices = asyncio.run(operator_choices(specs))
    if automations:
        from deployments.automations import install_automations

        installed = asyncio.run(install_automations())
        print(f"payflows serve: {len(installed)} automations in place", file=sys.stderr)
    serve(
        *runner_deployments(specs, schedules=schedules, choices=choices),
        limit=limit,
        pause_on_shutdown=False,
    )
