"""What a sweep's result does to its hold, in the outcome's commit: status, audit row, release.

:func:`apply_results` is the sweep's part of each grouped commit of
:class:`payflows.exactly_once.GroupedStore` (the attempt writes, capture or void outcomes and
withdrawals, come first in the same commit): the purchase status read back moves the hold
along the purchase table, every action is recorded with its reason (``hold_actions``, and the
hold's ``last_*`` columns), and the claim is given back (in the same statement for an acted
hold).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Boolean, bindparam, case, func, insert, null, update

from payflows.ledger import Hold
from payflows.ledger.db import Transaction
from payflows.ledger.grouped_statuses import apply_statuses_grouped
from payflows.ledger.many import execute_many
from payflows.ledger.models import HoldAction, UTCDateTime, utcnow
from payflows.sweep.items import Result, Run

__all__ = ["apply_results"]

_HOLDS = Hold.__table__  # type: ignore[attr-defined]
_ACTIONS = HoldAction.__table__  # type: ignore[attr-defined]

# Built once: a sweep runs them once per grouped commit, each for hundreds of holds.
_MINE = _HOLDS.c.claimed_by == bindparam("worker")
# An acted hold's columns and its release in one statement (one row visit, not two): the
# claim is given back only while this worker holds it, as ``_RELEASE`` does (SET expressions
# read the row as it was before the update).
_ACTED = (
    update(_HOLDS)
    .where(_HOLDS.c.id == bindparam("hid"))
    .values(
        last_action=bindparam("action"),
        last_reason=bindparam("reason"),
        acted_at=bindparam("now"),
        alerted_at=case(
            (
                bindparam("alert", type_=Boolean()),
                func.coalesce(_HOLDS.c.alerted_at, bindparam("now", type_=UTCDateTime())),
            ),
            else_=null(),
        ),
        updated_at=bindparam("now"),
        claimed_by=case((_MINE, null()), else_=_HOLDS.c.claimed_by),
        claimed_until=case((_MINE, null()), else_=_HOLDS.c.claimed_until),
    )
)
_RECORD = insert(_ACTIONS)
_RELEASE = (
    update(_HOLDS)
    .where(_HOLDS.c.id == bindparam("hid"), _MINE)
    .values(claimed_by=None, claimed_until=None)
)


def apply_results(run: Run, uow: Transaction, results: Sequence[Result]) -> None:
    now = utcnow()
    reports = [r.report for r in results if r.report is not None]
    if reports:
        apply_statuses_grouped(uow, reports)
    acted = [r for r in results if r.action is not None]
    if acted:
        execute_many(
            uow,
            _ACTED,
            [
                {
                    "hid": r.item.hold_id,
                    "action": r.action,
                    "reason": r.reason[:200],
                    "alert": r.alert,
                    "now": now,
                    "worker": run.worker_id,
                }
                for r in acted
            ],
        )
        execute_many(
            uow,
            _RECORD,
            [
                {
                    "hold_id": r.item.hold_id,
                    "purchase_id": r.item.purchase_id,
                    "action": r.action,
                    "reason": r.reason[:200],
                    "amount_cents": r.amount_cents,
                    "as_of": run.as_of,
                    "worker_id": run.worker_id,
                    "created_at": now,
                }
                for r in acted
            ],
        )
    idle = [r for r in results if r.action is None]  # nothing to record: released only
    if idle:
        execute_many(
            uow, _RELEASE, [{"hid": r.item.hold_id, "worker": run.worker_id} for r in idle]
        )
