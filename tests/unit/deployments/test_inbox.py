"""The CSV inbox: dependency order, files still being copied wait, done/ and failed/."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from payflows.imports.inbox import file_into, import_file, outcome_of, pending_files
from payflows.ledger import make_engine
from payflows.ledger.migrate import upgrade

SAMPLES = Path(__file__).resolve().parents[3] / "data/samples"


@pytest.fixture
def engine(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/ledger.db"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _drop(inbox: Path, *names: str, age: float = 60.0) -> None:
    inbox.mkdir(exist_ok=True)
    for name in names:
        target = inbox / name
        shutil.copy(SAMPLES / name, target)
        old = time.time() - age
        os.utime(target, (old, old))


def test_files_come_in_dependency_order_whatever_their_names(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    _drop(inbox, "subscriptions.csv", "payment_methods.csv", "customers.csv")
    (inbox / "a.txt").write_text("not a csv")
    (inbox / ".hidden.csv").write_text("x")
    assert [e.kind for e in pending_files(inbox)] == [
        "customers",
        "payment_methods",
        "subscriptions",
    ]


def test_a_file_still_being_copied_waits(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    _drop(inbox, "customers.csv", age=0)
    assert pending_files(inbox, min_age_seconds=5) == []
    assert len(pending_files(inbox, min_age_seconds=0)) == 1


def test_clean_file_goes_to_done_and_a_second_drop_changes_nothing(tmp_path: Path, engine) -> None:
    inbox = tmp_path / "inbox"
    _drop(inbox, "customers.csv")
    [entry] = pending_files(inbox)
    result = import_file(entry, engine)
    assert result.inserted > 0 and outcome_of(result) == "done"
    moved = file_into(inbox, entry.path, "done")
    assert moved.parent == inbox / "done" and moved.name.endswith("-customers.csv")
    assert pending_files(inbox) == []
    _drop(inbox, "customers.csv")
    [again] = pending_files(inbox)
    second = import_file(again, engine)
    assert second.inserted == 0 and second.unchanged == result.inserted
    assert file_into(inbox, again.path, "done") != moved  # same name, kept apart


def test_bad_rows_go_to_failed_with_their_errors_and_good_rows_land(tmp_path: Path, engine) -> None:
    inbox = tmp_path / "inbox"
    _drop(inbox, "customers.csv")
    (inbox / "more_customers.csv").write_text(
        "external_id,email,full_name\nnew-1,new1@example.test,New One\nnew-2,not-an-email,X\n"
    )
    old = time.time() - 60
    os.utime(inbox / "more_customers.csv", (old, old))
    customers, more = pending_files(inbox)
    file_into(inbox, customers.path, outcome_of(import_file(customers, engine)))
    result = import_file(more, engine)
    assert result.rejected == 1 and result.inserted == 1 and outcome_of(result) == "failed"
    moved = file_into(inbox, more.path, "failed")
    assert moved.exists()  # kept, to be fixed and dropped again
    errors = moved.parent / f"{moved.name}.errors.csv"
    assert errors.read_text().startswith("line,column,reason")
    assert sorted(p.parent.name for p in inbox.rglob("*.csv")) == ["done", "failed", "failed"]


def test_a_file_with_a_card_number_in_a_cell_is_not_kept(tmp_path: Path, engine) -> None:
    inbox = tmp_path / "inbox"
    _drop(inbox, "customers.csv", "payment_methods_bad_rows.csv")
    customers, bad = pending_files(inbox)
    file_into(inbox, customers.path, outcome_of(import_file(customers, engine)))
    result = import_file(bad, engine)
    assert result.rejected > 0 and result.inserted > 0 and outcome_of(result) == "failed"
    assert not bad.path.exists()
    moved = file_into(inbox, bad.path, "failed")
    assert not moved.exists()
    [errors] = (inbox / "failed").iterdir()
    assert "card number" in errors.read_text() and "4111111111111111" not in errors.read_text()


def test_a_refused_file_goes_to_failed_with_the_reason(tmp_path: Path, engine) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "mystery.csv").write_text("what,is,this\n1,2,3\n")
    os.utime(inbox / "mystery.csv", (time.time() - 60, time.time() - 60))
    [entry] = pending_files(inbox)
    result = import_file(entry, engine)
    assert outcome_of(result) == "failed" and result.inserted == 0
    moved = file_into(inbox, entry.path, "failed")
    assert moved.exists()
    reason = (moved.parent / f"{moved.name}.errors.csv").read_text()
    assert "cannot tell what the file holds" in reason


def test_a_file_with_card_numbers_is_deleted_not_kept(tmp_path: Path, engine) -> None:
    inbox = tmp_path / "inbox"
    _drop(inbox, "payment_methods_with_pan_column.csv")
    [entry] = pending_files(inbox)
    assert entry.card_data
    result = import_file(entry, engine)
    assert outcome_of(result) == "failed" and result.inserted == 0
    assert not entry.path.exists()
    moved = file_into(inbox, entry.path, "failed")
    assert not moved.exists()  # only its error file is in failed/
    [errors] = (inbox / "failed").iterdir()
    reason = errors.read_text()
    assert "card" in reason.lower() and "deleted" in reason and "4111" not in reason
