"""Reconciliation: every purchase of the period as the ledger has it, beside the gateway's view.

Three steps, each explicit:

1. :func:`ledger_purchases` lists the purchases the period touched (created in it, or captured,
   voided, cancelled or refunded in it) with what the ledger expects of each: its status, the
   amount asked for, the amount that should have been paid (the charge, or the sum of captures)
   and the amount refunded (refund rows, plus refund attempts whose answer carried no id yet).
2. :func:`fetch_views` reads each purchase back from the gateway (``GET /purchases/{id}/``) with
   bounded concurrency on the flow's one client: a batch, not a task per purchase.
3. :func:`compare` lists every disagreement with what to do about it. It changes nothing.

The one write is separate and optional (:func:`settlement_moves`, applied by
:func:`apply_settlement`): settlement is the gateway's clock, not a decision of the merchant, so
the forward moves ``paid -> cleared -> settled`` and the figures that come with them (paid
amount, fee, net, paid and settled times) are recorded in the ledger as a read-back would record
them. Any other difference (a status the ledger never saw, another amount, a refund made
elsewhere) is listed, never fixed: each one needs a person to find out why. Comparison is against
what the ledger *asked for* (the attempts' amounts), not the gateway's own figures recorded in
step 3's settlement columns, so recording settlement can never hide an amount mismatch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Engine

from payflows.domain.attempts import UNRESOLVED
from payflows.domain.states import Status, can_reach
from payflows.gateway import NotFoundError, PreciumClient, PreciumError, Purchase
from payflows.ledger import StatusReport, UnitOfWork, apply_gateway_statuses
from payflows.ledger.settlement import SettlementReport, record_settlements
from payflows.payments import settlement_of
from payflows.reports.frame import sql_bound
from payflows.reports.period import Period
from payflows.reports.summaries import SCENARIOS

__all__ = [
    "ACTIONS",
    "MISMATCH_COLUMNS",
    "GatewayView",
    "apply_settlement",
    "compare",
    "empty_mismatches",
    "fetch_views",
    "ledger_purchases",
    "settlement_moves",
    "unknown_to_ledger",
    "view_of",
]

#: What to do about each kind of mismatch (shown beside every row).
ACTIONS: dict[str, str] = {
    "missing_at_gateway": (
        "The gateway does not know this purchase id. Check PRECIUM_BASE_URL and the brand; "
        "never create it again under the same business key. Ask Precium if it persists."
    ),
    "unreadable": "The gateway did not answer for this purchase; run the report again later.",
    "unresolved": (
        "The ledger never learned the outcome (lost answer). Settle it by read-back "
        "(payflows bill reconciles MIT charges; re-running the scenario flow with the same "
        "business key reads the purchase back). Do not send the payment again."
    ),
    "status_behind": (
        "The gateway moved the purchase and the ledger never heard (a lost webhook, or an action "
        "taken outside payflows). Find out who changed it (Precium portal), then record it by "
        "replaying the webhook or reading the purchase back."
    ),
    "hold_expired": (
        "The authorisation lapsed at the card network before it was captured or voided (the "
        "gateway sends no event for it): the money can no longer be captured. Read the purchase "
        "back to record it; if the goods went out, charge again with the customer's consent."
    ),
    "status_conflict": (
        "The ledger and the gateway disagree in a way the state table cannot explain. Do not "
        "touch either: raise it with Precium with both statuses and the purchase id."
    ),
    "amount_mismatch": (
        "The gateway moved another amount than the ledger asked for. Compare the charge or "
        "captures with the Precium portal; correct with a refund or a new charge, never by "
        "editing the ledger."
    ),
    "refund_mismatch": (
        "Refunds differ: a refund (or a refund cancel) was made outside payflows or its webhook "
        "was lost. Find it in the Precium portal and replay its payment.refunded webhook."
    ),
    "unknown_to_ledger": (
        "A webhook arrived for a purchase the ledger never made (stored, not applied). Check "
        "whether another system shares the brand; otherwise raise it with Precium."
    ),
}

MISMATCH_COLUMNS = [
    "purchase_id",
    "business_key",
    "scenario",
    "currency",
    "mismatch",
    "ledger",
    "gateway",
    "difference_cents",
    "action",
]

_PAID_LIKE = {"paid", "cleared", "settled", "pending_refund"}
_UNRESOLVED = {s.value for s in UNRESOLVED}

_LEDGER_SQL = """
WITH ids AS (
    SELECT purchase_id AS pid FROM payment_attempts
    WHERE created_at >= :start AND created_at < :end AND purchase_id IS NOT NULL
    UNION
    SELECT related_purchase_id FROM payment_attempts
    WHERE created_at >= :start AND created_at < :end AND related_purchase_id IS NOT NULL
)
SELECT o.purchase_id, o.business_key, o.kind, o.state, o.purchase_status, o.currency,
       o.amount_cents,
       (SELECT COALESCE(SUM(c.amount_cents), 0) FROM payment_attempts c
        WHERE c.related_purchase_id = o.purchase_id AND c.kind = 'capture'
          AND c.state = 'succeeded') AS captured_cents,
       (SELECT COALESCE(SUM(r.amount_cents), 0) FROM refunds r
        WHERE r.purchase_id = o.purchase_id AND r.status <> 'cancelled')
     + (SELECT COALESCE(SUM(c.amount_cents), 0) FROM payment_attempts c
        WHERE c.related_purchase_id = o.purchase_id AND c.kind = 'refund'
          AND c.state = 'succeeded'
          AND NOT EXISTS (SELECT 1 FROM refunds r2 WHERE r2.attempt_id = c.id))
       AS refunded_cents
