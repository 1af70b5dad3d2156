"""The one table of payment-attempt states: where our side of one attempt stands, and its moves.

A purchase has its status at the gateway (:mod:`payflows.domain.states`); the merchant's ledger
keeps, beside it, one *attempt* per business key: what we meant to do and how far we got. Every
write of an attempt's state, by the single-payment service, the billing run or the hold sweep,
one row at a time or grouped into one statement, goes through this table: :func:`next_state`
for the ORM path, :func:`sources` for the grouped SQL (``WHERE state IN sources(event)``).

The exactly-once protocol is the table read top to bottom: an ``intent`` is durable before
anything is sent; ``attach`` stores the purchase id (``created``); ``submit`` says the request
may have reached the gateway (``submitted``); the answer is ``succeed``, ``decline`` or
``fail``; a lost answer (timeout, dropped connection, 5xx) is ``lose`` (``unknown``), settled by
reading the purchase back. A read-back that proves nothing landed lets the attempt be
submitted again on the same purchase (``unknown -> submitted``): the gateway pays a purchase at
most once, so that can never charge twice.

Two rules keep the ledger equal to the gateway. ``succeeded`` is final (a late timeout never
makes a paid attempt look unknown). A ``declined`` or ``failed`` attempt may still become
``succeeded`` when the gateway says the purchase is paid (a lost answer, then a retry refused as
"already paid"; a payer who tried again on the payment page): the gateway is the truth about
money. Nothing else moves a resolved attempt.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from payflows.domain.states import Status

__all__ = [
    "ATTEMPT_TRANSITIONS",
    "NOT_ARRIVED",
    "PAID_LIKE",
    "REMOVED",
    "RESOLVED",
    "UNRESOLVED",
    "AttemptEvent",
    "AttemptState",
    "IllegalAttemptMove",
    "event_for_status",
    "event_to",
    "may",
    "next_state",
    "render_attempt_mermaid",
    "sources",
    "state_for_status",
]


class AttemptState(StrEnum):
    """Where our side of one attempt stands; the purchase status is kept beside it."""

    INTENT = "intent"
    CREATED = "created"
    SUBMITTED = "submitted"
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    UNKNOWN = "unknown"
    FAILED = "failed"


class AttemptEvent(StrEnum):
    """What happens to an attempt."""

    ATTACH = "attach"  # the purchase id is stored (committed) before anything is sent
    SUBMIT = "submit"  # the request may reach the gateway (or a read-back shows it in flight)
    SUCCEED = "succeed"  # the gateway did it (answer, read-back or webhook)
    DECLINE = "decline"  # the card network said no: a real, final answer
    FAIL = "fail"  # the gateway refused the request itself, or the purchase ended unpaid
    LOSE = "lose"  # the answer was lost: unknown until the purchase is read back
    WITHDRAW = "withdraw"  # the gateway refused outright (4xx) before any money moved: forget it


#: Target of :attr:`AttemptEvent.WITHDRAW`: the row is deleted and the business key freed.
REMOVED: Final = "removed"

A, E = AttemptState, AttemptEvent

#: Attempts that still need the purchase read back to be settled.
UNRESOLVED: Final = frozenset({A.INTENT, A.CREATED, A.SUBMITTED, A.UNKNOWN})
#: Attempts with a final answer (only a "paid" from the gateway moves declined/failed again).
RESOLVED: Final = frozenset({A.SUCCEEDED, A.DECLINED, A.FAILED})

#: Purchase statuses in which the money came in: paid, and everything that can follow it.
PAID_LIKE: Final = frozenset(
    {
        Status.PAID,
        Status.CLEARED,
        Status.SETTLED,
        Status.PENDING_REFUND,
        Status.REFUNDED,
        Status.CHARGEBACK,
    }
)
#: Purchase statuses in which nothing has been submitted on the purchase yet.
NOT_ARRIVED: Final = frozenset({Status.CREATED, Status.VIEWED})


def _rows() -> dict[tuple[AttemptState, AttemptEvent], AttemptState | str]:
    t: dict[tuple[AttemptState, AttemptEvent], AttemptState | str] = {
        (A.INTENT, E.ATTACH): A.CREATED,
        # A lost create answer, then a purchase created again: the new one is attached.
        (A.UNKNOWN, E.ATTACH): A.CREATED,
        # Acting on an existing purchase (capture, void, refund): no purchase of its own.
        (A.INTENT, E.SUBMIT): A.SUBMITTED,
        (A.CREATED, E.SUBMIT): A.SUBMITTED,
        # Read back unpaid and still chargeable: send again on the same purchase.
        (A.UNKNOWN, E.SUBMIT): A.SUBMITTED,
    }
    for state in UNRESOLVED:
        t[(state, E.SUCCEED)] = A.SUCCEEDED
        t[(state, E.DECLINE)] = A.DECLINED
        t[(state, E.FAIL)] = A.FAILED
    for state in (A.INTENT, A.CREATED, A.SUBMITTED):
        t[(state, E.LOSE)] = A.UNKNOWN
        t[(state, E.WITHDRAW)] = REMOVED
    # The gateway says paid after we recorded a decline or a refusal: it is the truth.
    t[(A.DECLINED, E.SUCCEED)] = A.SUCCEEDED
    t[(A.FAILED, E.SUCCEED)] = A.SUCCEEDED
    return t


#: ``(state, event) -> state`` (or :data:`REMOVED`). Anything else is refused.
ATTEMPT_TRANSITIONS: Final[dict[tuple[AttemptState, AttemptEvent], AttemptState | str]] = _rows()


class IllegalAttemptMove(ValueError):
    """An event the table does not allow from the attempt's current state."""

    def __init__(self, state: AttemptState, event: AttemptEvent) -> None:
        super().__init__(f"an attempt in state {state.value} cannot {event.value}")
        self.state, self.event = state, event


