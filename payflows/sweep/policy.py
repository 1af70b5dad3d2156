"""What to do with one hold at a given moment: the sweep's decision table, without I/O.

The merchant's word comes first: a *cancelled* hold (decision ``void``) is voided at the next
sweep, because networks expect an unneeded hold released within 24 hours; a *fulfilled* hold
(decision ``capture`` for an amount) is captured at the next sweep. An undecided hold is left
alone until its act-by time (deadline minus the safety margin), then gets its own policy or the
merchant's default: capture in full, void, or alert (leave it and ask a person). The deadline is
the gateway's expiry when it gave one, else the network table of
:class:`~payflows.domain.holds.AuthorisationWindows`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from payflows.domain.holds import DEFAULT_WINDOWS, AuthorisationWindows
from payflows.ledger.models import HoldDecision, HoldPolicy

if TYPE_CHECKING:
    from payflows.settings import Settings

__all__ = [
    "Plan",
    "PlanAction",
    "deadline_of",
    "plan_for",
    "windows_from_settings",
]


class PlanAction(StrEnum):
    CAPTURE = "capture"
    VOID = "void"
    ALERT = "alert"
    WAIT = "wait"


@dataclass(frozen=True, slots=True)
class Plan:
    """The sweep's intention for one hold, and the reason recorded beside what it did."""

    action: PlanAction
    reason: str
    #: For a capture: how much (``None`` is everything authorised).
    amount_cents: int | None = None


def windows_from_settings(settings: Settings) -> AuthorisationWindows:
    """The network table with the merchant's overrides and safety margin."""
    days = {name: timedelta(days=value) for name, value in settings.hold_windows_days.items()}
    return dataclasses.replace(
        DEFAULT_WINDOWS,
        safety_margin=timedelta(hours=settings.hold_safety_margin_hours),
        **days,  # type: ignore[arg-type]
    )


def deadline_of(hold: Any, windows: AuthorisationWindows) -> datetime:
    """A hold's deadline: the gateway's expiry, else the table for its network and flags."""
    return windows.deadline(
        hold.authorised_at,
        hold.brand,
        is_mit=bool(hold.is_mit),
        extended=bool(getattr(hold, "extended", False)),
        gateway_expiry=getattr(hold, "gateway_expires_at", None),
    )


def plan_for(
    hold: Any,
    as_of: datetime,
    *,
    windows: AuthorisationWindows = DEFAULT_WINDOWS,
    default_policy: HoldPolicy | str = HoldPolicy.CAPTURE,
) -> Plan:
    """What the sweep should do with an open ``hold`` at ``as_of`` (see the module docstring).

    ``hold`` is anything with the :class:`~payflows.ledger.Hold` columns (a row or a model);
    ``windows`` gives the safety margin.
    """
    decision = HoldDecision(hold.decision)
    # The deadline stored with the hold (set when it was recorded, or when its terms changed).
    deadline: datetime = hold.expires_at
    late = as_of >= deadline
    if decision is HoldDecision.VOID:
        return Plan(PlanAction.VOID, "cancelled by the merchant")
    if decision is HoldDecision.CAPTURE:
        amount = hold.decision_cents
        if amount is None or amount >= hold.authorised_cents:
            return Plan(PlanAction.CAPTURE, "fulfilled by the merchant", None)
        return Plan(PlanAction.CAPTURE, "fulfilled by the merchant (partial)", amount)
    act_by = windows.act_by(deadline)
    if as_of < act_by:
        return Plan(PlanAction.WAIT, f"undecided; act by {act_by.isoformat()}")
    policy = HoldPolicy(hold.policy) if hold.policy is not None else HoldPolicy(default_policy)
    source = "hold policy" if hold.policy is not None else "default policy"
    when = "past its deadline" if late else "at its act-by time"
    if policy is HoldPolicy.CAPTURE:
        return Plan(PlanAction.CAPTURE, f"undecided {when}: {source} capture")
    if policy is HoldPolicy.VOID:
        return Plan(PlanAction.VOID, f"undecided {when}: {source} void")
    return Plan(PlanAction.ALERT, f"undecided {when}: {source} alert")
