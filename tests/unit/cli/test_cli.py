import pytest
from typer.testing import CliRunner

from apps.cli import app

runner = CliRunner()


def test_malformed_setting_stops_with_one_line_and_exit_2(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRECIUM_BRAND_ID", "nope")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [lines[0]] and "PRECIUM_BRAND_ID" in lines[0]


def test_config_masks_keys(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRECIUM_API_KEY", "sandbox-api-key")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 0
    assert "sandbox-api-key" not in result.output
    assert "PRECIUM_BASE_URL" in result.output


def test_db_upgrade_creates_the_ledger(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", f"sqlite:///{tmp_path}/ledger.db")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "ledger at revision" in result.output
    assert (tmp_path / "ledger.db").exists()
    again = runner.invoke(app, ["db", "current"])
    assert again.exit_code == 0 and "empty" not in again.output


def test_config_masks_the_database_password(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", "postgresql+psycopg://pay:hunter2@db:5432/pay")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    assert "postgresql+psycopg://pay:********@db:5432/pay" in result.output


def test_a_bad_as_of_stops_with_one_line_and_exit_2(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", f"sqlite:///{tmp_path}/ledger.db")
    for command in ("bill", "sweep", "report"):
        result = runner.invoke(app, [command, "--as-of", "notadate"])
        assert result.exit_code == 2, (command, result.output)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "--as-of" in lines[0] and "notadate" in lines[0], lines
        assert "Traceback" not in result.output
    assert not (tmp_path / "ledger.db").exists()  # nothing ran


def test_settle_with_nothing_in_flight_exits_0(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", f"sqlite:///{tmp_path}/ledger.db")
    result = runner.invoke(app, ["settle"])
    assert result.exit_code == 0, result.output
    assert "examined 0" in result.output


@pytest.mark.parametrize(
    "args", [["db", "current"], ["db", "upgrade"], ["import", "customers.csv"], ["settle"]]
)
def test_an_unreachable_ledger_is_one_line_not_a_traceback(monkeypatch, tmp_path, capsys, args):
    # Nothing listens on port 1: the connection is refused at once. The entry point (app(), as
    # the console script calls it, not CliRunner) must say so in one line, exit 2, no password.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "customers.csv").write_text("external_id,email,full_name\nc-1,a@b.co.za,A\n")
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", "postgresql+psycopg://pay:hunter2@127.0.0.1:1/pay")
    with pytest.raises(SystemExit) as stopped:
        app(args=args, prog_name="payflows")
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "ledger" in lines[0] and "PAYFLOWS_DATABASE_URL" in lines[0]
    assert "hunter2" not in err and "Traceback" not in err


def test_a_model_refusal_escaping_a_command_is_one_line_without_the_value(capsys):
    # A command that validates a model deeper than its own input checks (payflows run cit
    # --email once built its Shopper so) must still end in one line, exit 2, never a pydantic
    # traceback, and never quote the value.
    from pydantic import BaseModel, field_validator

    from apps.cli import _Cli
    from payflows.domain.screening import screen

    class Shopper(BaseModel):
        email: str

        @field_validator("email")
        @classmethod
        def _no_card(cls, value: str) -> str:
            return screen("email", value)

    probe = _Cli(add_completion=False, pretty_exceptions_enable=False)

    @probe.command()
    def buy(email: str) -> None:
        Shopper(email=email)

    @probe.command()
    def other() -> None:
        pass

    with pytest.raises(SystemExit) as stopped:
        probe(args=["buy", "4111_1111_1111_1111@x.co.za"], prog_name="payflows")
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == ["payflows: email: email looks like it holds a card number; card numbers "
                     "are accepted only in the card number field"], err  # fmt: skip
    assert "4111" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--from", "9999-12-31"], "between"),
        (["--from", "0001-01-01", "--to", "0001-01-02"], "between"),
        (["--from", "2026-01-01", "--to", "9999-12-31"], "between"),
        (["--from", "4111111111111111"], "YYYY-MM-DD"),
        (["--to", "4111 1111 1111 1111"], "YYYY-MM-DD"),
    ],
)
def test_report_dates_out_of_range_or_holding_a_card_number_are_one_line(
    monkeypatch, tmp_path, capsys, args, words
):
    # 9999-12-31 passed the parse and broke the period's arithmetic (OverflowError: three
    # tracebacks, exit 1, the code of "mismatches"); a card number was quoted back.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", f"sqlite:///{tmp_path}/ledger.db")
    with pytest.raises(SystemExit) as stopped:
        app(args=["report", *args, "--output-dir", str(tmp_path)], prog_name="payflows")
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0], err
    assert "4111" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    "typed", ["4111111111111111", "4111 1111 1111 1111", "tok-4111.1111.1111.1111"]
)
def test_delete_card_refuses_a_card_number_without_printing_it(monkeypatch, tmp_path, typed):
    # The argument is a recurring token; a card number typed there was printed back
    # ("no stored card '4111111111111111' in the ledger").
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", f"sqlite:///{tmp_path}/ledger.db")
    result = runner.invoke(app, ["delete-card", typed])
    assert result.exit_code == 2, result.output
    assert "card number" in result.output
    assert "4111" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("amount", "says"),
    [
        ("1,500", "--amount: not an amount: write it like 199.99 (no sign, no commas, no spaces)"),
        ("1 500", "--amount: not an amount: write it like 199.99 (no sign, no commas, no spaces)"),
        ("1.0000", "--amount: the amount has more decimals than ZAR allows"),
        ("000000000001.00", "--amount: too many digits: at most 11 in all (write it without"),
        ("4111111111111111", "--amount: too large: at most 9 digits before the point in ZAR"),
        ("0", "--amount: must be more than zero"),
    ],
)
def test_holds_decide_reads_the_amount_by_the_forms_rule(monkeypatch, tmp_path, amount, says):
    """``payflows holds decide --amount`` as the operator page's decision: the forms' rule, the
    reason in one line, the text never repeated, nothing recorded."""
    from datetime import UTC, datetime, timedelta

    from sqlmodel import select

    from payflows.ledger import Hold, HoldDecision, UnitOfWork, make_engine, record_hold
    from payflows.ledger.migrate import upgrade

    url = f"sqlite:///{tmp_path}/ledger.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", url)
    upgrade(url)
    engine = make_engine(url)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    with UnitOfWork(engine) as uow:
        record_hold(
            uow, "p-1", authorised_cents=100_000, currency="ZAR", authorised_at=at,
            expires_at=at + timedelta(days=7), brand="visa",
        )  # fmt: skip
        uow.commit()

    result = runner.invoke(app, ["holds", "decide", "p-1", "--capture", "--amount", amount])

    assert result.exit_code == 1 and says in result.output and amount not in result.output
    assert "Traceback" not in result.output
    good = runner.invoke(app, ["holds", "decide", "p-1", "--capture", "--amount", "250.00"])
    assert good.exit_code == 0, good.output
    with UnitOfWork(engine) as uow:
        hold = uow.session.exec(select(Hold).where(Hold.purchase_id == "p-1")).one()
        assert hold.decision is HoldDecision.CAPTURE and hold.decision_cents == 25_000
    engine.dispose()
