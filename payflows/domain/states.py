"""The one table of purchase state transitions.

Every status a Precium purchase can hold, every operation that moves it, and where each outcome
lands, in a single declarative table (after Kill Bill's ``PaymentStates.xml``). The sandbox moves
its purchases with :func:`next_status`; the ledger uses :func:`can_reach` to decide whether a
status reported late or out of order is news or history. Anything outside the table is refused.

A *declined* outcome is a real answer from the card network and lands in a status (``error``,
``blocked``, or back to ``hold`` for a failed capture). An *unknown* outcome (timeout, lost
response) is not an answer at all, so it has no row here: the status is whatever the gateway says
when the purchase is read back.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum
from typing import Final


class Status(StrEnum):
    CREATED = "created"
    VIEWED = "viewed"
    PENDING_EXECUTE = "pending_execute"
    PENDING_CHARGE = "pending_charge"
    HOLD = "hold"
    PREAUTHORIZED = "preauthorized"
    PENDING_CAPTURE = "pending_capture"
    PAID = "paid"
    PENDING_RELEASE = "pending_release"
    RELEASED = "released"
    CANCELLED = "cancelled"
    ERROR = "error"
    BLOCKED = "blocked"
    EXPIRED = "expired"
    OVERDUE = "overdue"
    CLEARED = "cleared"
    SETTLED = "settled"
    PENDING_REFUND = "pending_refund"
    REFUNDED = "refunded"
    CHARGEBACK = "chargeback"


class Op(StrEnum):
    """What is done to a purchase."""

    VIEW = "view"  # the payer opened the payment page
    PAY = "pay"  # card submitted, capture at once
    AUTHORIZE = "authorize"  # card submitted with skip_capture: place a hold
    VERIFY = "verify"  # zero-amount card validation
    CHARGE = "charge"  # merchant-initiated charge with a recurring token
    CAPTURE = "capture"
    RELEASE = "release"
    CANCEL = "cancel"
    REFUND = "refund"
    REFUND_CANCEL = "refund_cancel"
    CLEAR = "clear"
    SETTLE = "settle"
    EXPIRE = "expire"
    CHARGEBACK = "chargeback"
    CHARGEBACK_REVERSE = "chargeback_reverse"


class Result(StrEnum):
    STARTED = "started"  # the gateway accepted the request and is working on it
    APPROVED = "approved"
    PARTIAL = "partial"  # a partial refund: the purchase keeps its status
    DECLINED = "declined"  # soft or hard decline: a real, final answer
    BLOCKED = "blocked"  # refused for fraud or a hard rule; not payable again


#: Target meaning "the status the purchase held before the operation began".
PREVIOUS: Final = "previous"

S = Status
_PAYABLE = (S.CREATED, S.VIEWED, S.ERROR)
_PAID_LIKE = (S.PAID, S.CLEARED, S.SETTLED)


def _rows() -> dict[tuple[Status, Op, Result], Status | str]:
    t: dict[tuple[Status, Op, Result], Status | str] = {
        (S.CREATED, Op.VIEW, Result.APPROVED): S.VIEWED
    }
    for op, approved in ((Op.PAY, S.PAID), (Op.AUTHORIZE, S.HOLD), (Op.VERIFY, S.PREAUTHORIZED)):
        for state in _PAYABLE:
            t[(state, op, Result.STARTED)] = S.PENDING_EXECUTE
        t[(S.PENDING_EXECUTE, op, Result.APPROVED)] = approved
        t[(S.PENDING_EXECUTE, op, Result.DECLINED)] = S.ERROR
        t[(S.PENDING_EXECUTE, op, Result.BLOCKED)] = S.BLOCKED
    for state in _PAYABLE:
        t[(state, Op.CHARGE, Result.STARTED)] = S.PENDING_CHARGE
    t[(S.PENDING_CHARGE, Op.CHARGE, Result.APPROVED)] = S.PAID
    t[(S.PENDING_CHARGE, Op.CHARGE, Result.DECLINED)] = S.ERROR
    t[(S.PENDING_CHARGE, Op.CHARGE, Result.BLOCKED)] = S.BLOCKED

    t[(S.HOLD, Op.CAPTURE, Result.STARTED)] = S.PENDING_CAPTURE
    t[(S.PENDING_CAPTURE, Op.CAPTURE, Result.APPROVED)] = S.PAID
    t[(S.PENDING_CAPTURE, Op.CAPTURE, Result.DECLINED)] = S.HOLD

    for state in (S.HOLD, S.PREAUTHORIZED):
        t[(state, Op.RELEASE, Result.STARTED)] = S.PENDING_RELEASE
        t[(state, Op.EXPIRE, Result.APPROVED)] = S.EXPIRED
    t[(S.PENDING_RELEASE, Op.RELEASE, Result.APPROVED)] = S.RELEASED
    t[(S.PENDING_RELEASE, Op.RELEASE, Result.DECLINED)] = PREVIOUS

    # Cancel: anything not yet paid out, and a paid purchase before it clears for settlement.
    for state in (*_PAYABLE, S.HOLD, S.PREAUTHORIZED, S.PAID):
        t[(state, Op.CANCEL, Result.APPROVED)] = S.CANCELLED

    for state in _PAID_LIKE:
        t[(state, Op.REFUND, Result.STARTED)] = S.PENDING_REFUND
        t[(state, Op.REFUND_CANCEL, Result.APPROVED)] = state  # a partial refund undone
        t[(state, Op.CHARGEBACK, Result.APPROVED)] = S.CHARGEBACK
    t[(S.PENDING_REFUND, Op.REFUND, Result.APPROVED)] = S.REFUNDED
    t[(S.PENDING_REFUND, Op.REFUND, Result.PARTIAL)] = PREVIOUS
    t[(S.PENDING_REFUND, Op.REFUND, Result.DECLINED)] = PREVIOUS
    t[(S.REFUNDED, Op.REFUND_CANCEL, Result.APPROVED)] = PREVIOUS
    t[(S.REFUNDED, Op.CHARGEBACK, Result.APPROVED)] = S.CHARGEBACK
    t[(S.CHARGEBACK, Op.CHARGEBACK_REVERSE, Result.APPROVED)] = PREVIOUS

    t[(S.PAID, Op.CLEAR, Result.APPROVED)] = S.CLEARED
    t[(S.CLEARED, Op.SETTLE, Result.APPROVED)] = S.SETTLED
    return t


#: ``(status, operation, result) -> status`` (or :data:`PREVIOUS`).
TRANSITIONS: Final[dict[tuple[Status, Op, Result], Status | str]] = _rows()

#: Statuses from which nothing more can happen to the money.
TERMINAL: Final = frozenset({S.RELEASED, S.CANCELLED, S.BLOCKED, S.EXPIRED})


class InvalidTransition(ValueError):
    """An operation the table does not allow from the purchase's current status."""

    def __init__(self, status: Status, op: Op, result: Result) -> None:
        super().__init__(f"cannot {op.value} ({result.value}) a purchase in status {status.value}")
        self.status, self.op, self.result = status, op, result


