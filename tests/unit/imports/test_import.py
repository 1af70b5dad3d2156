"""The import on a real SQLite ledger: good rows land, bad ones are reported, re-runs are no-ops."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from payflows.imports import FileError, import_csv
from payflows.ledger import (
    Customer,
    OneOffCharge,
    OneOffChargeStatus,
    PaymentAttempt,
    PaymentMethod,
    Subscription,
    UnitOfWork,
)
from tests.unit.imports.conftest import SAMPLES

ORDER = ("customers", "payment_methods", "subscriptions", "one_off_charges")
CUSTOMERS_HEADER = "external_id,email,full_name,phone,country\n"
SUB_HEADER = (
    "external_id,customer_external_id,recurring_token,plan,amount,currency,interval,"
    "interval_count,first_billing_date\n"
)


def _count(engine: Engine, model: type) -> int:
    with UnitOfWork(engine) as uow:
        return uow.session.execute(select(func.count()).select_from(model)).scalar_one()


def _import_samples(engine: Engine) -> None:
    for kind in ORDER:
        result = import_csv(SAMPLES / f"{kind}.csv", engine)
        assert (result.kind, result.rejected) == (kind, 0), result.errors


def test_the_sample_files_land_and_a_second_import_changes_nothing(engine: Engine) -> None:
    _import_samples(engine)
    for model in (Customer, PaymentMethod, Subscription, OneOffCharge):
        assert _count(engine, model) == 12
    with UnitOfWork(engine) as uow:
        sub = uow.session.exec(
            select(Subscription).where(Subscription.external_id == "sub-1006")
        ).scalar_one()
        charge = uow.session.exec(
            select(OneOffCharge).where(OneOffCharge.external_id == "inv-5010")
        ).scalar_one()
        method = uow.session.exec(
            select(PaymentMethod).where(PaymentMethod.recurring_token == "tok_7f3a1c0004")
        ).scalar_one()
        stamps = {c.external_id: c.updated_at for c in uow.session.exec(select(Customer)).scalars()}
    assert sub.next_billing_at == datetime(2026, 11, 30, 4, tzinfo=UTC)  # +02:00 -> UTC
    assert (sub.amount_cents, sub.interval_count) == (44950, 1)
    assert (charge.amount_cents, charge.charge_on, charge.status) == (
        145000,
        date(2026, 12, 11),
        OneOffChargeStatus.PLANNED,
    )
    assert (method.original_amount_cents, method.masked_pan) == (125000, "520000******0007")

    for kind in ORDER:
        again = import_csv(SAMPLES / f"{kind}.csv", engine)
        assert (again.inserted, again.updated, again.unchanged, again.rejected) == (0, 0, 12, 0)
    with UnitOfWork(engine) as uow:
        assert stamps == {
            c.external_id: c.updated_at for c in uow.session.exec(select(Customer)).scalars()
        }


def test_a_changed_row_is_an_update_and_billing_state_is_not_reset(
    engine: Engine, write_csv
) -> None:
    _import_samples(engine)
    moved = datetime(2027, 3, 1, tzinfo=UTC)
    with UnitOfWork(engine) as uow:  # the billing run advanced the subscription
        uow.session.execute(
            update(Subscription)
            .where(Subscription.external_id == "sub-1001")
            .values(next_billing_at=moved)
        )
        uow.commit()
    path = write_csv(
        "subs.csv",
        SUB_HEADER
        + "sub-1001,cust-0001,tok_7f3a1c0001,Fibre 100Mbps,399.00,ZAR,month,1,2026-12-01\n"
        + "sub-1002,cust-0002,tok_7f3a1c0002,Gym Premium,349.00,ZAR,month,1,2026-12-01\n",
    )
    result = import_csv(path, engine)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    with UnitOfWork(engine) as uow:
        sub = uow.session.exec(
            select(Subscription).where(Subscription.external_id == "sub-1001")
        ).scalar_one()
    assert (sub.plan, sub.amount_cents, sub.next_billing_at) == ("Fibre 100Mbps", 39900, moved)


def test_bad_rows_are_reported_by_line_and_column_and_good_rows_still_land(
    engine: Engine, tmp_path: Path
) -> None:
    _import_samples(engine)
    errors = tmp_path / "out" / "errors.csv"
    result = import_csv(SAMPLES / "subscriptions_bad_rows.csv", engine, error_path=errors)
    assert (result.rows_read, result.inserted, result.rejected) == (10, 1, 9)
    expected = [
        (3, "amount"),
        (4, "currency"),
        (5, "interval"),
        (6, "first_billing_date"),
        (7, "customer_external_id"),
        (8, "recurring_token"),
        (9, "recurring_token"),
        (10, "amount"),
        (11, ""),
    ]
    assert [(e.line, e.column) for e in result.errors] == expected
    with errors.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["line", "column", "reason"]
    assert [(int(r[0]), r[1]) for r in rows[1:]] == expected
    assert result.error_file == str(errors)
    with UnitOfWork(engine) as uow:
        landed = uow.session.exec(
            select(Subscription).where(Subscription.external_id == "sub-2001")
        ).scalar_one()
    assert landed.amount_cents == 39900


def test_line_numbers_are_physical_lines_across_quoted_newlines_and_blank_lines(
    engine: Engine, write_csv
) -> None:
    path = write_csv(
        "c.csv",
        CUSTOMERS_HEADER
        + 'c1,a@example.co.za,"Two\nLines",,ZA\n'  # lines 2-3
        + "\n"  # line 4: blank
        + "c2,bad-email,Name,,ZA\n"  # line 5
        + 'c3,c@example.co.za,"Three\n\nLines",,ZA\n'  # lines 6-8
        + "c4,d@example.co.za,Name,,ZAF\n",  # line 9
    )
    result = import_csv(path, engine)
    assert [(e.line, e.column) for e in result.errors] == [(5, "email"), (9, "country")]
    assert (result.rows_read, result.inserted) == (4, 2)


def test_errors_across_chunks_keep_line_order_and_the_first_n_are_kept(
    engine: Engine, write_csv, tmp_path: Path
) -> None:
    lines = [CUSTOMERS_HEADER]
    for i in range(25):
        email = "broken" if i % 2 else f"u{i}@example.co.za"
        lines.append(f"c{i},{email},Person {i},,ZA\n")
    path = write_csv("c.csv", "".join(lines))
    result = import_csv(path, engine, chunk_rows=4, max_errors=5, error_path=tmp_path / "e.csv")
    assert (result.inserted, result.rejected, result.chunks) == (13, 12, 4)
    assert [e.line for e in result.errors] == [3, 5, 7, 9, 11]
    assert result.errors_truncated
    with (tmp_path / "e.csv").open() as handle:
        assert [int(r["line"]) for r in csv.DictReader(handle)] == list(range(3, 26, 2))


def test_a_key_repeated_in_one_file_is_a_row_error_and_the_first_row_wins(
    engine: Engine, write_csv
) -> None:
    path = write_csv(
        "c.csv",
        CUSTOMERS_HEADER
        + "c1,a@example.co.za,A,,ZA\nc2,c@example.co.za,C,,ZA\nc1,b@example.co.za,A,,ZA\n",
    )
    result = import_csv(path, engine, chunk_rows=1)  # the repeat is in another chunk
    assert (result.inserted, result.unchanged, result.updated, result.rejected) == (2, 0, 0, 1)
    (error,) = result.errors
    assert (error.line, error.column) == (4, "external_id")
    assert "repeats the row on line 2" in error.reason
    with UnitOfWork(engine) as uow:
        emails = sorted(uow.session.exec(select(Customer.email)).scalars().all())
    assert emails == ["a@example.co.za", "c@example.co.za"]


def test_a_pan_column_refuses_the_whole_file_and_writes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    with pytest.raises(FileError, match="never imports card data") as info:
        import_csv(
            SAMPLES / "payment_methods_with_pan_column.csv", engine, error_path=tmp_path / "e.csv"
        )
    assert "4111111111111111" not in str(info.value)
    assert _count(engine, PaymentMethod) == 0
    assert not (tmp_path / "e.csv").exists()


def test_a_full_pan_as_masked_pan_is_a_row_error_never_echoed(
    engine: Engine, tmp_path: Path
) -> None:
    import_csv(SAMPLES / "customers.csv", engine)
    errors = tmp_path / "e.csv"
    result = import_csv(SAMPLES / "payment_methods_bad_rows.csv", engine, error_path=errors)
    assert [(e.line, e.column) for e in result.errors] == [
        (3, "masked_pan"),
        (4, "expiry_month"),
        (5, "brand"),
    ]
    assert result.inserted == 1
    assert "4111111111111111" not in errors.read_text()
    assert "4111111111111111" not in result.model_dump_json()


def test_a_token_never_moves_to_another_customer(engine: Engine, write_csv) -> None:
    _import_samples(engine)
    header = (SAMPLES / "payment_methods.csv").read_text().splitlines()[0]
    path = write_csv(
        "pm.csv",
        header + "\ncust-0002,tok_7f3a1c0001,NTI1,199.00,ZAR,visa,411111******1111,08,2028\n",
    )
    result = import_csv(path, engine)
    assert [(e.line, e.column) for e in result.errors] == [(2, "recurring_token")]


def test_a_charged_one_off_charge_no_longer_changes(engine: Engine, write_csv) -> None:
    _import_samples(engine)
    with UnitOfWork(engine) as uow:
        uow.session.execute(
            update(OneOffCharge)
            .where(OneOffCharge.external_id == "inv-5001")
            .values(status=OneOffChargeStatus.CHARGED)
        )
        uow.commit()
    same = import_csv(SAMPLES / "one_off_charges.csv", engine)
    assert (same.unchanged, same.rejected) == (12, 0)
    header = (SAMPLES / "one_off_charges.csv").read_text().splitlines()[0]
    path = write_csv(
        "o.csv", header + "\ninv-5001,cust-0001,tok_7f3a1c0001,900.00,ZAR,Router,2026-12-02\n"
    )
    changed = import_csv(path, engine)
    assert [(e.line, e.column) for e in changed.errors] == [(2, "external_id")]
    assert "charged" in changed.errors[0].reason


def test_a_kind_given_must_match_the_header(engine: Engine) -> None:
    with pytest.raises(FileError, match="lacks column"):
        import_csv(SAMPLES / "customers.csv", engine, kind="subscriptions")
    assert import_csv(SAMPLES / "customers.csv", engine, kind="customers").inserted == 12


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty"),
        (b"a,b,c\n1,2,3\n", "cannot tell"),
        (b"external_id,email,full_name\nc1,\xff\xfe,x\n", "not UTF-8"),
        (b'external_id,email,full_name\nc1,"a@example.co.za" x,N\n', "line 2: broken CSV"),
    ],
)
def test_file_level_errors(engine: Engine, tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    with pytest.raises(FileError, match=match):
        import_csv(path, engine)


def test_missing_file_and_stale_error_file(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(FileError, match="no such file"):
        import_csv(tmp_path / "nope.csv", engine)
    stale = tmp_path / "e.csv"
    stale.write_text("line,column,reason\n2,x,old\n")
    result = import_csv(SAMPLES / "customers.csv", engine, error_path=stale)
    assert result.error_file is None and not stale.exists()


def test_a_utf8_bom_and_crlf_line_ends_are_fine(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(
        "\ufeffexternal_id,email,full_name\r\nc1,a@example.co.za,Zoë Mbeki\r\n".encode()
    )
    result = import_csv(path, engine)
    assert (result.inserted, result.rejected) == (1, 0)


def test_a_one_off_charge_being_charged_no_longer_changes(engine: Engine, write_csv) -> None:
    # Once the billing run recorded an attempt for the plan, its amount stands.
    _import_samples(engine)
    with UnitOfWork(engine) as uow:
        charge = uow.session.execute(
            select(OneOffCharge).where(OneOffCharge.external_id == "inv-5001")
        ).scalar_one()
        attempt = PaymentAttempt(
            business_key="oneoff:inv-5001", kind="mit", amount_cents=1, currency="ZAR"
        )
        uow.session.add(attempt)
        uow.session.flush()
        charge.attempt_id = attempt.id
        uow.commit()
    same = import_csv(SAMPLES / "one_off_charges.csv", engine)
    assert (same.unchanged, same.rejected) == (12, 0)
    header = (SAMPLES / "one_off_charges.csv").read_text().splitlines()[0]
    path = write_csv(
        "o.csv", header + "\ninv-5001,cust-0001,tok_7f3a1c0001,900.00,ZAR,Router,2026-12-02\n"
    )
    changed = import_csv(path, engine)
    assert [(e.line, e.column) for e in changed.errors] == [(2, "external_id")]
    assert "being charged" in changed.errors[0].reason


def test_subscriptions_get_their_anchor_day_at_import(engine: Engine) -> None:
    _import_samples(engine)
    with UnitOfWork(engine) as uow:
        subs = uow.session.execute(select(Subscription)).scalars().all()
    assert subs and all(s.anchor_day == s.next_billing_at.day for s in subs)
