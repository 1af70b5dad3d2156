"""The billing run's state and work items, shared by its claims, acting and effects modules."""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from payflows.billing.dunning import DunningPolicy
from payflows.billing.schedule import CatchUp
from payflows.billing.summary import BillingSummary
from payflows.exactly_once import Budget, GroupedStore
from payflows.ledger import AttemptState, Outcome
from payflows.payments import PaymentContext

__all__ = ["Finish", "Item", "Run"]


@dataclass(slots=True)
class Item:
    owner_id: int  # the subscription's id, or the one-off charge's
    key: str
    state: AttemptState
    purchase_id: str | None
    amount_cents: int
    currency: str
    body: dict[str, Any] | None  # the create-purchase body, None when nothing can be sent
    token: str | None
    brand: str | None
    one_off: bool = False


@dataclass(slots=True)
class Finish:
    """An attempt's outcome and, in the same commit, its effect on the subscription (or on
    the one-off charge)."""

    owner_id: int
    key: str
    outcome: Outcome | None  # None: already recorded (a resolved attempt found again)
    release: bool = True
    one_off: bool = False


@dataclass
class Run:
    ctx: PaymentContext
    as_of: datetime
    worker_id: str
    policy: DunningPolicy
    catch_up: CatchUp
    lease_seconds: float
    summary: BillingSummary
    product: str
    store: GroupedStore = None  # type: ignore[assignment]
    budget: Budget = field(default_factory=Budget)
    deferred: list[int] = field(default_factory=list)
    deferred_one_offs: list[int] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    #: Validated purchase bodies by what they contain but the reference (bounded, LRU).
    bodies: OrderedDict[tuple[Any, ...], dict[str, Any]] = field(default_factory=OrderedDict)

    def defer(self, item: Item | Finish) -> None:
        """Keep the lease until the run ends (a retry within this run is not wanted)."""
        (self.deferred_one_offs if item.one_off else self.deferred).append(item.owner_id)
