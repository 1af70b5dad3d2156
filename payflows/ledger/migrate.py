"""Schema migrations, run from code: ``payflows db upgrade`` calls :func:`upgrade`.

Alembic is configured here rather than through an ``alembic.ini``, so the only source of the
database URL is the settings. Each run holds one transaction: on PostgreSQL a failed revision
leaves the schema as it was, and an advisory lock makes two deployments that upgrade at the same
moment take turns. On SQLite foreign keys are switched off while tables may be rebuilt (as
Alembic's batch mode requires) and checked again before the connection is handed back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from payflows.ledger.db import make_engine

__all__ = ["MIGRATIONS_DIR", "current", "downgrade", "head", "new_revision", "upgrade"]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

#: Key of the PostgreSQL advisory lock that serialises concurrent upgrades.
_LOCK_KEY = 0x5041_5946  # "PAYF"


def _config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _driver(conn: Connection) -> Any:
    """The DBAPI connection under ``conn`` (SQLite pragmas must bypass SQLAlchemy's transaction)."""
    driver = conn.connection.driver_connection
    if driver is None:
        raise RuntimeError("the ledger connection is closed")
    return driver


def _run(url: str, action: Callable[[Config], None]) -> None:
    cfg = _config(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # Outside any transaction: inside one, SQLite ignores this pragma.
                _driver(conn).execute("PRAGMA foreign_keys = OFF")
            try:
                with conn.begin():
                    if conn.dialect.name == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
                    cfg.attributes["connection"] = conn
                    action(cfg)
                    if sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
            finally:
                if sqlite:
                    _driver(conn).execute("PRAGMA foreign_keys = ON")
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision``; does nothing when it is there already."""
    _run(url, lambda cfg: command.upgrade(cfg, revision))


def downgrade(url: str, revision: str) -> None:
    """Take the database back to ``revision`` (``base`` drops every ledger table)."""
    _run(url, lambda cfg: command.downgrade(cfg, revision))


def current(url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision this code knows: ``current(url) == head()`` means up to date."""
    revision = ScriptDirectory.from_config(_config("sqlite://")).get_current_head()
    if revision is None:  # pragma: no cover - the package always ships a revision
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return revision


def new_revision(url: str, message: str) -> Path:
    """Draft the next revision by comparing the models with the database at ``url`` (dev tool).

    The database must be at head. Read and edit the draft before committing it: autogenerate
    misses renames and server defaults, and revisions must not import the models.
    """
    rev_id = f"{int(head()) + 1:04d}"
    created: list[Path] = []

    def draft(cfg: Config) -> None:
        script = command.revision(cfg, message, autogenerate=True, rev_id=rev_id)
        scripts = script if isinstance(script, list) else [script]
        created.extend(Path(s.path) for s in scripts if s is not None)

    _run(url, draft)
    return created[0]
