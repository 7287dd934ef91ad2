"""Alembic environment: migrations run online against the URL crashflow configures
(``stores.postgres.alembic_config``), or, when ``alembic`` runs from the command line (its
configuration is ``[tool.alembic]`` in pyproject.toml), the database of crashflow's
settings (``CRASHFLOW_PG_*``, ``CRASHFLOW_NAMESPACE``)."""

from alembic import context
from sqlalchemy import create_engine

config = context.config
url = None
if config.file_config.has_option(config.config_ini_section, "sqlalchemy.url"):
    url = config.get_main_option("sqlalchemy.url")
if not url:
    from crashflow.settings import get_settings
    from crashflow.stores.postgres import sqlalchemy_url

    url = sqlalchemy_url(get_settings())
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        # Two starters applying migrations at once would race: take a lock first.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7263001)")
        context.run_migrations()
engine.dispose()
