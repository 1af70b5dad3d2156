"""``prefect.yaml`` from the catalog: ``payflows deployments yaml > prefect.yaml``.

The checked-in file is generated, never edited by hand; a test fails when it and the catalog
disagree. Entries whose flow module is not in this checkout are left out (and named in the
header), so ``prefect deploy --all`` deploys exactly what ``payflows serve`` serves.

No ``pull`` section: ``prefect deploy`` run from the project directory then records a
``set_working_directory`` step to that directory, which is right for a process work pool on
the same machine. For workers elsewhere (other machines, Kubernetes) see docs/deployments.md.
"""

from __future__ import annotations

from typing import Any

import yaml

from deployments.catalog import (
    CATALOG,
    DEFAULT_WORK_POOL,
    TIMEZONE,
    DeploymentSpec,
)

__all__ = ["deployment_entry", "prefect_yaml"]

_HEADER = """\
# Generated from deployments/catalog.py by `payflows deployments yaml > prefect.yaml`:
# do not edit by hand (a test compares the two). Deploy every entry to a process work pool with
#   prefect work-pool create payflows-process --type process   # once
#   prefect --no-prompt deploy --all                            # from this directory
#   prefect worker start --pool payflows-process                # on each machine that runs flows
# Another pool: payflows deployments yaml --work-pool NAME > prefect.yaml (`prefect deploy
# --all` ignores --pool). Kubernetes: docs/deployments.md.
"""


def deployment_entry(spec: DeploymentSpec, work_pool: str = DEFAULT_WORK_POOL) -> dict[str, Any]:
    """One item of ``deployments:`` with the same values ``payflows serve`` applies."""
    schedules: list[dict[str, Any]] = []
    if spec.cron:
        schedules.append({"cron": spec.cron, "timezone": TIMEZONE, "active": True})
    if spec.interval_seconds:
        schedules.append({"interval": spec.interval_seconds, "timezone": TIMEZONE, "active": True})
    entry: dict[str, Any] = {
        "name": spec.name,
        "entrypoint": spec.entrypoint,
        "description": spec.description,
        "tags": list(spec.tags),
        "parameters": spec.parameters,
        # Prefect's default, said out loud: the server checks a run's parameters against the
        # flow's schema before storing them, so a card number in a text field is refused (409).
        "enforce_parameter_schema": True,
        "schedules": schedules,
    }
    if spec.concurrency_limit is not None:
        entry["concurrency_limit"] = spec.concurrency_limit
    entry["work_pool"] = {"name": work_pool, "work_queue_name": None, "job_variables": {}}
    return entry


def prefect_yaml(work_pool: str = DEFAULT_WORK_POOL) -> str:
    """The whole file: project name, no build or push, one entry per available deployment."""
    entries = [spec for spec in CATALOG if spec.missing is None]
    skipped = [spec for spec in CATALOG if spec.missing is not None]
    header = _HEADER
    if skipped:
        header += "# Left out (flow module not in this checkout):\n" + "".join(
            f"#   {spec.full_name}: {spec.entrypoint}\n" for spec in skipped
        )
    body = {
        "name": "payflows",
        "prefect-version": "3",
        "build": None,
        "push": None,
        "deployments": [deployment_entry(spec, work_pool) for spec in entries],
    }
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)
