"""What every payment operation needs and returns: the context, the outcome, the refusal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine

from payflows.domain.declines import classify_decline
from payflows.domain.holds import DEFAULT_WINDOWS, AuthorisationWindows
from payflows.domain.states import Status
from payflows.gateway import (
    PreciumClient,
)
from payflows.ledger import (
    AttemptState,
    PaymentAttempt,
    UnitOfWork,
)

__all__ = ["ChallengeInfo", "OperationRejected", "PaymentContext", "PaymentOutcome"]

T = TypeVar("T")


class OperationRejected(Exception):
    """The request is wrong for this payment (too large a capture, a refund of nothing...).

    Raised before anything is recorded, or after the gateway refused it with a 4xx; either way
    the ledger is as it was and the same business key may be used again with corrected input.
    """


class ChallengeInfo(BaseModel):
    """Where to send the shopper's browser for 3-D Secure. ``pareq`` stays out of reprs."""

    model_config = ConfigDict(frozen=True)

    md: str
    acs_url: str
    pareq: str = Field(default="", repr=False)
    method: str = "POST"

    def __repr__(self) -> str:
        return f"ChallengeInfo(md={self.md!r}, acs_url={self.acs_url!r})"


class PaymentOutcome(BaseModel):
    """What one operation achieved. Card data never appears here: brand and masked PAN only."""

    business_key: str
    kind: str
    state: AttemptState
    purchase_id: str | None = None
    purchase_status: Status | None = None
    amount_cents: int
    currency: str
    decline_code: str | None = None
    decline_soft: bool | None = None
    brand: str | None = None
    masked_pan: str | None = None
    recurring_token: str | None = None
    refund_id: str | None = None
    three_ds: ChallengeInfo | None = None

    @property
    def succeeded(self) -> bool:
        return self.state is AttemptState.SUCCEEDED

    @classmethod
    def of(cls, attempt: PaymentAttempt, **extra: Any) -> PaymentOutcome:
        soft = None
        if attempt.decline_code:
            soft = classify_decline(attempt.decline_code, attempt.network_code, attempt.advice_code)
        return cls(
            business_key=attempt.business_key,
            kind=attempt.kind.value,
            state=attempt.state,
            purchase_id=attempt.purchase_id or attempt.related_purchase_id,
            purchase_status=attempt.purchase_status,
            amount_cents=attempt.amount_cents,
            currency=attempt.currency,
            decline_code=attempt.decline_code,
            decline_soft=soft,
            brand=attempt.brand,
            masked_pan=attempt.masked_pan,
            **extra,
        )


@dataclass
class PaymentContext:
    """What every operation needs: the gateway, the ledger, and the time."""

    gateway: PreciumClient
    engine: Engine
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    windows: AuthorisationWindows = DEFAULT_WINDOWS
    #: Brands the merchant accepts: every purchase's ``payment_method_whitelist``.
    card_brands: tuple[str, ...] = ("visa", "mastercard", "maestro")
    #: Where the shopper's bank returns after a 3-D Secure challenge (the merchant's TermUrl).
    term_url: str | None = None
    success_redirect: str = "https://merchant.invalid/payflows/success"
    failure_redirect: str = "https://merchant.invalid/payflows/failure"

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    async def ledger(self, fn: Callable[[UnitOfWork], T]) -> T:
        """Run ``fn`` in one committed unit of work, off the event loop; its result, typed."""

        def run() -> T:
            with self.uow() as uow:
                result = fn(uow)
                uow.commit()
                return result

        return await asyncio.to_thread(run)
