"""The Prefect server on PostgreSQL (``PREFECT_SERVER_DATABASE_CONNECTION_URL``, pg_trgm), as
docs/production.md says: a payflows flow run is recorded in PostgreSQL, not in SQLite."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from flows.csv_inbox import csv_inbox_import
from tests.billing.conftest import PG_DSN, pg_available
from tests.support.prefect_server import running_prefect_server

pytestmark = pytest.mark.postgres


async def test_a_flow_run_is_recorded_by_a_prefect_server_on_postgresql(tmp_path: Path) -> None:
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    name = f"prefect_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(PG_DSN.replace("dbname=test", f"dbname={name}"), autocommit=True) as c:
            c.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        env = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": url}
        with running_prefect_server(tmp_path / "prefect", env) as server:
            state = await csv_inbox_import(
                inbox_dir=str(tmp_path / "inbox"), min_age_seconds=0, return_state=True
            )
            assert state.is_completed()
            run_id = state.state_details.flow_run_id
            server.flush()
        assert not (tmp_path / "prefect/home/prefect.db").exists()
        with psycopg.connect(PG_DSN.replace("dbname=test", f"dbname={name}")) as conn:
            row = conn.execute(
                "SELECT f.name, r.state_type FROM flow_run r JOIN flow f ON r.flow_id = f.id "
                "WHERE r.id = %s",
                (run_id,),
            ).fetchone()
        assert row == ("csv-inbox-import", "COMPLETED")
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
