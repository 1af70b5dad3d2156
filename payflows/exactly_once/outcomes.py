"""An attempt's outcome from a purchase as the gateway shows it: one mapping for every path.

Whether the purchase came from a full answer (:class:`~payflows.gateway.Purchase`) or the lean
one the bulk loops read (:class:`~payflows.gateway.PurchaseState`), its status says what became
of the attempt that created it through :func:`payflows.domain.attempts.state_for_status`, the
one status-to-attempt mapping; a purchase not yet acted on (``created``, ``viewed``) says
nothing (None), and may be acted on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from payflows.domain.attempts import AttemptState, state_for_status
from payflows.domain.states import Op, allowed
from payflows.ledger import Outcome

__all__ = ["chargeable", "outcome_from", "paid_figures"]


def paid_figures(purchase: Any) -> dict[str, Any]:
    """Paid amount, fee, net and paid time of an incoming payment, from either answer shape."""
    if hasattr(purchase, "paid_cents"):
        return {
            "paid_cents": purchase.paid_cents,
            "fee_cents": purchase.fee_cents,
            "net_cents": purchase.net_cents,
            "paid_at": purchase.paid_at,
        }
    payment = getattr(purchase, "payment", None)
    if payment is None or payment.is_outgoing or payment.amount is None:
        return {}
    return {
        "paid_cents": payment.amount,
        "fee_cents": payment.fee_amount,
        "net_cents": payment.net_amount,
        "paid_at": payment.paid_on,
    }


def outcome_from(key: str, purchase: Any, observed_at: datetime) -> Outcome | None:
    """The outcome of attempt ``key`` from its own purchase; None while nothing was submitted."""
    state = state_for_status(purchase.status)
    if state is None:
        return None
    decline = getattr(purchase, "last_error", None) if state is AttemptState.DECLINED else None
    return Outcome(
        AttemptState.UNKNOWN if state is AttemptState.SUBMITTED else state,
        business_key=key,
        purchase_status=purchase.status,
        decline_code=decline.code if decline else None,
        network_code=decline.network_code if decline else None,
        advice_code=decline.advice_code if decline else None,
        brand=purchase.card_brand,
        masked_pan=purchase.masked_pan,
        observed_at=observed_at,
        **paid_figures(purchase) if state is AttemptState.SUCCEEDED else {},
    )


def chargeable(purchase: Any) -> bool:
    """Unpaid, nothing in flight, and the purchase table lets a charge start from here."""
    return state_for_status(purchase.status) is None and allowed(purchase.status, Op.CHARGE)
