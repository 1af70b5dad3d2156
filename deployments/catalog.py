"""The one list of payflows deployments: what runs when, with which parameters.

``payflows serve``, ``payflows up``, ``prefect.yaml`` (``payflows deployments yaml``) and the
docs' table are all made from :data:`CATALOG`. Deployments point at flows by entrypoint
(``path/to/module.py:function``), never the reverse: no flow knows it is deployed.

Schedules are in the merchant's time zone (:data:`TIMEZONE`). Scenario flows have no schedule:
they are for manual runs from the Prefect UI, and where their default parameters make a whole
run (``quick_run``) the UI's "Quick run" pays a sandbox test card with a business id taken from
the flow run's id, so each Quick run is a new order. Flows that act on an earlier purchase
(capture, void, refund...) need its id: "Custom run" in the UI. ``complete-3ds`` is not
deployed: the bank's answer (PaRes) reaches it through the web app's TermUrl only.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from flows._tags import tags_for
from flows.scenarios import SCENARIOS, Scenario

__all__ = [
    "CATALOG",
    "DEFAULT_WORK_POOL",
    "PROJECT_ROOT",
    "TIMEZONE",
    "DeploymentSpec",
    "available",
    "by_name",
]

#: The merchant's time zone: billing at 02:00 is 02:00 in Johannesburg (no daylight saving).
TIMEZONE = "Africa/Johannesburg"
#: The work pool ``prefect.yaml`` targets (``payflows deployments yaml --work-pool`` for another).
DEFAULT_WORK_POOL = "payflows-process"
#: The directory entrypoints are relative to (the repository root, where prefect.yaml lives).
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment. ``full_name`` (``flow/deployment``) is what ``run_deployment`` takes.

    ``tags`` start with the flow's own (:func:`flows._tags.tags_for`: ``payflows``,
    ``pipeline:<flow>``...), which every run of the deployment inherits; an entry adds its own.
    """

    flow_name: str
    name: str
    entrypoint: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)
    cron: str | None = None
    interval_seconds: int | None = None
    tags: tuple[str, ...] = ()
    concurrency_limit: int | None = None
    #: The default parameters make a whole run (the UI's Quick run works).
    quick_run: bool = False

    def __post_init__(self) -> None:
        merged = dict.fromkeys((*tags_for(self.flow_name), *self.tags))
        object.__setattr__(self, "tags", tuple(merged))

    @property
    def full_name(self) -> str:
        return f"{self.flow_name}/{self.name}"

    @property
    def module(self) -> str:
        return self.entrypoint.split(":", 1)[0].removesuffix(".py").replace("/", ".")

    @property
    def function(self) -> str:
        return self.entrypoint.split(":", 1)[1]

    @property
    def schedule_text(self) -> str:
        if self.cron:
            return f"cron `{self.cron}` ({TIMEZONE})"
        if self.interval_seconds:
            return f"every {self.interval_seconds // 60} min"
        return "manual"

    @cached_property
    def missing(self) -> str | None:
        """Why the flow cannot be loaded here (its module is absent), or None."""
        try:
            module = importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            if exc.name and self.module.startswith(exc.name):
                return f"{self.entrypoint}: module {self.module} is not in this checkout"
            raise
        if not hasattr(module, self.function):
            return f"{self.entrypoint}: {self.module} has no {self.function}"
        return None

    def load_flow(self) -> Any:
        """The Prefect flow object of the entrypoint."""
        return getattr(importlib.import_module(self.module), self.function)

    @property
    def schedule_key(self) -> str | None:
        """What identifies this entry's schedule on the server (``cron:...``, ``interval:N``)."""
        if self.cron:
            return f"cron:{self.cron}"
        if self.interval_seconds:
            return f"interval:{self.interval_seconds}"
        return None

    def to_runner_deployment(
        self, *, schedules: bool = True, paused: bool = False, schedule_active: bool = True
    ) -> Any:
        """The deployment as ``prefect.serve`` takes it (same values as in prefect.yaml).

        ``paused`` and ``schedule_active`` carry what an operator chose in the UI, so serving
        again does not undo it (:func:`deployments.serve.operator_choices`).
        """
        from prefect.schedules import Cron, Interval

        plan: list[Any] = []
        if schedules and self.cron:
            plan.append(Cron(self.cron, timezone=TIMEZONE, active=schedule_active))
        if schedules and self.interval_seconds:
            plan.append(Interval(self.interval_seconds, timezone=TIMEZONE, active=schedule_active))
        return self.load_flow().to_deployment(
            name=self.name,
            schedules=plan or None,
            parameters=dict(self.parameters),
            description=self.description,
            tags=list(self.tags),
            concurrency_limit=self.concurrency_limit,
            paused=paused,
            # The server checks parameters against the schema before storing a run (the card
            # number patterns of flows/_fields.py): Prefect's default, kept on.
            enforce_parameter_schema=True,
        )


