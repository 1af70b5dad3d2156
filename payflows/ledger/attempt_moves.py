"""The one gate every ORM write of an attempt's state goes through: the attempt state table.

:func:`move` applies an :class:`~payflows.domain.attempts.AttemptEvent` to a loaded
:class:`~payflows.ledger.PaymentAttempt` when :data:`~payflows.domain.attempts.ATTEMPT_TRANSITIONS`
has a row for it, and refuses (returns False) otherwise; the grouped SQL writers of
:mod:`payflows.ledger.grouped` use the same table as ``WHERE state IN``. Nothing else in the code
assigns ``PaymentAttempt.state``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlmodel import select

from payflows.domain.attempts import (
    ATTEMPT_TRANSITIONS,
    REMOVED,
    RESOLVED,
    AttemptEvent,
    AttemptState,
)
from payflows.ledger._common import chunks
from payflows.ledger.db import UnitOfWork
from payflows.ledger.models import PaymentAttempt

__all__ = ["attempts_by", "move"]


def attempts_by(uow: UnitOfWork, column: Any, values: Iterable[str]) -> dict[str, PaymentAttempt]:
    """Attempts whose ``column`` (business_key or purchase_id) is one of ``values``."""
    wanted = list(dict.fromkeys(values))
    found: dict[str, PaymentAttempt] = {}
    for chunk in chunks(wanted):
        rows = uow.session.exec(select(PaymentAttempt).where(column.in_(chunk)))
        for row in rows:
            found[getattr(row, column.key)] = row
    return found


def move(attempt: PaymentAttempt, event: AttemptEvent, now: datetime) -> bool:
    """Apply ``event`` if the table allows it from the attempt's state; whether it moved.

    A move into ``succeeded`` clears the decline fields; one into a resolved state stamps
    ``resolved_at``. :data:`~payflows.domain.attempts.REMOVED` (a withdrawal) is not a state:
    the caller deletes the row.
    """
    target = ATTEMPT_TRANSITIONS.get((AttemptState(attempt.state), event))
    if target is None or target == REMOVED or target == attempt.state:
        return False
    new = AttemptState(target)
    attempt.state = new
    attempt.updated_at = now
    if new in RESOLVED:
        attempt.resolved_at = now
    if new is AttemptState.SUCCEEDED:
        attempt.decline_code = attempt.network_code = attempt.advice_code = None
    return True
