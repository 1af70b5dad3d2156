"""What a report reads from the ledger: the SQL of each frame and the dtypes of its columns.

Kept apart from :mod:`payflows.reports.frame`, which runs these statements in chunks and turns
the rows into typed columns. Every statement selects only what a summary needs, and no card
data: not even the masked PAN.
"""

from __future__ import annotations

from datetime import timedelta

_SELECT = """
SELECT a.kind, a.state, a.amount_cents, a.currency,
       COALESCE(a.brand, o.brand,
                (SELECT pm.brand FROM payment_methods pm WHERE pm.id = a.payment_method_id))
       AS brand,
       a.decline_code, a.created_at, o.kind AS owner_kind,
       CASE WHEN a.kind = 'capture' THEN o.fee_cents ELSE a.fee_cents END AS fee_cents,
       CASE WHEN a.kind = 'capture' THEN o.net_cents ELSE a.net_cents END AS net_cents,
       CASE WHEN a.kind = 'refund'
            THEN COALESCE(o.paid_cents,
                          (SELECT NULLIF(h.captured_cents, 0) FROM holds h
                           WHERE h.purchase_id = a.related_purchase_id),
                          o.amount_cents)
       END AS owner_paid_cents,
       a.purchase_status,
       CASE WHEN a.kind IN ('cit', 'mit', 'preauth') AND a.state = 'succeeded'
            THEN COALESCE(a.paid_cents,
                          CASE WHEN a.kind IN ('cit', 'mit') THEN a.amount_cents END,
                          (SELECT NULLIF(hp.captured_cents, 0) FROM holds hp
                           WHERE hp.purchase_id = a.purchase_id))
       END AS paid_cents,
       a.paid_at, a.settled_at,
       CASE WHEN a.kind = 'refund'
            THEN EXISTS (SELECT 1 FROM refunds rc
                         WHERE rc.purchase_id = a.related_purchase_id AND rc.attempt_id = a.id
                           AND rc.status = 'cancelled')
       END AS refund_cancelled
FROM payment_attempts a
LEFT JOIN payment_attempts o ON o.purchase_id = a.related_purchase_id
"""
# (The lookups that only some rows need are scalar subqueries inside COALESCE, evaluated only
# when the values before them are NULL, rather than joins evaluated for every row.)

_IN_PERIOD = "WHERE a.created_at >= :start AND a.created_at < :end"
_ACTIVITY_SQL = _SELECT + _IN_PERIOD

#: The period's attempts that act on another purchase (refunds, captures, voids, cancels: about
#: a sixth of them), with their owner's facts: the join is paid only where it finds something.
_OWNED_SQL = _ACTIVITY_SQL + " AND COALESCE(a.related_purchase_id, '') <> ''"

#: The period's other attempts (payments, pre-auths, zero-auths): the same values as
#: :data:`_SELECT` gives them without an owner, from the attempt alone. The owner's kind, its
#: paid amount and whether a refund was cancelled are NULL for them, so they are not read at all
#: (:data:`_OWNERLESS` columns are filled in as missing).
_UNOWNED_SQL = (
    """
SELECT a.kind, a.state, a.amount_cents, a.currency,
       COALESCE(a.brand,
                (SELECT pm.brand FROM payment_methods pm WHERE pm.id = a.payment_method_id))
       AS brand,
       a.decline_code, a.created_at,
       CASE WHEN a.kind = 'capture' THEN NULL ELSE a.fee_cents END AS fee_cents,
       CASE WHEN a.kind = 'capture' THEN NULL ELSE a.net_cents END AS net_cents,
       a.purchase_status,
       CASE WHEN a.kind IN ('cit', 'mit', 'preauth') AND a.state = 'succeeded'
            THEN COALESCE(a.paid_cents,
                          CASE WHEN a.kind IN ('cit', 'mit') THEN a.amount_cents END,
                          (SELECT NULLIF(hp.captured_cents, 0) FROM holds hp
                           WHERE hp.purchase_id = a.purchase_id))
       END AS paid_cents,
       a.paid_at, a.settled_at
FROM payment_attempts a
"""
    + _IN_PERIOD
    + " AND COALESCE(a.related_purchase_id, '') = ''"
)
# (The owner test is an expression, not ``IS NULL``, so that the planner keeps to the period's
# range of ``created_at`` instead of walking every ownerless attempt of all time by the
# ``related_purchase_id`` index. The two conditions are exact complements.)
#: Columns of :data:`ACTIVITY_COLUMNS` that are always NULL for an attempt without an owner.
_OWNERLESS = ("owner_kind", "owner_paid_cents", "refund_cancelled")

#: Purchases made before the period and paid in it (a hold captured days later): a hold lasts
#: at most 30 days at the networks, so the window before the period is bounded.
_PAID_LATER_SQL = (
    _SELECT
    + """WHERE a.created_at >= :before AND a.created_at < :start
  AND a.kind IN ('cit', 'mit', 'preauth') AND a.state = 'succeeded'
  AND a.paid_at >= :start AND a.paid_at < :end"""
)
#: How far before the period a purchase paid in it may have been made.
PAID_LATER_WINDOW = timedelta(days=35)

