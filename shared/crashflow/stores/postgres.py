"""PostgreSQL: report rows, aggregate tables, job runs, tokens and symbol uploads, through
pg8000.

Schema changes are Alembic migrations in the package (``stores/migrations``, package data,
found through ``importlib.resources``); ``upgrade()`` applies them, so an installed crashflow
migrates itself.
``reports`` is range-partitioned by week of ``date_processed`` (the submit time, which
never changes for a crash); ``ensure_report_partition`` creates a week's partition before
the first insert into it.

Pooled connections speak pg8000's ``run``, but raise crashflow's errors: ``QueryFailed``
when Postgres refused a statement (with its SQLSTATE), ``StoreUnavailable`` when it could
not be reached or gave up on the connection.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import threading
import weakref
from collections.abc import Iterator

import pg8000.native

from crashflow.settings import Settings
from crashflow.stores import layout
from crashflow.stores.errors import QueryFailed, StoreUnavailable
from crashflow.stores.interfaces import MissingSymbol
from crashflow.stores.liveness import closed_by_peer

# Alembic's "package:path" form: it reads the scripts through importlib.resources, so they
# are found wherever the package is installed (site-packages, an editable checkout).
MIGRATIONS = "crashflow.stores:migrations"


def connect(settings: Settings, database: str | None = None) -> pg8000.native.Connection:
    return pg8000.native.Connection(
        user=settings.pg_user,
        password=settings.pg_password,
        host=settings.pg_host,
        port=settings.pg_port,
        database=database or settings.database,
        timeout=30,
    )


# SQLSTATE classes that mean the server, not the statement, failed: connection exception,
# insufficient resources (too many connections, disk full), operator intervention
# (shutdown, but not a cancelled statement: 57014), system error.
UNAVAILABLE_CLASSES = ("08", "53", "57P", "58")
@contextlib.contextmanager
def translated_errors() -> Iterator[None]:
    """pg8000's errors inside become QueryFailed or StoreUnavailable."""
    try:
        yield
    except pg8000.native.DatabaseError as error:
        details = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
        code, message = details.get("C", ""), details.get("M", str(error))
        if code.startswith(UNAVAILABLE_CLASSES):
            raise StoreUnavailable("postgres", f"{code}: {message}") from error
        raise QueryFailed(code, message) from error
    except (pg8000.native.InterfaceError, OSError) as error:
        raise StoreUnavailable("postgres", f"{type(error).__name__}: {error}") from error


class PreparedStatement:
    def __init__(self, statement):
        self._statement = statement

    def run(self, **params):
        with translated_errors():
            return self._statement.run(**params)


class PgConnection:
    """One pooled connection: ``run(sql, **params)``, ``prepare(sql)`` and ``row_count``
    as pg8000's, with crashflow's errors."""

    def __init__(self, connection: pg8000.native.Connection):
        self._connection = connection

    def run(self, sql: str, **params):
        with translated_errors():
            return self._connection.run(sql, **params)

    def prepare(self, sql: str) -> PreparedStatement:
        with translated_errors():
            return PreparedStatement(self._connection.prepare(sql))

    @property
    def row_count(self) -> int:
        return self._connection.row_count

    def close(self) -> None:
        self._connection.close()


def create_database(settings: Settings) -> None:
    """Create the namespace's database if it does not exist yet."""
    connection = connect(settings, database="postgres")
    try:
        exists = connection.run("SELECT 1 FROM pg_database WHERE datname = :name", name=settings.database)
        if not exists:
            connection.run(f"CREATE DATABASE {pg8000.native.identifier(settings.database)}")
    finally:
        connection.close()


def sqlalchemy_url(settings: Settings) -> str:
    return (
        f"postgresql+pg8000://{settings.pg_user}:{settings.pg_password}"
        f"@{settings.pg_host}:{settings.pg_port}/{settings.database}"
    )


def alembic_config(settings: Settings):
    """Alembic's configuration for the settings' database and the package's migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(settings).replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Create the database if needed and apply every migration up to ``revision``
    (idempotent)."""
    from alembic import command

    create_database(settings)
    command.upgrade(alembic_config(settings), revision)


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def report_partition_name(day: dt.date) -> str:
    return f"reports_{week_start(day):%Y%m%d}"


@contextlib.contextmanager
def transaction(connection: PgConnection) -> Iterator[PgConnection]:
    """BEGIN ... COMMIT on ``connection``; ROLLBACK on any error."""
    connection.run("BEGIN")
    try:
        yield connection
    except BaseException:
        with contextlib.suppress(Exception):  # a dead connection must not hide the error
            connection.run("ROLLBACK")
        raise
    connection.run("COMMIT")


