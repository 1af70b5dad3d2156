"""The exactly-once steps as grouped SQL: one statement for hundreds of attempts, same table.

The billing run and the hold sweep keep hundreds of items in flight and commit their ledger
writes together (:class:`payflows.exactly_once.GroupedStore`); loading an ORM object per attempt
would cost more than the gateway calls. These functions are the bulk forms of
:mod:`payflows.ledger.attempts`, and they obey the same attempt state table: every ``UPDATE``
is guarded by ``WHERE state IN sources(event)`` (:func:`payflows.domain.attempts.sources`), so
a row the table would not move is left as it is, exactly as the one-at-a-time path leaves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from payflows.domain.attempts import (
    RESOLVED,
    AttemptEvent,
    AttemptState,
    event_to,
    sources,
)
from payflows.domain.states import Status
from payflows.ledger._common import table_of
from payflows.ledger.attempts import Intent, Outcome, intent_rows
from payflows.ledger.db import Transaction
from payflows.ledger.errors import PurchaseConflict
from payflows.ledger.many import execute_many, rows_in
from payflows.ledger.models import PaymentAttempt, StrEnumType, utcnow

__all__ = [
    "INTENT_COLUMNS",
    "attach_and_submit",
    "insert_intents",
    "insert_submitted",
    "record_outcomes_grouped",
    "submit_grouped",
    "withdraw_grouped",
]

_ATTEMPTS = table_of(PaymentAttempt)


def _state_in(states: Iterable[AttemptState]) -> Any:
    # Plain comparisons: an expanding IN cannot be used in an executemany.
    return or_(*(_ATTEMPTS.c.state == s for s in sorted(states)))


# Built once: a run executes them thousands of times.
_ATTACH = (
    update(_ATTEMPTS)
    .where(
        _ATTEMPTS.c.business_key == bindparam("k"),
        _ATTEMPTS.c.purchase_id.is_(None),
        _state_in(sources(AttemptEvent.ATTACH)),
    )
    # attach, then submit, in one commit: both are durable before the request is sent.
    .values(purchase_id=bindparam("p"), state=AttemptState.SUBMITTED, updated_at=bindparam("now"))
)


def _submit_stmt(states: Iterable[AttemptState]) -> Any:
    return (
        update(_ATTEMPTS)
        .where(
            _ATTEMPTS.c.business_key == bindparam("k"),
            _state_in(states),
            or_(_ATTEMPTS.c.purchase_id.is_not(None), _ATTEMPTS.c.related_purchase_id.is_not(None)),
        )
        .values(state=AttemptState.SUBMITTED, updated_at=bindparam("now"))
    )


_SUBMIT = _submit_stmt(sources(AttemptEvent.SUBMIT) - {AttemptState.UNKNOWN})
_RESEND = _submit_stmt(sources(AttemptEvent.SUBMIT))


def _record_stmt(state: AttemptState) -> Any:
    event = event_to(state)
    assert event is not None
    declined = state in (AttemptState.DECLINED, AttemptState.FAILED)
    values: dict[str, Any] = {
        "state": state,
        "purchase_status": func.coalesce(
            bindparam("status", type_=StrEnumType(Status)), _ATTEMPTS.c.purchase_status
        ),
        "status_at": func.coalesce(bindparam("at"), _ATTEMPTS.c.status_at),
        "brand": func.coalesce(_ATTEMPTS.c.brand, bindparam("brand")),
        "masked_pan": func.coalesce(_ATTEMPTS.c.masked_pan, bindparam("pan")),
        "paid_cents": func.coalesce(bindparam("paid"), _ATTEMPTS.c.paid_cents),
        "fee_cents": func.coalesce(bindparam("fee"), _ATTEMPTS.c.fee_cents),
        "net_cents": func.coalesce(bindparam("net_amount"), _ATTEMPTS.c.net_cents),
        "paid_at": func.coalesce(_ATTEMPTS.c.paid_at, bindparam("paid_at")),
        "updated_at": bindparam("now"),
    }
    if declined or state is AttemptState.SUCCEEDED:
        values |= {
            "decline_code": bindparam("code"),
            "network_code": bindparam("net"),
            "advice_code": bindparam("advice"),
        }
    if state in RESOLVED:
        values["resolved_at"] = bindparam("now")
    return (
        update(_ATTEMPTS)
        .where(_ATTEMPTS.c.business_key == bindparam("k"), _state_in(sources(event)))
        .values(values)
    )


_RECORD = {state: _record_stmt(state) for state in AttemptState if event_to(state) is not None}

_WITHDRAW = delete(_ATTEMPTS).where(
    _ATTEMPTS.c.business_key == bindparam("k"), _state_in(sources(AttemptEvent.WITHDRAW))
)

# A new attempt (an intent, or one on an existing purchase), once: ``ON CONFLICT DO NOTHING``
# on either backend.
_INSERT_SUBMITTED = {
    "sqlite": sqlite_insert(_ATTEMPTS).on_conflict_do_nothing(index_elements=["business_key"]),
    "postgresql": pg_insert(_ATTEMPTS).on_conflict_do_nothing(index_elements=["business_key"]),
}


def attach_and_submit(uow: Transaction, attach: Mapping[str, str], submit: Sequence[str]) -> None:
    """Store new purchase ids (``{key: purchase_id}``) and mark attempts submitted.

    The rules of :func:`~payflows.ledger.attach_purchases` and ``mark_submitted``: a purchase id
    is written only where the attempt has none (the unique constraint refuses one purchase for
    two keys). Raises :class:`PurchaseConflict` when a purchase could not be attached: that
    attempt must not be charged.
    """
    now = utcnow()
    attached = 0
    if attach:
        params = [{"k": k, "p": p, "now": now} for k, p in attach.items()]
        attached = execute_many(uow, _ATTACH, params)
    submit_grouped(uow, submit, now=now)
    # Each row names one attempt (the business key is unique), so when every row matched,
    # every purchase id is attached; only otherwise is it read back to find which were not.
    if attach and attached != len(attach):
        rows = rows_in(
            uow, _ATTEMPTS, ("business_key", "purchase_id"), "business_key", list(attach)
        )
        found = {key: purchase_id for key, purchase_id in rows}
        conflicts = {k for k, p in attach.items() if found.get(k) != p}
        if conflicts:
            raise PurchaseConflict(f"purchase ids not attached for {sorted(conflicts)[:5]}")


def submit_grouped(
    uow: Transaction,
    keys: Sequence[str],
    *,
    resend: Sequence[str] = (),
    now: datetime | None = None,
) -> None:
    """``created`` (or ``intent`` on an existing purchase) -> ``submitted``; ``resend`` keys may
    also leave ``unknown`` (a read-back proved nothing landed)."""
    now = now or utcnow()
    if keys:
        execute_many(uow, _SUBMIT, [{"k": k, "now": now} for k in keys])
    if resend:
        execute_many(uow, _RESEND, [{"k": k, "now": now} for k in resend])


def _params(o: Outcome, now: datetime) -> dict[str, Any]:
    state = AttemptState(o.state)
    declined = state in (AttemptState.DECLINED, AttemptState.FAILED)
    return {
        "k": o.business_key,
        "now": now,
        "status": Status(o.purchase_status) if o.purchase_status is not None else None,
        "at": o.observed_at,
        "code": o.decline_code if declined else None,
        "net": o.network_code if declined else None,
        "advice": o.advice_code if declined else None,
        "brand": o.brand,
        "pan": o.masked_pan,
        "paid": o.paid_cents,
        "fee": o.fee_cents,
        "net_amount": o.net_cents,
        "paid_at": o.paid_at,
    }


def record_outcomes_grouped(uow: Transaction, outcomes: Iterable[Outcome]) -> None:
    """:func:`~payflows.ledger.record_outcomes` for outcomes named by business key, one
    statement per target state, each guarded by the table."""
    now = utcnow()
    by_state: dict[AttemptState, list[dict[str, Any]]] = {}
    for o in outcomes:
        if o.business_key is None:
            raise ValueError("grouped outcomes are named by business key")
        state = AttemptState(o.state)
        if state in _RECORD:
            by_state.setdefault(state, []).append(_params(o, now))
    for state, rows in by_state.items():
        execute_many(uow, _RECORD[state], rows)


def insert_submitted(uow: Transaction, intents: Sequence[Mapping[str, Any]]) -> None:
    """Attempts acting on an existing purchase (capture, void), durable as ``submitted`` before
    the request leaves: new ones inserted so, ones a crash left unsent moved so, and ``unknown``
    ones moved back to ``submitted`` (``resend``: the purchase was read back, nothing landed).

    Each intent: ``k`` (business key), ``kind``, ``amount``, ``currency``, ``pid`` (the related
    purchase), optionally ``resend``.
    """
    if not intents:
        return
    now = utcnow()
    execute_many(
        uow,
        _INSERT_SUBMITTED[uow.dialect],
        [
            {
                "business_key": i["k"],
                "kind": i["kind"],
                "state": AttemptState.SUBMITTED,
                "amount_cents": i["amount"],
                "currency": i["currency"],
                "related_purchase_id": i["pid"],
                "created_at": now,
                "updated_at": now,
            }
            for i in intents
        ],
    )
    submit_grouped(
        uow,
        [i["k"] for i in intents if not i.get("resend")],
        resend=[i["k"] for i in intents if i.get("resend")],
        now=now,
    )


#: What :func:`insert_intents` reads back of each attempt, in this order.
INTENT_COLUMNS = ("id", "business_key", "state", "purchase_id", "amount_cents", "currency")


def insert_intents(uow: Transaction, intents: Sequence[Intent]) -> list[list[Any]]:
    """:func:`~payflows.ledger.record_intents` straight to the driver: each intent inserted
    once (``ON CONFLICT DO NOTHING``: an attempt already there stands, with its state, purchase
    and amount), then every one read back as :data:`INTENT_COLUMNS`, in the order given.

    For the billing run's claim, which needs those few columns of 500 attempts, not 500 ORM
    objects. Same checks as :func:`~payflows.ledger.record_intents`.
    """
    if not intents:
        return []
    execute_many(uow, _INSERT_SUBMITTED[uow.dialect], intent_rows(intents, utcnow()))
    keys = [i.business_key for i in intents]
    found = {row[1]: row for row in rows_in(uow, _ATTEMPTS, INTENT_COLUMNS, "business_key", keys)}
    return [found[key] for key in keys]


def withdraw_grouped(uow: Transaction, keys: Sequence[str]) -> None:
    """Forget attempts the gateway refused outright (only where the table allows withdrawal)."""
    if keys:
        execute_many(uow, _WITHDRAW, [{"k": k} for k in keys])