def may(state: AttemptState | str, event: AttemptEvent) -> bool:
    """Whether the table has a row for ``event`` from ``state``."""
    return (AttemptState(state), event) in ATTEMPT_TRANSITIONS


def next_state(state: AttemptState | str, event: AttemptEvent) -> AttemptState | str:
    """Where ``event`` takes an attempt in ``state``; raises :class:`IllegalAttemptMove`."""
    current = AttemptState(state)
    target = ATTEMPT_TRANSITIONS.get((current, event))
    if target is None:
        raise IllegalAttemptMove(current, event)
    return target


def sources(event: AttemptEvent) -> frozenset[AttemptState]:
    """The states ``event`` may leave: the guard of a grouped ``UPDATE ... WHERE state IN``."""
    return frozenset(s for (s, e) in ATTEMPT_TRANSITIONS if e is event)


#: What a purchase status says about the attempt that created the purchase (None: nothing yet).
_EVENT_FOR_STATUS: Final[dict[Status, AttemptEvent | None]] = {
    **{s: E.SUCCEED for s in PAID_LIKE},
    # The authorisation or verification itself succeeded, whatever became of the hold later.
    **{
        s: E.SUCCEED
        for s in (
            Status.HOLD,
            Status.PREAUTHORIZED,
            Status.PENDING_CAPTURE,
            Status.PENDING_RELEASE,
            Status.RELEASED,
            Status.EXPIRED,
        )
    },
    Status.ERROR: E.DECLINE,
    Status.BLOCKED: E.DECLINE,
    Status.PENDING_EXECUTE: E.SUBMIT,
    Status.PENDING_CHARGE: E.SUBMIT,
    # Cancelled before anything was paid: nothing happened. (A cancel after ``paid`` leaves a
    # succeeded attempt as it is: the table has no row for it.)
    Status.CANCELLED: E.FAIL,
    Status.OVERDUE: E.FAIL,  # the purchase's due time passed unpaid
    Status.CREATED: None,
    Status.VIEWED: None,
}
if set(_EVENT_FOR_STATUS) != set(Status):  # pragma: no cover - a status added to one table only
    raise RuntimeError("every purchase status must map to an attempt event")


def event_for_status(status: Status | str) -> AttemptEvent | None:
    """The event a purchase status means for the attempt that created the purchase."""
    return _EVENT_FOR_STATUS[Status(status)]


def state_for_status(status: Status | str) -> AttemptState | None:
    """The state a purchase status settles its (unresolved) creating attempt in; None when
    nothing was submitted on the purchase yet (``created``, ``viewed``)."""
    event = event_for_status(status)
    if event is None:
        return None
    target = ATTEMPT_TRANSITIONS[(A.SUBMITTED, event)] if event is not E.SUBMIT else A.SUBMITTED
    return AttemptState(target)


_EVENT_REACHING: Final[dict[AttemptState, AttemptEvent]] = {
    A.CREATED: E.ATTACH,
    A.SUBMITTED: E.SUBMIT,
    A.SUCCEEDED: E.SUCCEED,
    A.DECLINED: E.DECLINE,
    A.FAILED: E.FAIL,
    A.UNKNOWN: E.LOSE,
}


def event_to(state: AttemptState | str) -> AttemptEvent | None:
    """The event that lands an attempt in ``state`` (None for ``intent``: only a new row is)."""
    return _EVENT_REACHING.get(AttemptState(state))


def render_attempt_mermaid() -> str:
    """The table as a Mermaid state diagram, for docs/state-machine.md."""
    lines = ["stateDiagram-v2", "    [*] --> intent: record_intent"]
    for (src, event), dst in sorted(ATTEMPT_TRANSITIONS.items()):
        target = "[*]" if dst == REMOVED else dst
        lines.append(f"    {src} --> {target}: {event}")
    return "\n".join(lines)
