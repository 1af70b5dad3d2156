"""The tags every payflows flow run carries, so automations (and filters in the UI) can match it.

A run's tags say what it is: ``payflows`` on every run, then its kind and its name —
``pipeline`` and ``pipeline:subscription-billing``, ``scenario`` and
``scenario:customer-initiated-payment``, ``operator`` and ``operator:payment-lookup`` — and, for
a pipeline, its area (``billing``, ``holds``, ``report``, ``imports``, ``recovery``).
``docs/ops/automations.yaml`` matches them (a failed run tagged ``payflows``; one tagged
``pipeline:settlement-report``...).

Two ways a run gets them, one source: a deployment's runs inherit the deployment's tags, which
the catalog takes from :func:`tags_for` (:mod:`deployments.catalog`); a flow called in-process
(CLI, business day, web app) is started inside :func:`run_tags`, Prefect's ``tags`` context.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

__all__ = ["OPERATOR_TOOLS", "PIPELINES", "run_tags", "tags_for"]

#: The pipelines by flow name, with their area (a tag of its own).
PIPELINES: dict[str, str] = {
    "subscription-billing": "billing",
    "sharded-billing": "billing",
    "preauth-sweep": "holds",
    "settle-unresolved": "recovery",
    "settlement-report": "report",
    "csv-inbox-import": "imports",
    "csv-billing-import": "imports",
}

#: Flows an operator runs to look things up; they move no money.
OPERATOR_TOOLS = frozenset({"payment-lookup"})


def tags_for(flow_name: str) -> tuple[str, ...]:
    """The tags of every run of ``flow_name``; a flow not listed above is a payment scenario."""
    if flow_name in PIPELINES:
        return ("payflows", "pipeline", f"pipeline:{flow_name}", PIPELINES[flow_name])
    if flow_name in OPERATOR_TOOLS:
        return ("payflows", "operator", f"operator:{flow_name}")
    return ("payflows", "scenario", f"scenario:{flow_name}")


def run_tags(flow_name: str) -> AbstractContextManager[Any]:
    """Prefect's ``tags`` context with :func:`tags_for`: a flow run started inside it (in this
    process) carries them, as a deployment's runs do::

        with run_tags(subscription_billing.name):
            summary = await subscription_billing(as_of=when)
    """
    from prefect import tags

    return tags(*tags_for(flow_name))