class Database:
    """A small pool of pg8000 connections; ``with db.connection() as c: c.run(...)``."""

    def __init__(self, settings: Settings, size: int = 4):
        self.settings = settings
        self._idle: queue.LifoQueue[PgConnection] = queue.LifoQueue(maxsize=size)
        self._partitions: set[str] = set()
        self._partition_lock = threading.Lock()
        # connection -> {columns: prepared upsert}: pg8000 re-parses a statement's named
        # parameters on every run, which for the report upsert cost more than the round trip.
        self._upserts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _checkout(self) -> PgConnection:
        """An idle connection still open at the server's end (those that PostgreSQL closed,
        say by restarting, are dropped), else a new one."""
        while True:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                try:
                    return PgConnection(connect(self.settings))
                except (pg8000.native.Error, OSError) as error:  # unreachable, refused, no database
                    raise StoreUnavailable("postgres", f"cannot connect: {error}") from error
            if not closed_by_peer(getattr(connection._connection, "_usock", None)):
                return connection
            with contextlib.suppress(Exception):
                connection.close()

    @contextlib.contextmanager
    def connection(self) -> Iterator[PgConnection]:
        connection = self._checkout()
        try:
            yield connection
        except StoreUnavailable as error:
            if error.store != "postgres":  # another store failed meanwhile
                self._roll_back_and_give_back(connection)
                raise
            # A broken connection is dropped, not returned to the pool.
            with contextlib.suppress(Exception):
                connection.close()
            raise
        except Exception:
            self._roll_back_and_give_back(connection)
            raise
        else:
            self._give_back(connection)

    def _roll_back_and_give_back(self, connection: PgConnection) -> None:
        with contextlib.suppress(Exception):
            connection.run("ROLLBACK")
        self._give_back(connection)

    def _give_back(self, connection: PgConnection) -> None:
        try:
            self._idle.put_nowait(connection)
        except queue.Full:
            connection.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        with self.connection() as connection, transaction(connection):
            yield connection

    def is_healthy(self) -> bool:
        try:
            with self.connection() as connection:
                connection.run("SELECT 1")
        except StoreUnavailable:
            return False
        return True

    def ensure_report_partition(self, day: dt.date) -> str:
        """Create the weekly ``reports`` partition holding ``day`` if it is missing."""
        name = report_partition_name(day)
        if name in self._partitions:
            return name
        start = week_start(day)
        end = start + dt.timedelta(days=7)
        with self._partition_lock, self.transaction() as connection:
            # Other processes create partitions too: serialise on the partition's name.
            connection.run("SELECT pg_advisory_xact_lock(hashtext(:name))", name=name)
            connection.run(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF reports "
                f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
        self._partitions.add(name)
        return name

    def upsert_report(self, row: dict) -> None:
        """Insert or replace the report row of one crash (keyed by uuid and date_processed)."""
        self.ensure_report_partition(row["date_processed"].date())
        columns = tuple(row)
        with self.connection() as connection:
            prepared = self._upserts.setdefault(connection, {})
            if columns not in prepared:
                updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in ("uuid", "date_processed"))
                prepared[columns] = connection.prepare(
                    f"INSERT INTO reports ({', '.join(columns)}) "
                    f"VALUES ({', '.join(':' + c for c in columns)}) "
                    f"ON CONFLICT (uuid, date_processed) DO UPDATE SET {updates}"
                )
            prepared[columns].run(**row)


class SymbolUploadRecords:
    """``symbol_uploads`` (one row per symbol file stored, in order) and
    ``reports.missing_modules`` (a crash's modules without symbols, keyed by module id; its
    GIN index finds the crashes that missed a module)."""

    def __init__(self, database: Database):
        self.database = database

    def record(self, symbol_keys: list[str]) -> None:
        if not symbol_keys:
            return
        with self.database.connection() as connection:
            connection.run(
                "INSERT INTO symbol_uploads (module, symbol_key) "
                "SELECT * FROM unnest(CAST(:modules AS text[]), CAST(:keys AS text[]))",
                modules=[layout.module_id_of_symbol_key(key) for key in symbol_keys], keys=list(symbol_keys),
            )

    def recorded_since(self, last_id: int | None) -> tuple[int, list[str]]:
        with self.database.connection() as connection:
            if last_id is None:
                return connection.run("SELECT coalesce(max(id), 0) FROM symbol_uploads")[0][0], []
            rows = connection.run(
                "SELECT id, symbol_key FROM symbol_uploads WHERE id > :last ORDER BY id", last=last_id)
        return (rows[-1][0] if rows else last_id), [key for _, key in rows]

    def crashes_missing(self, module_ids: list[str], days: int, limit: int) -> list[str]:
        if not module_ids or days <= 0 or limit <= 0:
            return []
        with self.database.connection() as connection:
            rows = connection.run(
                "SELECT uuid FROM reports WHERE date_processed >= now() - make_interval(days => :days) "
                "AND missing_modules ?| CAST(:ids AS text[]) "
                "GROUP BY uuid ORDER BY max(date_processed) DESC, uuid LIMIT :limit",
                days=days, ids=list(module_ids), limit=limit,
            )
        return [row[0] for row in rows]

    def missing_symbols(self, day: dt.date, product: str | None = None) -> list[MissingSymbol]:
        start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
        with self.database.connection() as connection:
            rows = connection.run(
                "SELECT entry.value->>'debug_file', entry.value->>'debug_id', "
                "       max(entry.value->>'code_file'), max(entry.value->>'code_id'), count(DISTINCT r.uuid) "
                "FROM reports r CROSS JOIN LATERAL jsonb_each(r.missing_modules) AS entry "
                "WHERE r.date_processed >= :start AND r.date_processed < :end "
                "AND (CAST(:product AS text) IS NULL OR r.product = :product) "
                # An upload after the crash was processed brought the module; one before it
                # evidently did not last (deleted, or replaced by another build's file).
                "AND NOT EXISTS (SELECT 1 FROM symbol_uploads u WHERE u.module = entry.key "
                "                AND u.uploaded >= r.completed_datetime) "
                "GROUP BY 1, 2 ORDER BY 5 DESC, 1, 2",
                start=start, end=start + dt.timedelta(days=1), product=product,
            )
        return [MissingSymbol(*row) for row in rows]
