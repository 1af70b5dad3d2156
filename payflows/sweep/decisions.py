"""The merchant's word on a hold: fulfilled for an amount, cancelled, or not yet; and its policy.

The same functions serve the CLI (``payflows holds decide / policy / import``), the operator
endpoint of the web app (``POST /holds/{purchase_id}/decision``) and the CSV import, so the
three agree on what is accepted. A refusal changes nothing and says why, as one small tree::

    LedgerError
    └── DecisionRefused        nothing was recorded (.http_status for the web endpoint)
        ├── UnknownHold        no hold for that purchase id (404)
        ├── HoldNotOpen        captured, voided or expired already, or a capture or void
        │                      of it is in flight (409)
        └── InvalidDecision    not a decision, an amount above the hold, an amount on a void (422)

A decision can change while the hold is open and nothing is in flight for it; recording the same
decision again is harmless (``changed`` is false).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.engine import Engine

from payflows.csvfiles import (
    ERROR_COLUMNS,
    FileError,
    ImportResult,
    RowError,
    normalise,
    read_header,
    records,
    redact,
)
from payflows.domain.attempts import UNRESOLVED
from payflows.domain.holds import DEFAULT_WINDOWS, AuthorisationWindows
from payflows.domain.money import parse_amount
from payflows.domain.states import Status
from payflows.ledger import (
    Hold,
    HoldDecision,
    LedgerError,
    PaymentAttempt,
    UnitOfWork,
)
from payflows.ledger.models import HoldPolicy, utcnow
from payflows.sweep.policy import deadline_of

__all__ = [
    "DECISION_COLUMNS",
    "DecisionRefused",
    "HoldNotOpen",
    "HoldView",
    "InvalidDecision",
    "UnknownHold",
    "decide",
    "hold_view",
    "import_decisions",
    "open_holds",
    "parse_decision",
    "parse_policy",
    "set_policy",
]

#: Columns of a decisions CSV; ``purchase_id`` and one of ``decision`` / ``policy`` per row.
DECISION_COLUMNS = ("purchase_id", "decision", "amount", "policy")

_DECISIONS = {
    "capture": HoldDecision.CAPTURE,
    "fulfilled": HoldDecision.CAPTURE,
    "void": HoldDecision.VOID,
    "cancelled": HoldDecision.VOID,
    "canceled": HoldDecision.VOID,
    "none": HoldDecision.NONE,
    "clear": HoldDecision.NONE,
}
_IN_FLIGHT = sorted(UNRESOLVED)


class DecisionRefused(LedgerError):
    http_status = 422


class UnknownHold(DecisionRefused, LookupError):
    http_status = 404


class HoldNotOpen(DecisionRefused):
    http_status = 409


class InvalidDecision(DecisionRefused, ValueError):
    http_status = 422


def parse_decision(text: str) -> HoldDecision:
    """``capture``/``fulfilled``, ``void``/``cancelled``, ``none``/``clear`` (any case)."""
    choice = _DECISIONS.get(text.strip().lower())
    if choice is None:
        raise InvalidDecision(
            f"not a decision: {redact(text)[:40]!r} (capture, void or none; "
            "fulfilled and cancelled are accepted too)"
        )
    return choice


def parse_policy(text: str) -> HoldPolicy | None:
    """``capture``, ``void``, ``alert``, or ``default`` (None: the merchant's default)."""
    value = text.strip().lower()
    if value == "default":
        return None
    try:
        return HoldPolicy(value)
    except ValueError:
        raise InvalidDecision(
            f"not a policy: {redact(text)[:40]!r} (capture, void, alert or default)"
        ) from None


def _open_hold(uow: UnitOfWork, purchase_id: str) -> Hold:
    hold = (
        uow.session.execute(select(Hold).where(Hold.purchase_id == purchase_id)).scalars().first()
    )
    if hold is None:
        raise UnknownHold(f"no hold for purchase {purchase_id}")
    if hold.status != Status.HOLD:
        raise HoldNotOpen(f"hold {purchase_id} is {hold.status.value}, no longer open")
    busy = uow.session.execute(
        select(PaymentAttempt.business_key).where(
            PaymentAttempt.business_key.in_([f"capture:{purchase_id}", f"void:{purchase_id}"]),  # type: ignore[attr-defined]
            PaymentAttempt.state.in_(_IN_FLIGHT),  # type: ignore[attr-defined]
        )
    ).first()
    if busy is not None:
        raise HoldNotOpen(
            f"hold {purchase_id}: {busy[0].split(':')[0]} in flight; the next sweep settles it"
        )
    return hold


def decide(
    uow: UnitOfWork,
    purchase_id: str,
    decision: HoldDecision | str,
    amount_cents: int | None = None,
) -> tuple[Hold, bool]:
    """Record the merchant's decision on an open hold; returns the hold and whether it changed.

    ``capture`` takes ``amount_cents`` (default: all authorised; less is a partial capture whose
    remainder is released); ``void`` and ``none`` take no amount.
    """
    choice = decision if isinstance(decision, HoldDecision) else parse_decision(decision)
    if amount_cents is not None and (
        isinstance(amount_cents, bool) or not isinstance(amount_cents, int)
    ):
        raise InvalidDecision("amount_cents must be a whole number of cents")
    hold = _open_hold(uow, purchase_id)
    if choice is HoldDecision.CAPTURE:
        amount = hold.authorised_cents if amount_cents is None else amount_cents
        if not 0 < amount <= hold.authorised_cents:
            raise InvalidDecision(
                f"cannot capture {amount} cents of {hold.authorised_cents} authorised"
            )
    elif amount_cents is not None:
        raise InvalidDecision(f"an amount goes with a capture only, not with {choice.value}")
    else:
        amount = None
    if hold.decision == choice and hold.decision_cents == amount:
        return hold, False
    now = utcnow()
    hold.decision, hold.decision_cents, hold.decided_at, hold.updated_at = choice, amount, now, now
    uow.session.flush()
    return hold, True


def set_policy(
    uow: UnitOfWork,
    purchase_id: str,
    policy: HoldPolicy | str | None,
    *,
    extended: bool | None = None,
    windows: AuthorisationWindows = DEFAULT_WINDOWS,
) -> tuple[Hold, bool]:
    """Set an open hold's own policy (None: the default) and, optionally, its extended flag.

    Marking a hold extended moves its deadline to the extended window (unless the gateway gave
    an expiry): only do it for authorisations the acquirer really extended.
    """
    value = parse_policy(policy) if isinstance(policy, str) else policy
    hold = _open_hold(uow, purchase_id)
    changed = hold.policy != value
    hold.policy = value
    if extended is not None and extended != hold.extended:
        hold.extended = extended
        hold.expires_at = deadline_of(hold, windows)
        changed = True
    if changed:
        hold.updated_at = utcnow()
        uow.session.flush()
    return hold, changed


class HoldView(BaseModel):
    """A hold as the CLI and the operator endpoint show it (no card data: brand only)."""

    purchase_id: str
    status: str
    brand: str | None
    is_mit: bool
    extended: bool
    authorised_cents: int
    captured_cents: int
    currency: str
    authorised_at: datetime
    expires_at: datetime
    act_by: datetime
    decision: str
    decision_cents: int | None
    policy: str | None
    effective_policy: str
    last_action: str | None
    last_reason: str | None
    acted_at: datetime | None
    needs_attention: bool


def hold_view(hold: Hold, windows: AuthorisationWindows, default_policy: str) -> HoldView:
    return HoldView(
        purchase_id=hold.purchase_id,
        status=Status(hold.status).value,
        brand=hold.brand,
        is_mit=hold.is_mit,
        extended=hold.extended,
        authorised_cents=hold.authorised_cents,
        captured_cents=hold.captured_cents,
        currency=hold.currency,
        authorised_at=hold.authorised_at,
        expires_at=hold.expires_at,
        act_by=windows.act_by(hold.expires_at),
        decision=HoldDecision(hold.decision).value,
        decision_cents=hold.decision_cents,
        policy=hold.policy.value if hold.policy is not None else None,
        effective_policy=(hold.policy.value if hold.policy is not None else default_policy),
        last_action=hold.last_action,
        last_reason=hold.last_reason,
        acted_at=hold.acted_at,
        needs_attention=hold.alerted_at is not None,
    )


def open_holds(uow: UnitOfWork, *, limit: int = 1000, include_closed: bool = False) -> list[Hold]:
    """Holds soonest deadline first: open ones (status ``hold``), or every one."""
    stmt = select(Hold)
    if not include_closed:
        stmt = stmt.where(Hold.status == Status.HOLD)
    stmt = stmt.order_by(Hold.expires_at, Hold.id).limit(limit)  # type: ignore[arg-type]
    return list(uow.session.execute(stmt).scalars())


# --------------------------------------------------------------------------- CSV


def _rows(handle: Any) -> Iterator[tuple[int, dict[str, str] | RowError]]:
    reader = csv.reader(handle, strict=True)
    names = [normalise(h) for h in read_header(reader)]
    if len(set(names)) != len(names):
        raise FileError("a column appears twice in the header")
    unknown = [n for n in names if n not in DECISION_COLUMNS]
    if unknown:
        raise FileError(
            f"unknown column(s) for hold decisions: {', '.join(map(repr, unknown))} "
            f"(allowed: {', '.join(DECISION_COLUMNS)})"
        )
    if "purchase_id" not in names or not ({"decision", "policy"} & set(names)):
        raise FileError("a decisions file needs purchase_id and decision and/or policy columns")
    for line, record in records(reader, names):
        if isinstance(record, RowError):
            yield line, record
        else:
            yield line, {name: cell.strip() for name, cell in record.items()}


def _apply_row(uow: UnitOfWork, line: int, row: dict[str, str]) -> tuple[bool, RowError | None]:
    """One row in a savepoint: either all of it lands or none of it."""
    pid = row.get("purchase_id", "")
    if not pid:
        return False, RowError(line=line, column="purchase_id", reason="required")
    if len(pid) > 64:
        return False, RowError(line=line, column="purchase_id", reason="longer than 64")
    decision_text, policy_text = row.get("decision", ""), row.get("policy", "")
    amount_text = row.get("amount", "")
    if not decision_text and not policy_text:
        return False, RowError(line=line, column="decision", reason="give a decision or a policy")
    if amount_text and not decision_text:
        return False, RowError(
            line=line, column="amount", reason="an amount needs decision capture"
        )
    column = "purchase_id"
    try:
        with uow.session.begin_nested():
            changed = False
            if decision_text:
                column = "decision"
                choice = parse_decision(decision_text)
                amount = None
                if amount_text:
                    column = "amount"
                    if choice is not HoldDecision.CAPTURE:
                        raise InvalidDecision(f"an amount goes with a capture only, not {choice}")
                    hold = _open_hold(uow, pid)
                    try:
                        amount = parse_amount(amount_text, hold.currency)
                    except ValueError as exc:
                        raise InvalidDecision(str(exc)) from None
                _, changed = decide(uow, pid, choice, amount)
            if policy_text:
                column = "policy"
                _, moved = set_policy(uow, pid, policy_text)
                changed = changed or moved
    except UnknownHold as exc:
        return False, RowError(line=line, column="purchase_id", reason=str(exc))
    except HoldNotOpen as exc:
        return False, RowError(line=line, column="purchase_id", reason=str(exc))
    except DecisionRefused as exc:
        return False, RowError(line=line, column=column, reason=redact(str(exc)))
    return changed, None


def import_decisions(
    path: Path, engine: Engine, *, error_path: Path | None = None, max_errors: int = 100
) -> ImportResult:
    """Decisions and policies from a CSV (``DECISION_COLUMNS``), every bad row reported.

    Good rows land even when others are rejected; importing the same file again changes nothing
    (``unchanged``). Raises :class:`FileError` when the file cannot be read as a decisions file.
    """
    started = time.perf_counter()
    path = Path(path)
    if error_path is not None and error_path.exists():
        error_path.unlink()
    result = ImportResult(file=str(path), kind="hold_decisions")
    with ExitStack() as stack:
        try:
            handle = stack.enter_context(path.open(newline="", encoding="utf-8-sig"))
        except FileNotFoundError:
            raise FileError(f"no such file: {path}") from None
        except IsADirectoryError:
            raise FileError(f"{path} is a folder, not a CSV file") from None
        writer: Any = None
        try:
            with UnitOfWork(engine) as uow:
                for line, item in _rows(handle):
                    result.rows_read += 1
                    error = item if isinstance(item, RowError) else None
                    if error is None:
                        assert isinstance(item, dict)
                        changed, error = _apply_row(uow, line, item)
                    if error is None:
                        if changed:
                            result.updated += 1
                        else:
                            result.unchanged += 1
                        continue
                    result.rejected += 1
                    if len(result.errors) < max_errors:
                        result.errors.append(error)
                    else:
                        result.errors_truncated = True
                    if error_path is not None:
                        if writer is None:
                            error_path.parent.mkdir(parents=True, exist_ok=True)
                            out = stack.enter_context(
                                error_path.open("w", newline="", encoding="utf-8")
                            )
                            writer = csv.writer(out)
                            writer.writerow(ERROR_COLUMNS)
                            result.error_file = str(error_path)
                        writer.writerow((error.line, error.column, error.reason))
                uow.commit()
                result.chunks = 1
        except UnicodeDecodeError:
            raise FileError("the file is not UTF-8 text") from None
    result.seconds = round(time.perf_counter() - started, 3)
    return result
