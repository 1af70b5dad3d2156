"""Settlement tracking: what the gateway says was paid, its fee, and when the money settled.

The gateway settles paid purchases on its own clock (``paid -> cleared -> settled``) and reports
``payment{amount, fee_amount, net_amount, paid_on}`` and the settlement date on the purchase. The
ledger keeps those figures on the attempt that created the purchase, so that a report can say
what has settled, what is still pending and what the gateway kept, without asking the gateway.

They arrive from webhooks (``purchase.paid``, ``purchase.captured``, ``purchase.settled``) and
from reading purchases back. :func:`record_settlements` only ever *fills in* what the ledger
lacks or moves a figure forward (a later settlement date never replaces an earlier one, an
unknown fee never erases a known one); it never touches the attempt's state or status, which
belong to :func:`payflows.ledger.statuses.apply_gateway_status` and the state table. The card's
brand and masked PAN come along when the ledger has none (never a full PAN: it is refused).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from payflows.ledger._common import masked as _masked
from payflows.ledger.db import UnitOfWork
from payflows.ledger.models import PaymentAttempt, utcnow

__all__ = ["SettlementReport", "record_settlements"]

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class SettlementReport:
    """The money side of one purchase as a webhook or a read-back told it (None: not said)."""

    purchase_id: str
    paid_cents: int | None = None
    fee_cents: int | None = None
    net_cents: int | None = None
    paid_at: datetime | None = None
    settled_at: datetime | None = None
    #: The card as the gateway shows it (brand, masked PAN), kept when the ledger lacks it: a
    #: webhook that resolves an attempt before its own read-back would otherwise leave it blank.
    brand: str | None = None
    masked_pan: str | None = None

    @property
    def empty(self) -> bool:
        return all(
            v is None
            for v in (
                self.paid_cents,
                self.fee_cents,
                self.net_cents,
                self.paid_at,
                self.settled_at,
                self.brand,
                self.masked_pan,
            )
        )


def _int(value: int | None, name: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{name} must be an int number of cents, got {type(value).__name__}")
    return value


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be an aware datetime (UTC)")
    return value


def record_settlements(uow: UnitOfWork, reports: Iterable[SettlementReport]) -> list[str]:
    """Store settlement figures on the attempts that own the purchases; returns ids changed.

    Purchases the ledger did not create are ignored (reconciliation lists them). Amounts follow
    the gateway's latest word (a partial capture is paid less than was authorised); times are
    kept once known. Nothing is committed here: the caller's unit of work does.
    """
    wanted = [r for r in reports if not r.empty]
    if not wanted:
        return []
    ids = list(dict.fromkeys(r.purchase_id for r in wanted))
    owners: dict[str, PaymentAttempt] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for row in uow.session.exec(
            select(PaymentAttempt).where(col(PaymentAttempt.purchase_id).in_(chunk))
        ):
            owners[row.purchase_id or ""] = row
    now = utcnow()
    changed: list[str] = []
    for report in wanted:
        attempt = owners.get(report.purchase_id)
        if attempt is None:
            continue
        moved = False
        for name in ("paid_cents", "fee_cents", "net_cents"):
            value = _int(getattr(report, name), name)
            if value is not None and getattr(attempt, name) != value:
                setattr(attempt, name, value)
                moved = True
        for name in ("paid_at", "settled_at"):
            moment = _aware(getattr(report, name), name)
            if moment is not None and getattr(attempt, name) is None:
                setattr(attempt, name, moment)
                moved = True
        if report.brand is not None and attempt.brand is None:
            attempt.brand, moved = report.brand, True
        if report.masked_pan is not None and attempt.masked_pan is None:
            attempt.masked_pan, moved = _masked(report.masked_pan), True
        if moved:
            attempt.updated_at = now
            if report.purchase_id not in changed:
                changed.append(report.purchase_id)
    uow.session.flush()
    return changed
