"""Serve every scenario flow as a deployment, so the Prefect UI can start any of them.

``payflows run serve`` keeps one process polling the Prefect server; each flow appears in the UI
with a form generated from its parameters model. From the UI a card can only be a sandbox test
card's NAME (a ``card_ref`` lives in the memory of the process that created it: the checkout or
a CLI prompt), so card flows run from the UI against the local sandbox.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEPLOYMENT_NAME", "SCHEDULES", "deployments", "serve_flows"]

DEPLOYMENT_NAME = "payflows"

#: Flows that run on a schedule when served (cron, UTC): the hold sweep every hour.
SCHEDULES = {"preauth-sweep": "0 * * * *"}


def deployments() -> list[Any]:
    from payflows.flows import ALL_FLOWS
    from payflows.flows.report import NAME as REPORT
    from payflows.flows.report import daily_schedule

    #: Flows that also run on a schedule when served (the daily settlement report).
    schedules: dict[str, dict[str, Any]] = {REPORT: {"schedule": daily_schedule()}}
    schedules.update({name: {"cron": cron} for name, cron in SCHEDULES.items()})
    return [
        flow.to_deployment(name=DEPLOYMENT_NAME, tags=["payflows"], **schedules.get(name, {}))
        for name, flow in ALL_FLOWS.items()
    ]


def serve_flows(limit: int = 4) -> None:
    """Serve until interrupted; at most ``limit`` flow runs at once."""
    from prefect import serve

    serve(*deployments(), limit=limit)