def next_status(
    status: Status | str, op: Op, result: Result, previous: Status | str | None = None
) -> Status:
    """Where ``op`` with ``result`` takes a purchase in ``status``; raises InvalidTransition."""
    current = Status(status)
    target = TRANSITIONS.get((current, op, result))
    if target is None:
        raise InvalidTransition(current, op, result)
    if target == PREVIOUS:
        if previous is None:
            raise ValueError(f"{op.value} from {current.value} needs the previous status")
        return Status(previous)
    return Status(target)


def allowed(status: Status | str, op: Op, result: Result = Result.STARTED) -> bool:
    """Whether the table has a row for ``op`` from ``status`` (STARTED, else APPROVED)."""
    current = Status(status)
    return (current, op, result) in TRANSITIONS or (current, op, Result.APPROVED) in TRANSITIONS


def _graph() -> dict[Status, frozenset[Status]]:
    edges: dict[Status, set[Status]] = {s: set() for s in Status}
    for (src, _op, _res), dst in TRANSITIONS.items():
        if dst != PREVIOUS:
            edges[src].add(Status(dst))
    preds: dict[Status, set[Status]] = {s: set() for s in Status}
    for src, dsts in edges.items():
        for dst in dsts:
            if dst != src:
                preds[dst].add(src)

    def before(status: Status, seen: frozenset[Status] = frozenset()) -> set[Status]:
        # What "previous" can be: the statuses that lead here, looking through pending_* steps.
        found: set[Status] = set()
        for p in preds[status] - seen:
            if p.value.startswith("pending_"):
                found |= before(p, seen | {status})
            else:
                found.add(p)
        return found

    for (src, _op, _res), dst in TRANSITIONS.items():
        if dst == PREVIOUS:
            edges[src] |= before(src)
    return {s: frozenset(d) for s, d in edges.items()}


_EDGES: Final = _graph()


def can_reach(src: Status | str, dst: Status | str) -> bool:
    """Whether ``dst`` lies ahead of ``src``: news to a ledger that holds ``src``.

    Webhooks arrive at least once and may arrive late; a ledger applies a reported status only
    when the table can get there from what it already knows, so an old ``hold`` never overwrites
    a newer ``paid``. Rows that return to :data:`PREVIOUS` (a partial refund, a failed release)
    count as edges back to the statuses that lead into them, so the table has a few cycles
    (``paid -> pending_refund -> paid``); within a cycle the ledger orders by event time.
    """
    start, goal = Status(src), Status(dst)
    seen: set[Status] = set()
    queue = deque(_EDGES[start])
    while queue:
        node = queue.popleft()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            queue.extend(_EDGES[node] - seen)
    return False


def render_mermaid() -> str:
    """The table as a Mermaid state diagram, for docs/state-machine.md."""
    lines = ["stateDiagram-v2"]
    for (src, op, res), dst in sorted(TRANSITIONS.items()):
        target = "previous" if dst == PREVIOUS else dst
        lines.append(f"    {src} --> {target}: {op} {res}")
    return "\n".join(lines)
