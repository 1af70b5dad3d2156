"""``payflows import FILE``: summary, exit codes 0 / 1 / 2, JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from apps.imports_cli import import_command
from tests.unit.imports.conftest import SAMPLES

app = typer.Typer()
app.command("import")(import_command)
app.command("noop")(lambda: None)  # two commands, so "import" is a subcommand as in payflows


@pytest.fixture
def env(ledger_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", f"sqlite:///{ledger_path}")


def _run(*args: str):
    return CliRunner().invoke(app, ["import", *args])


def test_good_file_exits_0_and_prints_counts(env: None) -> None:
    result = _run(str(SAMPLES / "customers.csv"))
    assert result.exit_code == 0, result.output
    assert "12 rows read, 12 new, 0 updated, 0 unchanged, 0 rejected" in result.output
    again = _run(str(SAMPLES / "customers.csv"), "--kind", "customers")
    assert "0 new, 0 updated, 12 unchanged" in again.output


def test_rejected_rows_exit_1_with_line_column_reason(env: None, tmp_path: Path) -> None:
    _run(str(SAMPLES / "customers.csv"))
    source = tmp_path / "pm.csv"
    shutil.copy(SAMPLES / "payment_methods_bad_rows.csv", source)
    result = _run(str(source))
    assert result.exit_code == 1, result.output
    assert "line 3, column masked_pan: masked_pan holds a full card number" in result.output
    assert "4111111111111111" not in result.output
    assert (tmp_path / "pm.csv.errors.csv").exists()
    errors = tmp_path / "elsewhere.csv"
    as_json = _run(str(source), "--errors", str(errors), "--json")
    assert as_json.exit_code == 1
    data = json.loads(as_json.output)
    assert data["rejected"] == 3 and data["errors"][0]["line"] == 3
    assert errors.exists()
    # The input carries a test PAN on purpose; only what payflows wrote may stay for the scan.
    source.unlink()


def test_file_level_errors_exit_2(env: None, tmp_path: Path) -> None:
    result = _run(str(SAMPLES / "payment_methods_with_pan_column.csv"))
    assert result.exit_code == 2
    assert "never imports card data" in result.output
    assert "4111111111111111" not in result.output
    assert _run(str(tmp_path / "missing.csv")).exit_code == 2


def test_an_unmigrated_ledger_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", f"sqlite:///{tmp_path}/empty.db")
    result = _run(str(SAMPLES / "customers.csv"))
    assert result.exit_code == 2 and "db upgrade" in result.output