def _manual(scenario: Scenario) -> DeploymentSpec:
    """A scenario for manual runs, named after what it does (``take-a-card-payment``).

    Its description is the CLI's help; its default parameters, the sample form (flat, as the
    Prefect UI shows it), where that makes a whole run.
    """
    assert scenario.deployment is not None
    return DeploymentSpec(
        flow_name=scenario.flow_name,
        name=scenario.deployment,
        entrypoint=scenario.entrypoint,
        description=scenario.help,
        parameters=dict(scenario.sample),
        quick_run=bool(scenario.sample),
    )


#: The child deployment of ``sharded-billing``, which is told its name by its parameters.
_BILLING_SHARD = DeploymentSpec(
    flow_name="subscription-billing",
    name="shard",
    entrypoint="flows/sharded_billing.py:billing_shard",
    description=(
        "One shard of a sharded billing run (started by sharded-billing with its own "
        "worker_id); the result is persisted so the parent can add the summaries up."
    ),
    tags=("shard",),
    concurrency_limit=16,
    quick_run=True,
)

CATALOG: tuple[DeploymentSpec, ...] = (
    # -- pipelines on a schedule ---------------------------------------------------------------
    DeploymentSpec(
        flow_name="subscription-billing",
        name="nightly",
        entrypoint="flows/billing.py:subscription_billing",
        description="Bill every due subscription once (MIT), with dunning. 02:00 every day.",
        cron="0 2 * * *",
        # Two nightly runs at once would be safe (claims) but pointless: one at a time.
        concurrency_limit=1,
        quick_run=True,
    ),
    _BILLING_SHARD,
    DeploymentSpec(
        flow_name="sharded-billing",
        name="scale-out",
        entrypoint="flows/sharded_billing.py:sharded_billing",
        description=(
            "Billing split across several concurrent flow runs of subscription-billing/shard, "
            "executed by the work pool's workers. Schedule it instead of the nightly run when "
            "one machine is not enough."
        ),
        parameters={"shards": 2, "deployment": _BILLING_SHARD.full_name},
        concurrency_limit=1,
        quick_run=True,
    ),
    DeploymentSpec(
        flow_name="preauth-sweep",
        name="hourly",
        entrypoint="flows/sweep.py:preauth_sweep",
        description="Capture or void holds before their network deadline. Every hour.",
        cron="0 * * * *",
        concurrency_limit=1,
        quick_run=True,
    ),
    DeploymentSpec(
        flow_name="settle-unresolved",
        name="every-minute",
        entrypoint="flows/settle_unresolved.py:settle_unresolved",
        description=(
            "Read back single payments (CIT, pre-auth, MIT charge) a killed process left in "
            "flight for 30 s; nothing is sent again. Fails while one stays unknown. Every minute."
        ),
        cron="* * * * *",
        concurrency_limit=1,
        quick_run=True,
    ),
    # The day that just ended, as the flow's own DAILY_CRON says (a test keeps them in step).
    DeploymentSpec(
        flow_name="settlement-report",
        name="daily",
        entrypoint="flows/report.py:settlement_report",
        description="The settlement report of the day that just ended. 00:15 daily.",
        cron="15 0 * * *",
        concurrency_limit=1,
        quick_run=True,
    ),
    DeploymentSpec(
        flow_name="csv-inbox-import",
        name="inbox",
        entrypoint="flows/csv_inbox.py:csv_inbox_import",
        description=(
            "Import every CSV dropped in the inbox folder (PAYFLOWS_INBOX_DIR), then move it "
            "to done/ or failed/. Every 5 minutes."
        ),
        interval_seconds=300,
        concurrency_limit=1,
        quick_run=True,
    ),
    DeploymentSpec(
        flow_name="payment-lookup",
        name="find-a-payment",
        entrypoint="flows/lookup.py:payment_lookup",
        description=(
            "Find payments by order id, email, last four card digits or purchase id: status, "
            "decline reason, amounts, refunds, hold, and the deployment of each action."
        ),
    ),
    DeploymentSpec(
        flow_name="csv-billing-import",
        name="import-one-file",
        entrypoint="flows/csv_import.py:csv_billing_import",
        description="Import one CSV file by path (kind recognised by its header).",
    ),
    # -- scenario flows, for manual runs from the Prefect UI (flows/scenarios.py) ----------------
    *(_manual(scenario) for scenario in SCENARIOS if scenario.deployment),
)


def by_name(full_name: str) -> DeploymentSpec:
    """The entry called ``flow/deployment``."""
    for spec in CATALOG:
        if spec.full_name == full_name:
            return spec
    raise KeyError(full_name)


def available() -> list[DeploymentSpec]:
    """The entries whose flow is importable in this checkout."""
    return [spec for spec in CATALOG if spec.missing is None]
