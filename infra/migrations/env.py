"""Alembic environment: migrations run online against the URL crashflow configures."""

from alembic import context
from sqlalchemy import create_engine

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        # Two starters applying migrations at once would race: take a lock first.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7263001)")
        context.run_migrations()
engine.dispose()
