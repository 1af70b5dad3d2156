"""``payflows serve``: every catalog deployment, with its schedule, from one process.

Prefect's ``serve`` registers the deployments with the server (``PREFECT_API_URL``), creates
their scheduled runs and executes each run in a subprocess of this one; at most ``limit`` at
once. Right for a single machine; beyond one, use ``prefect.yaml`` and a work pool.
"""

from __future__ import annotations

import sys
from typing import Any

from deployments.catalog import CATALOG, DeploymentSpec

__all__ = ["runner_deployments", "serve_catalog"]


def runner_deployments(
    specs: tuple[DeploymentSpec, ...] | list[DeploymentSpec] = CATALOG, *, schedules: bool = True
) -> list[Any]:
    """The available entries as Prefect runner deployments; each left-out one is named on stderr."""
    found = []
    for spec in specs:
        if spec.missing is not None:
            print(f"payflows serve: skipping {spec.full_name}: {spec.missing}", file=sys.stderr)
            continue
        found.append(spec.to_runner_deployment(schedules=schedules))
    return found


def serve_catalog(*, limit: int = 4, schedules: bool = True) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    from prefect import serve

    serve(*runner_deployments(schedules=schedules), limit=limit)
