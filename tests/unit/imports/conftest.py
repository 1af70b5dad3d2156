"""A migrated SQLite ledger per test (copied from one migrated per session: Alembic is slow)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from payflows.ledger import make_engine
from payflows.ledger.migrate import upgrade

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("imports-ledger") / "ledger.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def ledger_path(tmp_path: Path, migrated_template: Path) -> Path:
    path = tmp_path / "ledger.db"
    shutil.copy(migrated_template, path)
    return path


@pytest.fixture
def engine(ledger_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{ledger_path}")
    yield eng
    eng.dispose()


@pytest.fixture
def write_csv(tmp_path: Path):
    """Write text to a CSV file in the test's folder and return its path.

    The input files are removed afterwards: some carry a test PAN on purpose (to prove it is
    refused), and the session's card-data scan must only see what payflows itself left behind.
    """
    written: list[Path] = []

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8", newline="")
        written.append(path)
        return path

    yield write
    for path in written:
        path.unlink(missing_ok=True)
