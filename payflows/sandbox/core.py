"""What every part of the sandbox engine shares: the records, the clock, the one way a status
changes, and the attempt log.

Every status change goes through :func:`payflows.domain.states.next_status`, the one table the
ledger also uses, inside :meth:`Core.move`. That one method appends to ``status_history`` and
publishes the webhook event of the transition, so no path can change a status and forget the
history or the event. Methods are synchronous and run on the event loop; each request is
therefore atomic with respect to every other.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Final

from payflows.domain.states import Op, Result, Status, next_status
from payflows.sandbox import wire
from payflows.sandbox.cards import Decline
from payflows.sandbox.clock import SandboxClock
from payflows.sandbox.config import SandboxConfig
from payflows.sandbox.errors import NotFound
from payflows.sandbox.events import EventBus, event_for
from payflows.sandbox.state import Purchase, SandboxState

__all__ = ["DAY", "Core"]

DAY: Final = 86_400


class Core:
    """The state, clock, config and event bus, with the primitives every service uses."""

    def __init__(
        self, state: SandboxState, clock: SandboxClock, config: SandboxConfig, bus: EventBus
    ) -> None:
        self.state = state
        self.clock = clock
        self.config = config
        self.bus = bus

    def now(self) -> int:
        return int(self.clock.now())

    def today(self, now: int | None = None) -> date:
        return datetime.fromtimestamp(self.now() if now is None else now, UTC).date()

    def get_purchase(self, purchase_id: str) -> Purchase:
        p = self.state.purchases.get(purchase_id)
        if p is None:
            raise NotFound()
        return p

    def move(
        self, p: Purchase, op: Op, result: Result, when: int, *, publish: bool = True
    ) -> Status:
        """The one way a status changes: table, history, ``updated_on``, event."""
        new = next_status(p.status, op, result, previous=p.prior_status)
        if result is Result.STARTED:
            p.prior_status = p.status
        if new != p.status:
            p.status = new.value
            p.status_history.append({"status": new.value, "timestamp": when})
        p.updated_on = max(p.updated_on, when)
        self.state.changed("purchases", p.id)
        if publish:
            event = event_for(op, result, new)
            if event is not None:
                self.publish(p, event)
        return new

    def publish(
        self, p: Purchase, event: str, body: Callable[[], dict[str, Any]] | None = None
    ) -> None:
        """Send ``event`` for ``p``: the purchase object unless ``body`` makes another."""
        self.bus.publish(p, event, body or (lambda: wire.purchase_wire(p)))

    def attempt(
        self,
        p: Purchase,
        kind: str,
        now: int,
        *,
        decline: Decline | None = None,
        fee: int = 0,
        amount: int | None = None,
    ) -> None:
        """Log an attempt of the platform's ``kind`` (execute, authorize, capture, release,
        refund, recurring_execute, delete_recurring_token), newest first."""
        error = decline.as_error() if decline is not None else None
        p.attempts.insert(0, wire.attempt(p, kind, now, error=error, fee=fee, amount=amount))
        p.updated_on = max(p.updated_on, now)
        self.state.changed("purchases", p.id)
