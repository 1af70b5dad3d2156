"""The sweep's state and work items, shared by its claims, acting and effects modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from payflows.domain.holds import AuthorisationWindows
from payflows.domain.states import Status
from payflows.exactly_once import GroupedStore
from payflows.ledger import AttemptState, HoldDecision, StatusReport
from payflows.ledger.models import HoldPolicy
from payflows.pacing import Gate
from payflows.payments import PaymentContext
from payflows.sweep.summary import SweepSummary

__all__ = ["Item", "Result", "Run"]


@dataclass(slots=True)
class Item:
    hold_id: int
    purchase_id: str
    authorised_cents: int
    currency: str
    brand: str | None
    expires_at: datetime
    decision: HoldDecision
    decision_cents: int | None
    policy: HoldPolicy | None
    #: Our capture / void attempts, if any: (state, amount).
    capture: tuple[AttemptState, int] | None = None
    void: tuple[AttemptState, int] | None = None


@dataclass(slots=True)
class Result:
    item: Item
    #: None: nothing to record (not due after all); the claim is released.
    action: str | None
    reason: str = ""
    amount_cents: int | None = None
    alert: bool = False
    report: StatusReport | None = None
    #: Our capture / void attempt's outcome: (business key, state, purchase status).
    attempt: tuple[str, AttemptState, Status | None] | None = None
    #: A first request the gateway refused outright: forget its intent (nothing happened).
    withdraw: str | None = None


@dataclass
class Run:
    ctx: PaymentContext
    as_of: datetime
    worker_id: str
    windows: AuthorisationWindows
    default_policy: HoldPolicy
    lease: timedelta
    reconcile_all: bool
    summary: SweepSummary
    cursor: tuple[datetime, int] | None = None
    store: GroupedStore = None  # type: ignore[assignment]
    #: The gateway calls in flight (a slot per call: a hold waiting on the ledger holds none).
    gate: Gate = None  # type: ignore[assignment]
    #: When set, claims only these holds (a second pass over holds another sweep held).
    only: set[int] | None = None
    #: Holds this run claimed (met): a later pass over held ones never meets one twice.
    met: set[int] = field(default_factory=set)
