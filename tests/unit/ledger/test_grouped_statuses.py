"""The bulk read-back path gives the same rows as the ORM one, report for report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from payflows.domain import Status
from payflows.ledger import (
    AttemptKind,
    Hold,
    PaymentAttempt,
    StatusReport,
    UnitOfWork,
    apply_gateway_statuses,
    attach_purchase,
    mark_submitted,
    record_hold,
    record_intent,
)
from payflows.ledger.grouped_statuses import apply_statuses_grouped

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
M = timedelta(minutes=1)

# (purchase suffix, has a hold, reports as (status, minutes after T0, amount))
CASES = [
    ("held-paid", True, [(Status.HOLD, 0, None), (Status.PAID, 5, 1800)]),
    ("paid-late-hold", True, [(Status.PAID, 5, 2500), (Status.HOLD, 9, None)]),
    ("released", True, [(Status.RELEASED, 3, None)]),
    ("expired", True, [(Status.EXPIRED, 3, None)]),
    ("pending", True, [(Status.PENDING_CAPTURE, 1, None)]),
    ("dup", True, [(Status.HOLD, 1, None), (Status.HOLD, 1, None)]),
    (
        "cycle",
        False,
        [(Status.PENDING_EXECUTE, 0, None), (Status.ERROR, 1, None), (Status.PAID, 4, 2500)],
    ),
    ("declined", False, [(Status.ERROR, 2, None), (Status.PENDING_EXECUTE, 0, None)]),
    ("no-hold-paid", False, [(Status.PAID, 2, 2500)]),
]


def _setup(engine: Engine, prefix: str) -> None:
    with UnitOfWork(engine) as uow:
        for name, with_hold, _ in CASES:
            key, pid = f"pre:{prefix}{name}", f"{prefix}{name}"
            record_intent(uow, key, AttemptKind.PREAUTH, 2500, "ZAR")
            attach_purchase(uow, key, pid)
            mark_submitted(uow, key)
            if with_hold:
                record_hold(
                    uow,
                    pid,
                    authorised_cents=2500,
                    currency="ZAR",
                    authorised_at=T0,
                    expires_at=T0 + timedelta(days=7),
                )
        uow.commit()


def _reports(prefix: str) -> list[StatusReport]:
    return [
        StatusReport(f"{prefix}{name}", status, T0 + minutes * M, amount)
        for name, _, reports in CASES
        for status, minutes, amount in reports
    ] + [StatusReport(f"{prefix}unknown", Status.PAID, T0, 1)]


def _rows(engine: Engine, prefix: str) -> dict[str, tuple]:
    with UnitOfWork(engine) as uow:
        attempts = uow.session.execute(
            select(
                PaymentAttempt.purchase_id,
                PaymentAttempt.state,
                PaymentAttempt.purchase_status,
                PaymentAttempt.status_at,
                PaymentAttempt.resolved_at.is_(None),
            ).where(PaymentAttempt.purchase_id.startswith(prefix))
        ).all()
        holds = uow.session.execute(
            select(Hold.purchase_id, Hold.status, Hold.status_at, Hold.captured_cents).where(
                Hold.purchase_id.startswith(prefix)
            )
        ).all()
    out = {f"a:{r[0][len(prefix) :]}": tuple(r[1:]) for r in attempts}
    out |= {f"h:{r[0][len(prefix) :]}": tuple(r[1:]) for r in holds}
    return out


def test_bulk_statuses_match_the_orm_path_row_for_row(engine: Engine) -> None:
    _setup(engine, "orm-")
    _setup(engine, "blk-")
    with UnitOfWork(engine) as uow:
        orm = apply_gateway_statuses(uow, _reports("orm-"))
        uow.commit()
    with UnitOfWork(engine) as uow:
        bulk = apply_statuses_grouped(uow, _reports("blk-"))
        uow.commit()
    assert [p.removeprefix("orm-") for p in orm] == [p.removeprefix("blk-") for p in bulk]
    assert len(orm) == len(CASES)  # each moved (a duplicate once); the unknown purchase not
    assert _rows(engine, "orm-") == _rows(engine, "blk-")
    # Applying them again changes nothing on either path.
    with UnitOfWork(engine) as uow:
        assert apply_statuses_grouped(uow, _reports("blk-")) == []
        uow.commit()


def test_a_row_moved_by_another_writer_is_not_overwritten(engine: Engine) -> None:
    _setup(engine, "race-")
    with UnitOfWork(engine) as uow:
        # Another writer settles the hold between this commit's read and write: simulated by
        # the guard's view (read ``hold``), then a status the row no longer has.
        apply_gateway_statuses(uow, [StatusReport("race-held-paid", Status.RELEASED, T0 + M)])
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert (
            apply_statuses_grouped(uow, [StatusReport("race-held-paid", Status.HOLD, T0 + 2 * M)])
            == []
        )
        uow.commit()
    rows = _rows(engine, "race-")
    assert rows["h:held-paid"][0] == Status.RELEASED
    assert rows["a:held-paid"][1] == Status.RELEASED


def test_the_cached_news_rule_is_the_ledgers_for_every_pair_of_statuses() -> None:
    from payflows.ledger.grouped_statuses import _is_news as cached
    from payflows.ledger.statuses import _is_news as rule

    times = (None, T0 - M, T0, T0 + M)
    for current in (None, *Status):
        for new in Status:
            for at in times:
                if current is None and at is not None:
                    continue
                assert cached(current, at, new, T0) == rule(current, at, new, T0), (current, new)