_HOLDS_SQL = """
SELECT purchase_id, authorised_cents, currency, brand, is_mit, authorised_at, expires_at,
       decision, decision_cents
FROM holds WHERE status = 'hold' ORDER BY expires_at, id
"""

_SUBSCRIPTIONS_SQL = """
SELECT id, status, currency, amount_cents, failed_attempts, retry_at, last_decline_code,
       dunning_reason
FROM subscriptions
"""

#: Each subscription's declined or refused charges since its last paid one, counted from the
#: attempts (a charge the gateway refused outright does not move the dunning counter). One
#: grouped query over the attempts that belong to a subscription, not a subquery per
#: subscription: the planner then cannot pick a plan that scans the ledger per subscription.
_SUBSCRIPTION_FAILURES_SQL = """
WITH last_paid AS (
    SELECT subscription_id, MAX(created_at) AS at FROM payment_attempts
    WHERE subscription_id IS NOT NULL AND state = 'succeeded'
    GROUP BY subscription_id
)
SELECT f.subscription_id, COUNT(*) AS failed_since_paid
FROM payment_attempts f
LEFT JOIN last_paid l ON l.subscription_id = f.subscription_id
WHERE f.subscription_id IS NOT NULL AND f.state IN ('declined', 'failed')
  AND (l.at IS NULL OR f.created_at > l.at)
GROUP BY f.subscription_id
"""

#: Purchases the gateway reported charged back during the period (by when it reported it).
_CHARGEBACKS_SQL = """
SELECT kind, currency, brand, COALESCE(paid_cents, amount_cents) AS paid_cents, status_at
FROM payment_attempts
WHERE purchase_status = 'chargeback' AND status_at >= :start AND status_at < :end
"""

_REFUNDS_SQL = """
SELECT r.refund_id, r.purchase_id, r.amount_cents, r.currency, r.status, r.created_at,
       r.settled_at, r.cancelled_at, o.kind AS owner_kind, o.brand AS brand
FROM refunds r
LEFT JOIN payment_attempts o ON o.purchase_id = r.purchase_id
WHERE r.created_at >= :start AND r.created_at < :end
ORDER BY r.created_at, r.id
"""

ACTIVITY_COLUMNS: dict[str, str] = {
    "kind": "category",
    "state": "category",
    "amount_cents": "int64",
    "currency": "category",
    "brand": "category",
    "decline_code": "category",
    "created_at": "datetime64[us, UTC]",
    "owner_kind": "category",
    "fee_cents": "Int64",
    "net_cents": "Int64",
    "owner_paid_cents": "Int64",
    "purchase_status": "category",
    "paid_cents": "Int64",
    "paid_at": "datetime64[us, UTC]",
    "settled_at": "datetime64[us, UTC]",
    "refund_cancelled": "bool",
}
_SETTLEMENT_COLUMNS: dict[str, str] = {
    "kind": "category",
    "purchase_status": "category",
    "currency": "category",
    "brand": "category",
    "paid_cents": "Int64",
    "fee_cents": "Int64",
    "net_cents": "Int64",
    "paid_at": "datetime64[us, UTC]",
    "settled_at": "datetime64[us, UTC]",
}
_HOLD_COLUMNS: dict[str, str] = {
    "purchase_id": "str",
    "authorised_cents": "int64",
    "currency": "str",
    "brand": "str",
    "is_mit": "bool",
    "authorised_at": "datetime64[us, UTC]",
    "expires_at": "datetime64[us, UTC]",
    "decision": "str",
    "decision_cents": "Int64",
}
_SUBSCRIPTION_COLUMNS: dict[str, str] = {
    "id": "int64",
    "status": "category",
    "currency": "category",
    "amount_cents": "int64",
    "failed_attempts": "int64",
    "retry_at": "datetime64[us, UTC]",
    "last_decline_code": "category",
    "dunning_reason": "category",
}
_FAILURE_COLUMNS: dict[str, str] = {"subscription_id": "int64", "failed_since_paid": "int64"}
_CHARGEBACK_COLUMNS: dict[str, str] = {
    "kind": "category",
    "currency": "category",
    "brand": "category",
    "paid_cents": "Int64",
    "status_at": "datetime64[us, UTC]",
}
_REFUND_COLUMNS: dict[str, str] = {
    "refund_id": "str",
    "purchase_id": "str",
    "amount_cents": "int64",
    "currency": "str",
    "status": "str",
    "created_at": "datetime64[us, UTC]",
    "settled_at": "datetime64[us, UTC]",
    "cancelled_at": "datetime64[us, UTC]",
    "owner_kind": "str",
    "brand": "str",
}
