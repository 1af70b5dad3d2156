"""Every ledger test runs on SQLite (a temporary file) and on PostgreSQL at 127.0.0.1:5432.

The PostgreSQL cases are skipped when the server is not reachable. They run in a schema of their
own, created for this test session and dropped at its end (``search_path`` in the URL), so they
never touch anything else in the ``test`` database; tables are emptied between tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import cache

import psycopg
import pytest
from sqlalchemy import Engine, text

from payflows.ledger import migrate
from payflows.ledger.db import make_engine
from payflows.ledger.models import metadata

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=2"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@cache
def pg_available() -> bool:
    try:
        with psycopg.connect(PG_DSN):
            return True
    except psycopg.Error:
        return False


def pg_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


class PgSchemas:
    """Creates schemas under one session prefix and drops them all at the end."""

    def __init__(self) -> None:
        self.prefix = f"payflows_ledger_{uuid.uuid4().hex[:10]}"
        self.created: list[str] = []

    def create(self, suffix: str = "") -> str:
        name = self.prefix + suffix
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        if name in self.created:
            self.created.remove(name)


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[PgSchemas]:
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    schemas = PgSchemas()
    yield schemas
    for name in list(schemas.created):
        schemas.drop(name)


@pytest.fixture(scope="session")
def pg_session_url(pg_schemas: PgSchemas) -> str:
    """One migrated schema shared by the session's PostgreSQL tests."""
    url = pg_url(pg_schemas.create())
    migrate.upgrade(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not pg_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    return str(request.param)


@pytest.fixture
def fresh_url(backend: str, tmp_path, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty, never migrated database."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/nested/folder/ledger.db"
        return
    schemas: PgSchemas = request.getfixturevalue("pg_schemas")
    name = schemas.create(f"_{uuid.uuid4().hex[:8]}")
    yield pg_url(name)
    schemas.drop(name)


@pytest.fixture
def ledger_url(backend: str, tmp_path, request: pytest.FixtureRequest) -> str:
    """A migrated, empty ledger."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/ledger.db"
        migrate.upgrade(url)
        return url
    url: str = request.getfixturevalue("pg_session_url")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            tables = ", ".join(t.name for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()
    return url


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    eng = make_engine(ledger_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path) -> Iterator[Engine]:
    """A migrated SQLite ledger, for the few tests about SQLite itself."""
    url = f"sqlite:///{tmp_path}/only-sqlite.db"
    migrate.upgrade(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()
