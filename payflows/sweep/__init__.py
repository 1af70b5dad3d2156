"""Pre-authorisation expiry sweeps: capture or void every hold before the network lets it lapse.

Prefect-free: the ``preauth-sweep`` flow (:mod:`flows.sweep`), ``payflows sweep`` and
``payflows holds`` (:mod:`apps.sweep_cli`) and the operator endpoint of the web app
(:mod:`apps.web.holds`) are thin wrappers. See ``docs/sweeps.md``.

    summary = await sweep_holds(ctx, as_of=now, worker_id="sweeper-1")
    summary.captured, summary.voided, summary.unresolved
"""

from payflows.sweep.decisions import (
    DecisionRefused,
    HoldNotOpen,
    HoldView,
    InvalidDecision,
    UnknownHold,
    decide,
    hold_view,
    import_decisions,
    open_holds,
    set_policy,
)
from payflows.sweep.policy import Plan, PlanAction, deadline_of, plan_for, windows_from_settings
from payflows.sweep.run import SweepSummary, UnresolvedHold, count_due, sweep_holds

__all__ = [
    "DecisionRefused",
    "HoldNotOpen",
    "HoldView",
    "InvalidDecision",
    "Plan",
    "PlanAction",
    "SweepSummary",
    "UnknownHold",
    "UnresolvedHold",
    "count_due",
    "deadline_of",
    "decide",
    "hold_view",
    "import_decisions",
    "open_holds",
    "plan_for",
    "set_policy",
    "sweep_holds",
    "windows_from_settings",
]
