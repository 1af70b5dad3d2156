"""The merchant's decisions and policies on holds, and the decisions CSV (ledger only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from payflows.domain.states import Status
from payflows.imports import FileError
from payflows.ledger import (
    AttemptKind,
    Hold,
    HoldDecision,
    HoldPolicy,
    UnitOfWork,
    make_engine,
    record_hold,
    record_intent,
)
from payflows.ledger.migrate import upgrade
from payflows.sweep import (
    HoldNotOpen,
    InvalidDecision,
    UnknownHold,
    decide,
    import_decisions,
    set_policy,
)

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SAMPLE = Path(__file__).resolve().parents[3] / "data" / "samples" / "hold-decisions.csv"


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path}/ledger.db"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def add_holds(engine, *purchase_ids: str, amount: int = 100_000) -> None:
    with UnitOfWork(engine) as uow:
        for pid in purchase_ids:
            record_hold(
                uow,
                pid,
                authorised_cents=amount,
                currency="ZAR",
                authorised_at=T0,
                expires_at=T0 + timedelta(days=7),
                brand="visa",
            )
        uow.commit()


def hold(engine, pid: str) -> Hold:
    with UnitOfWork(engine) as uow:
        return uow.session.exec(select(Hold).where(Hold.purchase_id == pid)).one()


def test_decide_capture_partial_void_and_clear(engine):
    add_holds(engine, "p-1")
    with UnitOfWork(engine) as uow:
        h, changed = decide(uow, "p-1", "fulfilled", 40_000)
        assert changed and h.decision is HoldDecision.CAPTURE and h.decision_cents == 40_000
        assert decide(uow, "p-1", "capture", 40_000)[1] is False  # same again: unchanged
        h, _ = decide(uow, "p-1", "cancelled")
        assert h.decision is HoldDecision.VOID and h.decision_cents is None
        h, _ = decide(uow, "p-1", "clear")
        assert h.decision is HoldDecision.NONE
        h, _ = decide(uow, "p-1", "capture")
        assert h.decision_cents == 100_000
        uow.commit()
    assert hold(engine, "p-1").decision is HoldDecision.CAPTURE


@pytest.mark.parametrize(
    ("decision", "amount", "error", "message"),
    [
        ("capture", 100_001, InvalidDecision, "cannot capture 100001"),
        ("capture", 0, InvalidDecision, "cannot capture 0"),
        ("void", 10, InvalidDecision, "capture only"),
        ("maybe", None, InvalidDecision, "not a decision"),
    ],
)
def test_invalid_decisions_are_refused_and_change_nothing(engine, decision, amount, error, message):
    add_holds(engine, "p-2")
    with UnitOfWork(engine) as uow, pytest.raises(error, match=message):
        decide(uow, "p-2", decision, amount)
    assert hold(engine, "p-2").decision is HoldDecision.NONE


def test_unknown_closed_and_in_flight_holds_are_refused(engine):
    add_holds(engine, "p-3", "p-4")
    with UnitOfWork(engine) as uow:
        with pytest.raises(UnknownHold):
            decide(uow, "nope", "void")
        h = uow.session.exec(select(Hold).where(Hold.purchase_id == "p-3")).one()
        h.status = Status.PAID
        record_intent(
            uow, "capture:p-4", AttemptKind.CAPTURE, 100_000, "ZAR", related_purchase_id="p-4"
        )
        uow.commit()
    with UnitOfWork(engine) as uow:
        with pytest.raises(HoldNotOpen, match="paid"):
            decide(uow, "p-3", "void")
        with pytest.raises(HoldNotOpen, match="in flight"):
            decide(uow, "p-4", "void")
    assert UnknownHold.http_status == 404 and HoldNotOpen.http_status == 409


def test_policy_and_extended_flag(engine):
    add_holds(engine, "p-5")
    with UnitOfWork(engine) as uow:
        h, changed = set_policy(uow, "p-5", "alert")
        assert changed and h.policy is HoldPolicy.ALERT
        h, changed = set_policy(uow, "p-5", "default", extended=True)
        assert changed and h.policy is None and h.extended
        assert h.expires_at == T0 + timedelta(days=30)
        with pytest.raises(InvalidDecision, match="not a policy"):
            set_policy(uow, "p-5", "later")
        uow.commit()


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "decisions.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_bad_rows_are_reported_with_line_column_reason_and_good_rows_land(engine, tmp_path):
    add_holds(engine, "h-1", "h-2", "h-3", "h-4", "h-5")
    with UnitOfWork(engine) as uow:
        h = uow.session.exec(select(Hold).where(Hold.purchase_id == "h-5")).one()
        h.status = Status.RELEASED
        uow.commit()
    path = write(
        tmp_path,
        "purchase_id,decision,amount,policy\n"
        "h-1,capture,250.50,\n"  # line 2: good (partial)
        "h-2,maybe,,\n"  # line 3: bad decision
        "h-3,capture,2000.00,\n"  # line 4: more than authorised
        "h-3,void,,alert\n"  # line 5: good
        "missing,void,,\n"  # line 6: no such hold
        "h-4,capture,12.345,\n"  # line 7: too many decimals
        "h-4,,,sometimes\n"  # line 8: bad policy
        "h-5,void,,\n"  # line 9: no longer open
        ",void,,\n"  # line 10: no purchase id
        "h-4,void,5.00,\n"  # line 11: amount on a void
        "h-4,,,\n"  # line 12: nothing to do
        "h-4,void\n",  # line 13: short row
    )
    errors = tmp_path / "errors.csv"
    result = import_decisions(path, engine, error_path=errors)
    got = [(e.line, e.column) for e in result.errors]
    assert got == [
        (3, "decision"),
        (4, "amount"),
        (6, "purchase_id"),
        (7, "amount"),
        (8, "policy"),
        (9, "purchase_id"),
        (10, "purchase_id"),
        (11, "amount"),
        (12, "decision"),
        (13, ""),
    ], result.errors
    assert "cannot capture 200000 cents of 100000" in result.errors[1].reason
    assert "released" in result.errors[5].reason
    assert result.rows_read == 12 and result.updated == 2 and result.rejected == 10
    assert errors.read_text().splitlines()[0] == "line,column,reason"
    assert hold(engine, "h-1").decision_cents == 25_050
    h3 = hold(engine, "h-3")
    assert h3.decision is HoldDecision.VOID and h3.policy is HoldPolicy.ALERT
    assert hold(engine, "h-4").decision is HoldDecision.NONE  # every h-4 row was refused whole
    again = import_decisions(path, engine)
    assert again.updated == 0 and again.unchanged == 2  # importing again changes nothing


def test_csv_refused_as_a_whole(engine, tmp_path):
    with pytest.raises(FileError, match="card number"):
        import_decisions(write(tmp_path, "purchase_id,decision,card_number\n"), engine)
    with pytest.raises(FileError, match="unknown column"):
        import_decisions(write(tmp_path, "purchase_id,decision,colour\n"), engine)
    with pytest.raises(FileError, match="needs purchase_id"):
        import_decisions(write(tmp_path, "purchase_id,amount\n"), engine)
    with pytest.raises(FileError, match="no such file"):
        import_decisions(tmp_path / "nope.csv", engine)


def test_the_sample_file_imports(engine):
    add_holds(engine, *(f"4f1c2a9e-0000-4000-8000-00000000000{i}" for i in range(1, 6)))
    result = import_decisions(SAMPLE, engine)
    assert result.rejected == 0 and result.updated == 5
