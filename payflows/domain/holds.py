"""How long a card network keeps an authorisation alive, and when to act before it lapses.

A hold that lapses loses the sale (the capture is declined) and keeps the shopper's money frozen
for nothing, so every hold in the ledger carries a deadline. The gateway's own expiry wins when it
reports one; otherwise the deadline comes from this table (CONTRACT.md, "Card-network facts"),
which a merchant may override per network because acquirers differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

DAY: Final = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class AuthorisationWindows:
    """Authorisation validity per network, card-not-present."""

    visa_cit: timedelta = 7 * DAY  # 10 days under Visa's 2024 rule where the acquirer applies it
    visa_mit: timedelta = 5 * DAY
    mastercard_final: timedelta = 7 * DAY
    mastercard_preauth: timedelta = 30 * DAY
    maestro: timedelta = 7 * DAY
    amex: timedelta = 7 * DAY
    extended: timedelta = 30 * DAY
    default: timedelta = 7 * DAY
    #: Act at least this long before the deadline (networks want captures 24 h ahead).
    safety_margin: timedelta = DAY
    overrides: Mapping[str, timedelta] = field(default_factory=dict)

    def window(
        self,
        brand: str | None,
        *,
        is_mit: bool = False,
        preauth: bool = True,
        extended: bool = False,
    ) -> timedelta:
        """The validity of one authorisation.

        ``preauth`` is true for holds placed with ``skip_capture`` (Mastercard then grants its
        30-day pre-authorisation window); ``extended`` marks an extended-authorisation hold.
        """
        name = (brand or "").lower()
        if name in self.overrides:
            return self.overrides[name]
        if extended:
            return self.extended
        if name == "visa":
            return self.visa_mit if is_mit else self.visa_cit
        if name == "mastercard":
            return self.mastercard_preauth if preauth else self.mastercard_final
        if name == "maestro":
            return self.maestro
        if name == "amex":
            return self.amex
        return self.default

    def deadline(
        self,
        authorised_at: datetime,
        brand: str | None,
        *,
        is_mit: bool = False,
        preauth: bool = True,
        extended: bool = False,
        gateway_expiry: datetime | None = None,
    ) -> datetime:
        """When the hold lapses: the gateway's word if it gave one, else the network table."""
        if gateway_expiry is not None:
            return gateway_expiry
        return authorised_at + self.window(brand, is_mit=is_mit, preauth=preauth, extended=extended)

    def act_by(self, deadline: datetime) -> datetime:
        """The latest safe moment to capture or void."""
        return deadline - self.safety_margin


DEFAULT_WINDOWS: Final = AuthorisationWindows()
