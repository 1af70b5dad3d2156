"""What to do after a recurring charge was declined: retry later, or stop.

The card networks police retries of merchant-initiated charges (CONTRACT.md, "Card-network
facts"): some declines must never be retried, Mastercard tells us *when* to retry through its
merchant advice codes, and both networks cap the reattempts per card in a rolling window.
Breaking those rules costs fines and, worse, gets good customers' cards flagged. The policy is
a pure function of the decline and of the attempt history, so every rule is unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from payflows.domain.declines import MASTERCARD_STOP_ADVICE, classify_decline
from payflows.ledger.models import SubscriptionStatus

__all__ = [
    "DEFAULT_SCHEDULE",
    "MASTERCARD_ADVICE_DELAYS",
    "Action",
    "Decision",
    "DunningPolicy",
]

#: Default delays after the 1st, 2nd, 3rd, 4th failed charge of a period.
DEFAULT_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(days=1),
    timedelta(days=3),
    timedelta(days=5),
    timedelta(days=7),
)

#: Mastercard merchant advice codes 24-30: "retry after" this long.
MASTERCARD_ADVICE_DELAYS: dict[str, timedelta] = {
    "24": timedelta(hours=1),
    "25": timedelta(hours=24),
    "26": timedelta(days=2),
    "27": timedelta(days=4),
    "28": timedelta(days=6),
    "29": timedelta(days=8),
    "30": timedelta(days=10),
}


class Action(StrEnum):
    RETRY = "retry"
    SUSPEND = "suspend"


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's answer, with the reason that goes on the subscription.

    ``reason`` is short and has no timestamps (``retry_at`` says when), so that a run's summary
    can count subscriptions per reason: "hard decline expired_card", "mastercard advice 21",
    "retries exhausted", "visa 30-day retry cap", "soft decline insufficient_funds".
    """

    action: Action
    status: SubscriptionStatus
    retry_at: datetime | None
    reason: str

    @property
    def retries(self) -> bool:
        return self.action is Action.RETRY


@dataclass(frozen=True)
class DunningPolicy:
    """The retry schedule and the networks' caps; every figure is configurable.

    ``visa_cap_30d`` is 15 by default (20 from 2025 for some acquirers). Caps count the charge
    attempts on the subscription's card in the window, the declined one just made included.
    """

    schedule: tuple[timedelta, ...] = DEFAULT_SCHEDULE
    visa_cap_30d: int = 15
    mastercard_cap_30d: int = 35
    mastercard_cap_24h: int = 10
    other_cap_30d: int = 15
    honour_advice_codes: bool = True
    mastercard_brands: frozenset[str] = field(
        default_factory=lambda: frozenset({"mastercard", "maestro"})
    )

    def _cap_30d(self, brand: str | None) -> int:
        brand = (brand or "").lower()
        if brand == "visa":
            return self.visa_cap_30d
        if brand in self.mastercard_brands:
            return self.mastercard_cap_30d
        return self.other_cap_30d

    def decide(
        self,
        *,
        now: datetime,
        failed_attempts: int,
        decline_code: str | None,
        network_code: str | None = None,
        advice_code: str | None = None,
        brand: str | None = None,
        recent_attempts: list[datetime] | tuple[datetime, ...] = (),
    ) -> Decision:
        """Decide after a decline. ``failed_attempts`` counts this period's failures so far,
        this one included; ``recent_attempts`` are the times of charges on the card (this one
        included) that the networks' rolling caps count.
        """
        code = decline_code or "unknown"
        mastercard = (brand or "").lower() in self.mastercard_brands
        if not classify_decline(code, network_code, advice_code):
            if advice_code in MASTERCARD_STOP_ADVICE:
                return _suspend(f"mastercard advice {advice_code}")
            return _suspend(_tag("hard decline", code, network_code))
        delay: timedelta | None = None
        reason = _tag("soft decline", code, None)
        if self.honour_advice_codes and mastercard and advice_code in MASTERCARD_ADVICE_DELAYS:
            delay = MASTERCARD_ADVICE_DELAYS[advice_code]
            reason = f"mastercard advice {advice_code}"
        elif failed_attempts <= len(self.schedule):
            delay = self.schedule[max(failed_attempts, 1) - 1]
        if delay is None or failed_attempts > len(self.schedule):
            return _suspend("retries exhausted")
        retry_at = now + delay
        in_30d = sum(1 for t in recent_attempts if t > retry_at - timedelta(days=30))
        if in_30d + 1 > self._cap_30d(brand):
            return _suspend(f"{(brand or 'card').lower()} 30-day retry cap")
        if mastercard:
            window = sorted(t for t in recent_attempts if t > retry_at - timedelta(hours=24))
            excess = len(window) + 1 - self.mastercard_cap_24h
            if excess > 0:
                # Wait until enough of the last day's attempts have left the 24-hour window.
                retry_at = window[excess - 1] + timedelta(hours=24)
        return Decision(Action.RETRY, SubscriptionStatus.PAST_DUE, retry_at, reason)


def _tag(prefix: str, code: str, network_code: str | None) -> str:
    return f"{prefix} {code}" + (f" network {network_code}" if network_code else "")


def _suspend(reason: str) -> Decision:
    return Decision(Action.SUSPEND, SubscriptionStatus.SUSPENDED, None, reason)