FROM payment_attempts o JOIN ids ON ids.pid = o.purchase_id
ORDER BY o.id
"""

_UNKNOWN_SQL = """
SELECT purchase_id, MIN(event_type) AS event_type, MAX(status) AS status
FROM webhook_events
WHERE applied = :no AND purchase_id IS NOT NULL
  AND received_at >= :start AND received_at < :end
  AND NOT EXISTS (
    SELECT 1 FROM payment_attempts a WHERE a.purchase_id = webhook_events.purchase_id
  )
GROUP BY purchase_id ORDER BY purchase_id
"""


def ledger_purchases(engine: Engine, period: Period) -> pd.DataFrame:
    """The purchases the period touched, with what the ledger expects of each."""
    with engine.connect() as conn:
        params = {
            "start": sql_bound(conn, period.start_utc),
            "end": sql_bound(conn, period.end_utc),
        }
        frame = pd.read_sql(text(_LEDGER_SQL), conn, params=params)
    for name in ("amount_cents", "captured_cents", "refunded_cents"):
        frame[name] = frame[name].fillna(0).astype("int64")
    for name in ("purchase_id", "business_key", "kind", "state", "purchase_status", "currency"):
        column = frame[name].astype(object)
        frame[name] = column.where(column.notna(), None)
    succeeded = frame["state"] == "succeeded"
    charged = frame["kind"].isin(["cit", "mit"]) & succeeded
    frame["expected_paid_cents"] = (
        frame["amount_cents"].where(charged, 0)
        + frame["captured_cents"].where(frame["kind"] == "preauth", 0)
    ).astype("int64")
    return frame


def unknown_to_ledger(engine: Engine, period: Period) -> pd.DataFrame:
    """Purchases the gateway sent webhooks for that the ledger never made.

    A webhook may outrun our own write (``purchase.created`` lands before the purchase id is
    stored) and stay unapplied; a purchase the ledger knows by now is not unknown to it.
    """
    with engine.connect() as conn:
        params = {
            "start": sql_bound(conn, period.start_utc),
            "end": sql_bound(conn, period.end_utc),
            "no": False,
        }
        return pd.read_sql(text(_UNKNOWN_SQL), conn, params=params)


@dataclass(frozen=True, slots=True)
class GatewayView:
    """One purchase as the gateway reports it (or why it could not be read)."""

    purchase_id: str
    status: str | None = None
    total_cents: int | None = None
    paid_cents: int | None = None
    refundable_cents: int = 0
    missing: bool = False
    error: str | None = None
    settlement: SettlementReport | None = None

    @property
    def refunded_cents(self) -> int | None:
        """What the gateway refunded, where its figures say (None: not comparable)."""
        if self.status in _PAID_LIKE and self.paid_cents is not None:
            return self.paid_cents - self.refundable_cents
        if self.status == "refunded":
            return self.paid_cents
        return None


def view_of(purchase: Purchase) -> GatewayView:
    payment = purchase.payment
    paid = payment.amount if payment is not None and not payment.is_outgoing else None
    # The platform keeps a settled purchase "paid" and says so in its settlement date.
    settled = purchase.status in (Status.PAID, Status.CLEARED) and purchase.settled_on is not None
    return GatewayView(
        purchase_id=purchase.id,
        status=Status.SETTLED.value if settled else purchase.status.value,
        total_cents=purchase.total,
        paid_cents=paid,
        refundable_cents=purchase.refundable_amount or 0,
        settlement=settlement_of(purchase),
    )


async def fetch_views(
    gateway: PreciumClient, purchase_ids: Iterable[str], *, concurrency: int = 16
) -> list[GatewayView]:
    """Read every purchase back, ``concurrency`` at a time; errors become views, not raises."""
    limit = asyncio.Semaphore(max(1, concurrency))

    async def one(pid: str) -> GatewayView:
        async with limit:
            try:
                return view_of(await gateway.get_purchase(pid))
            except NotFoundError:
                return GatewayView(pid, missing=True)
            except PreciumError as exc:
                return GatewayView(pid, error=type(exc).__name__)

    return list(await asyncio.gather(*(one(pid) for pid in dict.fromkeys(purchase_ids))))


def settlement_moves(
    ledger: pd.DataFrame, views: Sequence[GatewayView], observed_at: datetime
) -> tuple[list[StatusReport], list[SettlementReport]]:
    """The settlement the gateway reports that the ledger may record (nothing else).

    Status moves only along ``paid -> cleared -> settled`` from a paid-like ledger status;
    figures (paid amount, fee, net, times) for every purchase the gateway could be read for.
    """
    status_of = dict(zip(ledger["purchase_id"], ledger["purchase_status"], strict=True))
    moves: list[StatusReport] = []
    figures: list[SettlementReport] = []
    for view in views:
        if view.error or view.missing or view.purchase_id not in status_of:
            continue
        if view.settlement is not None and not view.settlement.empty:
            figures.append(view.settlement)
        current = status_of[view.purchase_id]
        forward = current in ("paid", "cleared") and view.status in ("cleared", "settled")
        if forward and view.status != current and can_reach(current, view.status):
            settled = view.settlement.settled_at if view.settlement else None
            at = settled if view.status == "settled" and settled else observed_at
            moves.append(StatusReport(view.purchase_id, Status(view.status), at))
    return moves, figures


def apply_settlement(
    engine: Engine, moves: Sequence[StatusReport], figures: Sequence[SettlementReport]
) -> list[str]:
    """Record settlement in the ledger, in one transaction; returns the purchase ids changed."""
    if not moves and not figures:
        return []
    with UnitOfWork(engine) as uow:
        changed = set(apply_gateway_statuses(uow, moves))
        changed |= set(record_settlements(uow, figures))
        uow.commit()
    return sorted(changed)


def _row(
    purchase: dict[str, Any], mismatch: str, ledger: str, gateway: str, diff: int | None = None
) -> dict[str, Any]:
    kind = str(purchase.get("kind") or "")
    return {
        "purchase_id": purchase["purchase_id"],
        "business_key": purchase.get("business_key") or "",
        "scenario": SCENARIOS.get(kind, "other"),
        "currency": purchase.get("currency") or "",
        "mismatch": mismatch,
        "ledger": ledger,
        "gateway": gateway,
        "difference_cents": diff,
        "action": ACTIONS[mismatch],
    }


def empty_mismatches() -> pd.DataFrame:
    """A reconciliation table with no rows (the columns stay, so the CSV has its header)."""
    return compare(pd.DataFrame(), [])


def compare(
    ledger: pd.DataFrame,
    views: Sequence[GatewayView],
    unknown: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every disagreement between the ledger and the gateway, one row each; changes nothing.

    ``difference_cents`` is gateway minus ledger where amounts differ.
    """
    by_id = {v.purchase_id: v for v in views}
    rows: list[dict[str, Any]] = []
    for purchase in ledger.to_dict("records") if not ledger.empty else []:
        view = by_id.get(purchase["purchase_id"])
        if view is None:
            continue
        if view.missing:
            rows.append(_row(purchase, "missing_at_gateway", "known", "404 not found"))
            continue
        if view.error:
            rows.append(_row(purchase, "unreadable", "known", view.error))
            continue
        mine = purchase.get("purchase_status") or "created"
        theirs = view.status or "created"
        lapsed = mine in ("hold", "preauthorized") and theirs == "expired"
        if lapsed and purchase.get("kind") == "zero_auth":
            pass  # a card validation's authorisation is meant to lapse: nothing to do
        elif lapsed:
            rows.append(_row(purchase, "hold_expired", mine, theirs))
        elif mine != theirs:
            if purchase.get("state") in _UNRESOLVED:
                kind = "unresolved"
            elif can_reach(mine, theirs):
                kind = "status_behind"
            else:
                kind = "status_conflict"
            rows.append(_row(purchase, kind, f"{purchase.get('state')}/{mine}", theirs))
        asked = int(purchase["amount_cents"])
        if view.total_cents is not None and view.total_cents != asked:
            rows.append(
                _row(
                    purchase,
                    "amount_mismatch",
                    f"amount {asked}",
                    f"total {view.total_cents}",
                    view.total_cents - asked,
                )
            )
        expected = int(purchase["expected_paid_cents"])
        paid = view.paid_cents or 0
        if purchase.get("state") == "succeeded" and paid != expected:
            rows.append(
                _row(
                    purchase,
                    "amount_mismatch",
                    f"paid {expected}",
                    f"paid {paid}",
                    paid - expected,
                )
            )
        refunded = view.refunded_cents
        ours = int(purchase["refunded_cents"])
        if refunded is not None and refunded != ours:
            rows.append(
                _row(
                    purchase,
                    "refund_mismatch",
                    f"refunded {ours}",
                    f"refunded {refunded}",
                    refunded - ours,
                )
            )
    for event in [] if unknown is None else unknown.to_dict("records"):
        rows.append(
            _row(
                {"purchase_id": event["purchase_id"], "kind": ""},
                "unknown_to_ledger",
                "never made",
                f"{event.get('event_type')} ({event.get('status') or 'no status'})",
            )
        )
    frame = pd.DataFrame(rows, columns=MISMATCH_COLUMNS)
    frame["difference_cents"] = frame["difference_cents"].astype("Int64")
    return frame
