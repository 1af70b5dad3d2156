"""Alembic environment for the ledger, driven from :mod:`payflows.ledger.migrate`.

``migrate.upgrade`` passes an open connection (already inside a transaction) through
``config.attributes["connection"]``, so there is no ``alembic.ini`` to keep in sync with the
settings. ``render_as_batch`` lets later revisions alter columns on SQLite, which can only
rebuild tables.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from payflows.ledger.db import make_engine
from payflows.ledger.models import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=metadata,
            literal_binds=True,
            render_as_batch=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


_main()
