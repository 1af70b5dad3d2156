# ruff: noqa: RUF001 (digits of other scripts are the point of these tests)
"""Issue 15: hostile cells are row errors (never a crash), card numbers are refused in every
column whatever separates their digits, and no message quotes the cell."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from apps.imports_cli import import_command
from payflows.imports import import_csv
from payflows.imports.inbox import file_into, import_file, outcome_of, pending_files
from payflows.ledger import Customer, PaymentMethod, Subscription, UnitOfWork
from tests.unit.imports.conftest import SAMPLES

CUSTOMERS = "external_id,email,full_name,phone,country\n"
SUBS = (
    "external_id,customer_external_id,recurring_token,plan,amount,currency,interval,"
    "interval_count,first_billing_date\n"
)
PMS = (
    "customer_external_id,recurring_token,original_amount,currency,brand,masked_pan,"
    "expiry_month,expiry_year\n"
)
VISA = "4111111111111111"
AMEX = "378282246310005"


def _count(engine: Engine, model: type) -> int:
    with UnitOfWork(engine) as uow:
        return uow.session.execute(select(func.count()).select_from(model)).scalar_one()


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


@pytest.mark.parametrize(
    ("row", "column"),
    [
        (f"{VISA},a@example.co.za,Ann,,ZA", "external_id"),
        (f"c1,{VISA}@example.co.za,Ann,,ZA", "email"),
        (f"c1,a@example.co.za,Ann,+{AMEX},ZA", "phone"),
        ("c1,a@example.co.za,Ann 4111.1111.1111.1111,,ZA", "full_name"),
        ("c1,a@example.co.za,Ann 4111/1111/1111/1111,,ZA", "full_name"),
        ("c1,a@example.co.za,Ann_4111_1111_1111_1111,,ZA", "full_name"),
        ("c1,a@example.co.za,4111 - 1111 - 1111 - 1111,,ZA", "full_name"),
        ("c1,a@example.co.za,٤١١١١١١١١١١١١١١١,,ZA", "full_name"),
    ],
)
def test_a_card_number_in_any_column_is_a_row_error_never_echoed(
    engine: Engine, write_csv, tmp_path: Path, row: str, column: str
) -> None:
    path = write_csv("c.csv", CUSTOMERS + row + "\nc2,b@example.co.za,Bea,,ZA\n")
    result = import_csv(path, engine, error_path=tmp_path / "e.csv")

    assert (result.inserted, result.rejected) == (1, 1)
    (error,) = result.errors
    assert (error.line, error.column) == (2, column)
    assert "card number" in error.reason
    written = (tmp_path / "e.csv").read_text(encoding="utf-8")
    for text in (written, error.reason):
        assert "4111" not in _digits(text) and "3782" not in _digits(text)
    assert _count(engine, Customer) == 1


@pytest.mark.parametrize(
    ("cells", "column"),
    [
        ({"expiry_month": "²"}, "expiry_month"),
        ({"expiry_month": "١٢"}, "expiry_month"),
        ({"expiry_year": "２０３０"}, "expiry_year"),
        ({"original_amount": "١٠٠"}, "original_amount"),
        ({"currency": "XYZ"}, "currency"),
        ({"recurring_token": "tok\x00nul"}, "recurring_token"),
    ],
)
def test_non_ascii_digits_unknown_currencies_and_nul_are_row_errors(
    engine: Engine, write_csv, cells: dict[str, str], column: str
) -> None:
    import_csv(SAMPLES / "customers.csv", engine)
    good = {
        "customer_external_id": "cust-0001",
        "recurring_token": "tok_new_1",
        "original_amount": "100",
        "currency": "ZAR",
        "brand": "visa",
        "masked_pan": "411111******1111",
        "expiry_month": "12",
        "expiry_year": "2030",
    }
    bad = {**good, "recurring_token": "tok_new_2", **cells}
    header = PMS.strip().split(",")
    text = PMS + ",".join(good[h] for h in header) + "\n" + ",".join(bad[h] for h in header) + "\n"
    result = import_csv(write_csv("pm.csv", text), engine)

    assert (result.inserted, result.rejected) == (1, 1), result.errors
    assert result.errors[0].column == column
    with UnitOfWork(engine) as uow:
        tokens = uow.session.execute(select(PaymentMethod.recurring_token)).scalars().all()
    assert not any("\x00" in t for t in tokens)


@pytest.mark.parametrize(
    ("cells", "column"),
    [
        ({"interval_count": "²"}, "interval_count"),
        ({"interval_count": "9" * 40}, "interval_count"),
        ({"first_billing_date": "9999-12-31T23:00:00-10:00"}, "first_billing_date"),
        ({"first_billing_date": "0001-01-01T00:00:00+10:00"}, "first_billing_date"),
        ({"first_billing_date": "２０２６-12-01"}, "first_billing_date"),
        ({"amount": "9" * 30}, "amount"),
        ({"plan": "x" * (200 * 1024)}, "plan"),  # over the csv module's 128 KiB field limit
    ],
)
def test_one_bad_cell_does_not_stop_the_import(
    engine: Engine, write_csv, cells: dict[str, str], column: str
) -> None:
    for kind in ("customers", "payment_methods"):
        import_csv(SAMPLES / f"{kind}.csv", engine)
    good = {
        "external_id": "sub-a",
        "customer_external_id": "cust-0001",
        "recurring_token": "tok_7f3a1c0001",
        "plan": "Gold",
        "amount": "10",
        "currency": "ZAR",
        "interval": "month",
        "interval_count": "1",
        "first_billing_date": "2026-12-01",
    }
    bad = {**good, "external_id": "sub-b", **cells}
    third = {**good, "external_id": "sub-c"}
    header = SUBS.strip().split(",")
    text = SUBS + "".join(",".join(r[h] for h in header) + "\n" for r in (good, bad, third))
    result = import_csv(write_csv("s.csv", text), engine)

    assert (result.inserted, result.rejected) == (2, 1), result.errors
    assert (result.errors[0].line, result.errors[0].column) == (3, column)
    assert len(result.errors[0].reason) < 200
    assert _count(engine, Subscription) == 2


app = typer.Typer()
app.command("import")(import_command)
app.command("noop")(lambda: None)


def test_an_import_that_cannot_go_on_exits_3_and_its_inbox_file_goes_to_failed(
    engine: Engine, ledger_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import payflows.imports.core as core

    def broken(uow, chunk):  # type: ignore[no-untyped-def]
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setitem(core.WRITERS, "customers", broken)
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", f"sqlite:///{ledger_path}")
    result = CliRunner().invoke(app, ["import", str(SAMPLES / "customers.csv")])
    assert result.exit_code == 3, result.output
    assert "the import stopped" in result.output and "Traceback" not in result.output

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "customers.csv").write_bytes((SAMPLES / "customers.csv").read_bytes())
    (entry,) = pending_files(inbox, min_age_seconds=0)
    outcome = import_file(entry, engine)
    assert outcome_of(outcome) == "failed"
    moved = file_into(inbox, entry.path, outcome_of(outcome))
    assert moved.parent.name == "failed" and moved.exists()
    with Path(f"{moved}.errors.csv").open(newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert "the import stopped" in row["reason"]
    assert pending_files(inbox, min_age_seconds=0) == []


def test_every_csv_reader_screens_every_column_at_the_source() -> None:
    """``records`` (shared by the billing imports and the hold-decision import) screens cells."""
    import io

    from payflows.imports.core import records

    text = "purchase_id,decision\np-1,void\np-2,4111 1111 1111 1111\np-3,x\x00y\np-4,capture\n"
    reader = csv.reader(io.StringIO(text, newline=""))
    names = next(reader)
    out = list(records(reader, names))
    assert [line for line, _ in out] == [2, 3, 4, 5]
    assert out[0][1] == {"purchase_id": "p-1", "decision": "void"}
    assert [(e.column, "card number" in e.reason) for _, e in out[1:3]] == [
        ("decision", True),
        ("decision", False),
    ]
    assert "4111" not in out[1][1].reason


@pytest.mark.parametrize(
    "content",
    [
        # A headerless export: its first row, card number and all, is read as the header.
        f"c1,a@example.co.za,Ann,{VISA},ZA\nc2,b@example.co.za,Bob,,ZA\n",
        # Refused whole at line 3 (a broken quote), with a card number in a cell of line 2.
        f'{CUSTOMERS}c1,a@example.co.za,Ann 4111.1111.1111.1111,,ZA\n"c2,b@example.co.za\n',
        # Not UTF-8, with a card number in it.
        CUSTOMERS.encode() + f"c1,a@example.co.za,{VISA},,ZA\n".encode() + b"\xff\xfe\n",
    ],
    ids=["headerless", "broken-quote", "not-utf8"],
)
def test_a_file_refused_whole_with_a_card_number_in_it_is_deleted_not_kept(
    engine: Engine, tmp_path: Path, content: str | bytes
) -> None:
    # Rule 4: failed/ must never keep card data, whatever made the import refuse the file.
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = inbox / "export.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    (entry,) = pending_files(inbox, min_age_seconds=0)
    result = import_file(entry, engine)
    assert outcome_of(result) == "failed" and not path.exists()
    file_into(inbox, entry.path, outcome_of(result))
    kept = [p for p in inbox.rglob("*") if p.is_file()]
    assert [p.name.endswith(".errors.csv") for p in kept] == [True]
    text = kept[0].read_text()
    assert "deleted" in text and "4111" not in text
    assert _count(engine, Customer) == 0
