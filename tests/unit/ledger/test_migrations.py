from __future__ import annotations

import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from payflows.ledger import migrate
from payflows.ledger.db import make_engine
from payflows.ledger.models import metadata


def _diffs(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(fresh_url: str) -> None:
    assert migrate.current(fresh_url) is None
    migrate.upgrade(fresh_url)
    assert migrate.current(fresh_url) == migrate.head()
    assert _diffs(fresh_url) == []


def test_upgrade_twice_is_harmless_and_downgrade_to_base_drops_every_table(fresh_url: str) -> None:
    migrate.upgrade(fresh_url)
    migrate.upgrade(fresh_url)
    migrate.downgrade(fresh_url, "base")
    assert migrate.current(fresh_url) is None
    engine = make_engine(fresh_url)
    try:
        left = set(inspect(engine).get_table_names()) & set(metadata.tables)
    finally:
        engine.dispose()
    assert left == set()
    migrate.upgrade(fresh_url)
    assert _diffs(fresh_url) == []


def test_an_empty_database_differs_from_the_models(fresh_url: str) -> None:
    # Guards the test above: compare_metadata does see missing tables on this backend.
    kinds = {diff[0] for diff in _diffs(fresh_url)}  # type: ignore[index]
    assert "add_table" in kinds


def test_sqlite_engine_creates_its_folder_and_sets_wal_fks_and_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "ledger.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    finally:
        engine.dispose()
    assert path.exists()


def test_migrations_are_frozen_and_do_not_import_the_models() -> None:
    for revision in (migrate.MIGRATIONS_DIR / "versions").glob("*.py"):
        assert not re.search(r"^\s*(from|import) payflows", revision.read_text(), re.M), revision
