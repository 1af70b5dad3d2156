"""Acting on a purchase whose id is durable: send, and settle what comes back, exactly once.

Shared by the single MIT charge (:func:`payflows.payments.charge_stored_card`) and the billing
run. A decline is final. A lost or failed answer (timeout, dropped connection, 5xx, still
throttled, a refusal such as "already paid") is never guessed at: the purchase is read back,
and its status decides (:func:`~payflows.exactly_once.outcomes.outcome_from`). When the
read-back shows the purchase still unpaid with nothing in flight, and the request was not
refused outright, the charge is sent again *on the same purchase*, within the caller's budget:
the gateway pays a purchase at most once, so that can never charge twice, and the customer is
billed tonight instead of tomorrow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payflows.domain.attempts import AttemptState
from payflows.domain.states import Status
from payflows.exactly_once.outcomes import chargeable, outcome_from, paid_figures
from payflows.gateway import CardDeclinedError, PreciumError, RequestRejected
from payflows.ledger import Outcome

__all__ = ["Budget", "Charged", "charge_purchase"]


class Budget:
    """How many same-purchase re-sends a run may still make (None: no run-wide cap)."""

    def __init__(self, total: int | None = None) -> None:
        self.left = total
        self.used = 0

    def take(self) -> bool:
        if self.left is not None:
            if self.left <= 0:
                return False
            self.left -= 1
        self.used += 1
        return True


@dataclass(frozen=True, slots=True)
class Charged:
    """What a charge came to: the outcome to record, and the refusal if the gateway refused."""

    outcome: Outcome
    refused: RequestRejected | None = None
    resent: int = 0


async def charge_purchase(
    key: str,
    *,
    charge: Callable[[], Awaitable[Any]],
    read: Callable[[], Awaitable[Any]],
    now: Callable[[], datetime],
    resends: int = 2,
    budget: Budget | None = None,
    brand: str | None = None,
    masked_pan: str | None = None,
) -> Charged:
    """Charge the attempt's purchase (already recorded ``submitted``) and settle the answer.

    ``charge`` and ``read`` are the gateway calls (any retry-while-safe wrapping is theirs).
    Returns an outcome in a resolved state, or ``unknown`` when even the read-back failed or
    the gateway is still working on it: the next run reads it back.
    """
    resent = 0
    while True:
        try:
            answer = await charge()
        except CardDeclinedError as exc:
            d = exc.decline
            outcome = Outcome(
                AttemptState.DECLINED,
                business_key=key,
                purchase_status=Status.ERROR,
                decline_code=d.code,
                network_code=d.network_code,
                advice_code=d.advice_code,
                brand=brand,
                masked_pan=masked_pan,
                observed_at=now(),
            )
            return Charged(outcome, resent=resent)
        except PreciumError as exc:
            refused = exc if isinstance(exc, RequestRejected) else None
            try:
                fresh = await read()
            except PreciumError:
                fresh = None
            if fresh is not None:
                found = outcome_from(key, fresh, now())
                if found is not None:
                    # The refusal is passed on ("nothing moved") only when the purchase says
                    # so too: a declined, pending or paid read-back is the real state.
                    failed = found.state is AttemptState.FAILED
                    return Charged(found, refused if failed else None, resent)
                if (
                    refused is None
                    and chargeable(fresh)
                    and resent < resends
                    and (budget is None or budget.take())
                ):
                    resent += 1
                    continue  # nothing landed: the same purchase, charged again
            if refused is not None:
                outcome = Outcome(AttemptState.FAILED, business_key=key, decline_code=refused.code)
                return Charged(outcome, refused, resent)
            return Charged(Outcome(AttemptState.UNKNOWN, business_key=key), resent=resent)
        found = outcome_from(key, answer, now())
        if found is None:
            found = Outcome(AttemptState.UNKNOWN, business_key=key, **paid_figures(answer))
        return Charged(found, resent=resent)
