"""Run Alembic migrations against the configured OpenZone database."""

from __future__ import annotations

from alembic import context

from openzone.db import Base, get_engine
from openzone.migrate import include_object
from openzone.models import load_all

load_all()
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Migrate through a live connection (SQLite in batch mode, so ALTERs work there too)."""
    connectable = context.config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    with get_engine().connect() as connection:
        _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run migrations against a database")
run_migrations_online()
