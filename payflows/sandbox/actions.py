"""What a merchant does to a purchase after the card: capture, release, cancel, refund.

Each action first applies what fell due (a hold may have expired meanwhile), then checks the
status against the one transition table and moves through the ``pending_*`` status, with the
platform's attempt logged in between, as the real bodies show (samples 09-11, 15, 16).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Final

from payflows.domain.states import InvalidTransition, Op, Result, Status, next_status
from payflows.sandbox import wire
from payflows.sandbox.core import Core
from payflows.sandbox.errors import GatewayError, NotFound, cents, state_error
from payflows.sandbox.state import Purchase, Refund
from payflows.sandbox.timeline import Timeline, cleared

__all__ = ["Actions"]

PAID_LIKE: Final = frozenset({Status.PAID, Status.CLEARED, Status.SETTLED})


def _amount(body: dict[str, Any], default: int, limit: int, code: str, what: str) -> int:
    raw = body.get("amount")
    amount = default if raw is None else (cents(raw) if not isinstance(raw, str) else None)
    if amount is None or amount <= 0 or amount > limit:
        raise GatewayError.field("amount", code, f"Amount must be between 1 and {limit} ({what}).")
    return amount


class Actions:
    def __init__(self, core: Core, timeline: Timeline) -> None:
        self.core = core
        self.timeline = timeline

    def _current(self, purchase_id: str) -> tuple[Purchase, int]:
        p = self.core.get_purchase(purchase_id)
        now = self.core.now()
        self.timeline.due(p, now)
        return p, now

    def capture(self, purchase_id: str, body: dict[str, Any]) -> Purchase:
        p, now = self._current(purchase_id)
        if p.status != Status.HOLD:
            raise state_error("purchase_capture_error", f"Purchase is {p.status}, not hold.")
        authorised = p.authorised_amount
        amount = _amount(body, authorised, authorised, "purchase_capture_error", "authorised")
        self.core.move(p, Op.CAPTURE, Result.STARTED, now)
        # A partial capture releases the remainder: only `amount` is ever paid.
        p.captured = amount
        p.paid_on = now
        p.payment = wire.payment(p, amount, now)
        self.core.attempt(p, "capture", now, fee=wire.fee_for(amount), amount=amount)
        self.core.move(p, Op.CAPTURE, Result.APPROVED, now)
        return p

    def release(self, purchase_id: str) -> Purchase:
        p, now = self._current(purchase_id)
        if p.status not in (Status.HOLD, Status.PREAUTHORIZED):
            raise state_error("purchase_release_error", f"Purchase is {p.status}, not hold.")
        self.core.move(p, Op.RELEASE, Result.STARTED, now)
        self.core.attempt(p, "release", now, amount=p.authorised_amount)
        self.core.move(p, Op.RELEASE, Result.APPROVED, now)
        return p

    def cancel(self, purchase_id: str) -> Purchase:
        """Cancel anything not yet paid out; a paid purchase only until it clears (one day)."""
        p, now = self._current(purchase_id)
        try:
            next_status(p.status, Op.CANCEL, Result.APPROVED)
        except InvalidTransition:
            allowed = False
        else:
            allowed = not (p.status == Status.PAID and cleared(p, now))
        if not allowed:
            raise state_error(
                "purchase_cancel_error", f"Purchase is {p.status} and cannot be cancelled."
            )
        p.cancelled_on = now
        self.core.move(p, Op.CANCEL, Result.APPROVED, now)
        return p

    def refund(self, purchase_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """A refund: the answer is CHIP's payment object, as ``payment.refunded`` carries it."""
        p, now = self._current(purchase_id)
        if p.status not in PAID_LIKE:
            raise state_error("purchase_refund_error", f"Purchase is {p.status}, not paid.")
        refundable = p.refundable_amount
        amount = _amount(body, refundable, refundable, "purchase_refund_error", "refundable")
        self.core.move(p, Op.REFUND, Result.STARTED, now)
        refund = Refund(
            id=str(uuid.uuid4()),
            purchase_id=p.id,
            amount=amount,
            currency=p.currency,
            created_on=now,
        )
        self.core.state.refunds[refund.id] = refund
        self.core.state.changed("refunds", refund.id)
        p.refunded += amount
        p.refund_ids.append(refund.id)
        self.core.attempt(p, "refund", now, amount=amount)
        final = p.captured - p.refunded == 0
        result = Result.APPROVED if final else Result.PARTIAL
        self.core.move(p, Op.REFUND, result, now, publish=False)
        body_of: Callable[[], dict[str, Any]] = lambda: wire.refund_wire(p, refund)  # noqa: E731
        self.core.publish(p, "payment.refunded", body_of)
        return wire.refund_wire(p, refund)

    def cancel_refund(self, purchase_id: str, refund_id: str) -> dict[str, Any]:
        p = self.core.get_purchase(purchase_id)
        refund = self.core.state.refunds.get(refund_id)
        if refund is None or refund.purchase_id != p.id:
            raise NotFound()
        now = self.core.now()
        self.timeline.settle_refund(refund, now)
        if refund.status != "pending":
            raise state_error("refund_cancel_error", f"Refund is {refund.status}.")
        try:
            next_status(p.status, Op.REFUND_CANCEL, Result.APPROVED, previous=p.prior_status)
        except InvalidTransition:
            raise state_error(
                "refund_cancel_error", f"Purchase is {p.status}: the refund cannot be cancelled."
            ) from None
        refund.status = "cancelled"
        refund.cancelled_on = now
        self.core.state.changed("refunds", refund.id)
        p.refunded -= refund.amount
        self.core.move(p, Op.REFUND_CANCEL, Result.APPROVED, now)
        return wire.refund_wire(p, refund)
