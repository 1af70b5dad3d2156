"""Sandbox time and what falls due on it: hold expiry, clearing and settlement, refunds.

Nothing here runs on a timer: :meth:`Timeline.run_due` applies whatever fell due by "now" when
the clock is advanced, when the sandbox starts, and before any operation on a purchase, so a
read-back always shows the status the real gateway would have by then.

Settlement is as the real platform does it (sample 07): the status stays ``paid`` and
``purchase.settled`` arrives with ``transaction_data.extra.settlement.settled_on``. Clearing
(one day after payment) changes nothing visible but ends the window in which a paid purchase can
still be cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from payflows.domain.states import Op, Result, Status
from payflows.sandbox.clock import MAX_OFFSET_SECONDS
from payflows.sandbox.core import DAY, Core
from payflows.sandbox.errors import GatewayError
from payflows.sandbox.state import Purchase, Refund, ThreeDSSession

__all__ = ["MAX_OFFSET_SECONDS", "Timeline", "hold_window"]

#: When a paid purchase clears (no more cancelling) and when it settles, after ``paid_on``.
CLEARS_AFTER: Final = DAY
SETTLES_AFTER: Final = 2 * DAY


def hold_window(p: Purchase) -> int:
    """Seconds a hold stays valid, by network and initiator (docs/test-cards.md)."""
    brand = p.card.brand if p.card else ""
    card = p.payment_method_details.get("card")
    merchant_initiated = isinstance(card, dict) and bool(card.get("is_recurring"))
    if brand == "visa":
        return (5 if merchant_initiated else 7) * DAY
    if brand == "mastercard":
        return (30 if p.skip_capture else 7) * DAY
    return 7 * DAY


def cleared(p: Purchase, now: int) -> bool:
    """A paid purchase has cleared for settlement: too late to cancel, only a refund undoes it."""
    return p.paid_on is not None and now >= p.paid_on + CLEARS_AFTER


class Timeline:
    def __init__(self, core: Core, abandon: Callable[[ThreeDSSession, int], None]) -> None:
        self.core = core
        self._abandon = abandon

    def advance(self, seconds: object) -> None:
        """Move sandbox time forward and apply everything that fell due on the way.

        The amount is checked before anything changes, so a refused advance leaves the clock
        (and the state file) as they were.
        """
        clock = self.core.clock
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not 0 <= seconds <= MAX_OFFSET_SECONDS
            or clock.offset + seconds > MAX_OFFSET_SECONDS
        ):
            raise GatewayError.field(
                "seconds",
                "invalid",
                f"A number of seconds from 0 to {MAX_OFFSET_SECONDS - int(clock.offset)} "
                f"(the sandbox clock runs at most {MAX_OFFSET_SECONDS} s ahead).",
            )
        clock.advance(float(seconds))
        self.core.state.clock_offset = clock.offset
        self.core.state.mark_dirty()
        self.run_due()

    def run_due(self) -> None:
        now = self.core.now()
        state = self.core.state
        for purchase in list(state.purchases.values()):
            self.due(purchase, now)
        for refund in state.refunds.values():
            self.settle_refund(refund, now)
        for session in list(state.sessions.values()):
            self._abandon(session, now)

    def due(self, p: Purchase, now: int) -> None:
        """Apply hold expiry and settlement that fell due for ``p`` by ``now``."""
        if p.status in (Status.HOLD, Status.PREAUTHORIZED) and p.authorised_on is not None:
            expires_at = p.authorised_on + hold_window(p)
            if now >= expires_at:
                self.core.move(p, Op.EXPIRE, Result.APPROVED, expires_at)
            return
        if p.paid_on is None or p.settled_on is not None:
            return
        settles_at = p.paid_on + SETTLES_AFTER
        if p.status in ("paid", "cleared") and now >= settles_at:
            p.settled_on = settles_at
            p.updated_on = max(p.updated_on, settles_at)
            self.core.state.changed("purchases", p.id)
            self.core.publish(p, "purchase.settled")

    def settle_refund(self, refund: Refund, now: int) -> None:
        if refund.status == "pending" and now >= refund.created_on + DAY:
            refund.status = "settled"
            refund.settled_on = refund.created_on + DAY
            self.core.state.changed("refunds", refund.id)
