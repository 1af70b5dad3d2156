"""Taking over single payments a killed process left in flight: read back, never re-sent.

A customer-initiated payment, a pre-authorisation, a zero-amount check or a one-off MIT charge
(the ``mit-charge`` flow) whose process died between sending and recording stays ``submitted``
or ``unknown`` in the ledger. :func:`settle_unresolved` finds those untouched for a while (their
process is gone, not just slow) and settles each by reading its purchase back
(as :func:`~payflows.payments.settle_by_read_back` does): paid, declined, or still unknown.

Not taken here: the pipelines' own attempts (billing's ``sub:``/``oneoff:`` keys are read back
by the next billing run, with the subscription's effects; the sweep reads back its holds'
``capture:``/``void:`` attempts), and actions on an existing purchase whose read-back needs
the request's own terms (``cancel``, ``refund``, ``refund_cancel``, a manual ``capture`` or
``void`` of a hold the sweep does not see): those are named as left, so a person looks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel import col, select

from payflows.domain.attempts import RESOLVED
from payflows.domain.states import Status
from payflows.gateway import PreciumError
from payflows.ledger import AttemptKind, AttemptState, PaymentAttempt, UnitOfWork
from payflows.ledger.models import utcnow
from payflows.payments.context import PaymentContext, PaymentOutcome
from payflows.payments.records import record_purchase

__all__ = ["PIPELINE_PREFIXES", "SETTLED_KINDS", "UnresolvedSummary", "settle_unresolved"]

#: Attempts whose own purchase tells their outcome: settled by read-back here.
SETTLED_KINDS = frozenset(
    {AttemptKind.CIT, AttemptKind.PREAUTH, AttemptKind.ZERO_AUTH, AttemptKind.MIT}
)
#: Business keys a pipeline reads back itself (billing, the sweep): never taken here.
PIPELINE_PREFIXES = ("sub:", "oneoff:", "capture:", "void:")
#: Younger than this, an attempt is probably still in its process's hands.
DEFAULT_OLDER_THAN = timedelta(seconds=30)

_IN_FLIGHT = (AttemptState.SUBMITTED, AttemptState.UNKNOWN)


@dataclass
class UnresolvedSummary:
    """What one pass found and did. ``unknown`` and ``left`` hold ``(business key, purchase
    id)``; the pass is complete only when both are empty."""

    examined: int = 0
    #: Purchases still waiting for the shopper's 3-D Secure answer (not a problem).
    awaiting_3ds: int = 0
    settled: dict[str, int] = field(default_factory=dict)
    unknown: list[tuple[str, str | None]] = field(default_factory=list)
    left: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.unknown and not self.left

    def problem(self) -> str | None:
        """None when nothing stays unresolved, else one line saying what."""
        parts = []
        if self.unknown:
            parts.append(f"{len(self.unknown)} still unknown after read-back")
        if self.left:
            parts.append(f"{len(self.left)} not settled here (a person must look)")
        return "; ".join(parts) or None


def _candidates(uow: UnitOfWork, older_than: timedelta, limit: int) -> list[PaymentAttempt]:
    stmt = (
        select(PaymentAttempt)
        .where(
            col(PaymentAttempt.state).in_(list(_IN_FLIGHT)),
            col(PaymentAttempt.updated_at) < utcnow() - older_than,
        )
        .order_by(col(PaymentAttempt.id))
        .limit(limit)
    )
    attempts = list(uow.session.exec(stmt))
    return [a for a in attempts if not a.business_key.startswith(PIPELINE_PREFIXES)]


async def settle_unresolved(
    ctx: PaymentContext,
    *,
    older_than: timedelta = DEFAULT_OLDER_THAN,
    limit: int = 500,
) -> UnresolvedSummary:
    """Read back every single-payment attempt left ``submitted``/``unknown`` for ``older_than``.

    Safe to run again and alongside the payment's own process: a read-back only records what
    the gateway shows, and an attempt resolved meanwhile stays as it is.
    """
    summary = UnresolvedSummary()
    attempts = await ctx.ledger(lambda uow: _candidates(uow, older_than, limit))
    for attempt in attempts:
        summary.examined += 1
        where = (attempt.business_key, attempt.purchase_id)
        if attempt.kind not in SETTLED_KINDS or attempt.purchase_id is None:
            summary.left.append(where)
            continue
        try:
            purchase = await ctx.gateway.get_purchase(attempt.purchase_id)
        except PreciumError:
            summary.unknown.append(where)
            continue
        if purchase.status == Status.PENDING_EXECUTE:
            # The shopper is still at their bank's 3-D Secure page: not lost, just waiting (an
            # abandoned challenge fails at the gateway, and is settled by a later pass).
            summary.awaiting_3ds += 1
            continue
        outcome = PaymentOutcome.of(await record_purchase(ctx, attempt, purchase))
        if outcome.state in RESOLVED:
            state = AttemptState(outcome.state).value
            summary.settled[state] = summary.settled.get(state, 0) + 1
        else:
            summary.unknown.append(where)
    return summary
