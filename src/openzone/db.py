"""Create the database engine and sessions, and define the declarative Base."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Column, DateTime, MetaData, Table, TypeDecorator, Uuid, create_engine, event, insert, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, StatementError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    make_transient,
    make_transient_to_detached,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.orm.attributes import set_committed_value

from openzone.config import get_settings
from openzone.kit.concurrency import blocking
from openzone.kit.ids import new_id
from openzone.kit.time import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Give every table the shared metadata and constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers run beside the single writer; foreign keys are off by default in SQLite.
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=FULL")
    # 64 MiB of page cache per connection (the default is 2 MiB): the ledger's leaf-key index and the search indexes
    # stay in memory past a million rows.
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


READ_ONLY = "openzone_read_only"  # execution option of a connection that only reads (see reading())


def _sqlite_begin(conn) -> None:
    # pysqlite's own transaction handling is off (isolation_level=None); BEGIN IMMEDIATE takes
    # the write lock up front so two writers queue on busy_timeout instead of deadlocking.
    # A connection that only reads begins a deferred transaction: in WAL it reads beside the writer.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def make_engine(url: str, *, idle_ping_seconds: float | None = None, **pool: Any) -> Engine:
    """Build an engine for a URL with OpenZone's connection settings (pool: SQLAlchemy's pool arguments, SQLite).

    idle_ping_seconds: how long a PostgreSQL connection may sit in the pool before it is pinged on checkout
    (IDLE_PING_SECONDS unless given)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"isolation_level": None, "check_same_thread": False}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(url, pool_size=8, max_overflow=8, connect_args={"cursor_factory": _lazy_description_cursor()})
    event.listen(engine, "checkin", _idle_since)
    idle = IDLE_PING_SECONDS if idle_ping_seconds is None else idle_ping_seconds
    event.listen(engine, "checkout", lambda dbapi_connection, record, _proxy: _ping_if_idle(
        engine.dialect, dbapi_connection, record, idle))
    return engine


_cursor_class: list[type] = []


def _lazy_description_cursor() -> type:
    """Return psycopg's cursor with a description that describes its columns only when they are read.

    SQLAlchemy reads cursor.description after every statement, but for a compiled statement it has seen before it
    only asks whether there is one: the column names and types come from the metadata it cached with the statement.
    psycopg builds a Column object for every column each time it is asked (an e-license retrieval reads about 70
    columns in its main statement; 7-9 % of a retrieval's CPU went there, docs/performance.md). This cursor answers
    with a sequence of the same Column objects that builds them on first use, from the same result.
    """
    if _cursor_class:
        return _cursor_class[0]
    import psycopg
    from psycopg.pq import ExecStatus

    tuples = (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK)
    describe = psycopg.Cursor.description.fget

    class Description(Sequence):
        __slots__ = ("_columns", "_count", "_cursor", "_result")

        def __init__(self, cursor: Any, result: Any) -> None:
            self._cursor, self._result, self._count, self._columns = cursor, result, result.nfields, None

        def _built(self) -> list[Any]:
            if self._columns is None:
                if self._cursor.pgresult is not self._result:
                    raise psycopg.InterfaceError("a description was read after its cursor moved to another result")
                self._columns = describe(self._cursor)
            return self._columns

        def __len__(self) -> int:
            return self._count

        def __getitem__(self, index: Any) -> Any:
            return self._built()[index]

        def __iter__(self) -> Iterator[Any]:
            return iter(self._built())

        def __eq__(self, other: object) -> bool:
            return self._built() == other

        __hash__ = None  # type: ignore[assignment]  # as a list's

        def __repr__(self) -> str:
            return repr(self._built())

    class Cursor(psycopg.Cursor):
        @property
        def description(self) -> Any:
            result = self.pgresult
            if result is not None and (result.nfields or result.status in tuples):
                return Description(self, result)
            return None

    _cursor_class.append(Cursor)
    return Cursor


# A pooled PostgreSQL connection that sat unused for longer than this is pinged before it is handed out (a server
# restart, an idle timeout or a firewall may have dropped it meanwhile); one in use a moment ago is not.
IDLE_PING_SECONDS = 5.0
_IDLE_SINCE = "openzone.idle_since"


def _idle_since(_dbapi_connection, record) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dialect, dbapi_connection, record, idle_seconds: float) -> None:
    """Ping a connection that has been idle in the pool; a dead one is replaced before the caller sees it.

    SQLAlchemy's pool_pre_ping pings at every checkout: a round trip more on every request (an eighth of a
    retrieval's statements). Under load a connection goes back to work within milliseconds of its last statement, so
    only an idle one is pinged. A connection that dies while busy fails its statement; SQLAlchemy then discards it
    and every connection opened before it, and the request answers 503 (web.errors) for the client to retry.
    """
    since = record.info.get(_IDLE_SINCE)
    if since is None or time.monotonic() - since < idle_seconds:
        return
    try:
        alive = dialect.do_ping(dbapi_connection)
    except Exception as exc:  # any failure means the connection is unusable
        raise DisconnectionError(str(exc)) from exc
    if not alive:
        raise DisconnectionError("the connection did not answer a ping")


_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}


def get_engine(url: str | None = None) -> Engine:
    """Return the process-wide engine for the configured (or given) database."""
    url = url or get_settings().resolved_database_url
    engine = _engines.get(url)
    if engine is None:
        engine = _engines.setdefault(url, make_engine(url))
    return engine


def new_session(url: str | None = None) -> Session:
    """Open a session; the caller owns its transaction."""
    url = url or get_settings().resolved_database_url
    factory = _factories.get(url)
    if factory is None:
        factory = _factories.setdefault(url, sessionmaker(get_engine(url), expire_on_commit=False))
    return factory()


@contextmanager
def transaction(url: str | None = None) -> Iterator[Session]:
    """Open a session inside one transaction that commits on success and rolls back on error."""
    with new_session(url) as session, session.begin():
        yield session


_readers: dict[str, Engine] = {}
READERS = 7  # side connections per database (see reading()): search_slices is at most 8


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """Open a side connection to an engine's SQLite database for reads only, from a small pool of its own.

    Its transaction is deferred: in WAL it reads beside a writer and waits for none. The pool is apart from the
    requests' pool, so a request that holds the write lock and waits for side reads (a sliced search) cannot find
    every connection taken by requests queued behind its lock; it never blocks either: when its connections are all
    in use, SQLAlchemy's TimeoutError is raised at once and the caller reads on its own connection instead.
    """
    url = engine.url.render_as_string(hide_password=False)
    reader = _readers.get(url)
    if reader is None:
        reader = _readers.setdefault(url, make_engine(url, pool_size=READERS, max_overflow=0, pool_timeout=0))
    with reader.connect().execution_options(**{READ_ONLY: True}) as conn:
        yield conn


def reset_engines() -> None:
    """Close every pooled connection and forget the engines, for tests and before and after a restore."""
    for engine in [*_engines.values(), *_readers.values()]:
        engine.dispose()
    _engines.clear()
    _readers.clear()
    _factories.clear()


class UTCDateTime(TypeDecorator):
    """Store aware datetimes as UTC and return them aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def uuid_pk() -> Mapped[uuid.UUID]:
    """Declare a UUIDv7 primary key column."""
    return mapped_column(Uuid, primary_key=True, default=new_id)


def created_at() -> Mapped[dt.datetime]:
    """Declare a created_at column set when the row is inserted."""
    return mapped_column(UTCDateTime, default=utcnow, nullable=False)


async def request_session() -> AsyncIterator[Session]:
    """Yield a session in one transaction for a web request (the edge owns the transaction).

    Routes take it as `Depends(request_session, scope="function")`: the transaction then ends when the route
    returns, before the response is sent, so a commit that fails gives an error and never a success already on its
    way to the client (FastAPI's default "request" scope ends it after the response; a test walks every route).
    Opening the session does no I/O and runs on the event loop; the commit or rollback, which does, runs through
    kit.concurrency.blocking (a worker thread, unless the request is alone in its process). A sync generator took a
    thread for its start and another for its end.
    """
    session = new_session()
    session.begin()
    try:
        yield session
    except BaseException:
        await blocking(_end_request, session, False)
        raise
    await blocking(_end_request, session, True)


# session.info key: functions a failed request's session calls, with the session, after its rollback (each opens its
# own transaction if it writes); consent keeps the refusals it recorded this way (consent.request_session).
AFTER_ROLLBACK = "openzone.db.after_rollback"


def _end_request(session: Session, commit: bool) -> None:
    try:
        if commit:
            try:
                session.commit()
            except BaseException:
                # A route may have caught an error (a refusal it shows as a page) and then failed to commit.
                _after_failure(session)
                raise
        else:
            _after_failure(session)
    finally:
        session.close()


def _after_failure(session: Session) -> None:
    # Roll back, then run every AFTER_ROLLBACK function even if the rollback or an earlier one fails; the first
    # failure is raised once all have run.
    failures: list[BaseException] = []
    try:
        session.rollback()
    except Exception as exc:  # noqa: BLE001 - a lost connection must not keep the functions from running
        failures.append(exc)
    for after in session.info.pop(AFTER_ROLLBACK, ()):
        try:
            after(session)
        except Exception as exc:  # each runs whatever the others do
            logging.getLogger("openzone.db").exception("after a failed request's rollback")
            failures.append(exc)
    if failures:
        raise failures[0]


def _copyable(column: Column) -> bool:
    # A column COPY can leave to the server (no Python-side default), or whose default is a plain value or a function
    # of no arguments (SQLAlchemy wraps those to take the execution context, keeping the function as __wrapped__).
    default = column.default
    return default is None or default.is_scalar or (default.is_callable and hasattr(default.arg, "__wrapped__"))


def insert_many(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows of one table in the session's transaction: one COPY on PostgreSQL, one executemany elsewhere.

    Every row names the same columns; a column left out takes its Python-side default, as insert() gives it, or else
    the server's. Values are converted by each column's type as insert() converts them, and errors are SQLAlchemy's
    (IntegrityError and so on) on both databases. On PostgreSQL the driver's executemany runs one INSERT per row;
    COPY streams the rows as one statement, which cost a fraction of the server's and the driver's time in bulk
    filing (docs/performance.md). A table with defaults COPY cannot fill (SQL expressions, sequences) is inserted
    as before.
    """
    if not rows:
        return
    keys = rows[0].keys()
    if any(row.keys() != keys for row in rows):
        raise ValueError(f"insert_many: every row names the same columns of {table.name}")
    unknown = sorted(set(keys) - set(table.c.keys()))
    if unknown:
        raise ValueError(f"insert_many: {table.name} has no column {', '.join(unknown)}")
    left_out = [c for c in table.columns if c.key not in keys]
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql" or not all(_copyable(c) for c in left_out):
        session.execute(insert(table), list(rows))
        return
    defaults = [c for c in left_out if c.default is not None]
    columns = [table.c[key] for key in keys] + defaults
    converters = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
    # Converted before COPY starts, so that a bad value (a naive datetime) fails as insert() fails: before anything
    # reaches the server, leaving the transaction usable.
    try:
        data = []
        for row in rows:
            values = [row[key] for key in keys]
            values.extend(c.default.arg(None) if c.default.is_callable else c.default.arg for c in defaults)
            data.append([v if f is None else f(v) for f, v in zip(converters, values, strict=True)])
    except Exception as exc:
        raise StatementError(str(exc), f"COPY {table.name}", None, exc) from exc
    preparer = dialect.identifier_preparer
    statement = f"COPY {preparer.format_table(table)} ({', '.join(preparer.format_column(c) for c in columns)}) FROM STDIN"
    cursor = connection.connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for values in data:
                copy.write_row(values)
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error, dialect=dialect) from exc
    finally:
        cursor.close()


def refresh_statistics(session: Session, tables: Sequence[Table]) -> None:
    """Have PostgreSQL sample the tables again after a bulk load, before autovacuum would, so plans fit the new rows.

    SQLite needs nothing: its statements here are planned without statistics (none are kept unless ANALYZE is run).
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql" and tables:
        preparer = connection.dialect.identifier_preparer
        connection.exec_driver_sql("ANALYZE " + ", ".join(preparer.format_table(t) for t in tables))


# --- rows written with the transaction's next statement ----------------------------------------------------------

_STAGED = "openzone.db.staged"  # session.info: objects stage() holds until the next query, flush or commit
_WRITTEN = "openzone.db.written"  # session.info: (savepoint or None, objects) written from stage() in the transaction
_UPDATES = "openzone.db.staged_updates"  # session.info: {(class, identity): {key: value}} of stage_update()
_CURRENT = object()
_NONE_UNSET: frozenset[str] = frozenset()
PLACEHOLDERS = {"sqlite": "?", "postgresql": "%s"}  # each driver's placeholder
# Bound parameters per statement: PostgreSQL's protocol takes 65,535; SQLite's old default limit was 999.
_MAX_PARAMS = {"sqlite": 999, "postgresql": 65535}


class _Layout:
    """Say how one mapped class's rows are written: its columns and attributes in order, and Python-side defaults."""

    __slots__ = ("columns", "converters", "defaults", "heads", "keys", "pk_keys", "table")

    def __init__(self, cls: type) -> None:
        mapper = cls.__mapper__
        if len(mapper.tables) != 1 or mapper.inherits is not None:
            raise ValueError(f"stage: {cls.__name__} is not mapped to one table")
        self.table = mapper.local_table
        self.keys: list[str] = []
        self.columns: list[Column] = []
        self.defaults: list[tuple[str, Any]] = []
        for prop in mapper.column_attrs:
            column = prop.columns[0]
            self.keys.append(prop.key)
            self.columns.append(column)
            if column.default is not None:
                if not _copyable(column):
                    raise ValueError(f"stage: {self.table.name}.{column.name} has a default stage() cannot compute")
                self.defaults.append((prop.key, column.default))
            elif column.server_default is not None:
                self.defaults.append((prop.key, None))  # the caller must give it (see stage())
        self.heads: dict[Any, str] = {}  # by dialect name: the INSERT's head; by (name, keys): an UPDATE
        self.pk_keys = [self.keys[self.columns.index(c)] for c in self.table.primary_key.columns]
        self.converters: dict[str, list[Any]] = {}

    def head(self, dialect: Any) -> str:
        head = self.heads.get(dialect.name)
        if head is None:
            preparer = dialect.identifier_preparer
            head = self.heads.setdefault(dialect.name, f"INSERT INTO {preparer.format_table(self.table)} "  # noqa: S608
                                         f"({', '.join(preparer.format_column(c) for c in self.columns)}) VALUES ")
        return head

    def convert(self, dialect: Any) -> list[Any]:
        converters = self.converters.get(dialect.name)
        if converters is None:
            # A JSON column's None is JSON null, as the ORM writes it (the type evaluates None); elsewhere it is NULL.
            converters = self.converters.setdefault(dialect.name, [
                (c.type.dialect_impl(dialect).bind_processor(dialect), c.type.should_evaluate_none)
                for c in self.columns])
        return converters

    def update(self, dialect: Any, keys: tuple[str, ...]) -> str:
        """Return "UPDATE t SET c = ?, ... WHERE pk = ? AND ..." for some attribute keys, in the dialect."""
        sql = self.heads.get((dialect.name, keys))
        if sql is None:
            preparer, mark = dialect.identifier_preparer, PLACEHOLDERS[dialect.name]
            by_key = dict(zip(self.keys, self.columns, strict=True))
            sets = ", ".join(f"{preparer.format_column(by_key[k])} = {mark}" for k in keys)
            where = " AND ".join(f"{preparer.format_column(c)} = {mark}" for c in self.table.primary_key.columns)
            sql = self.heads.setdefault((dialect.name, keys),  # type: ignore[call-overload]
                                        f"UPDATE {preparer.format_table(self.table)} SET {sets} WHERE {where}")  # noqa: S608
        return sql

    def converted(self, dialect: Any, key: str, value: Any) -> Any:
        """Return a value of one attribute as its column's type binds it (as the staged INSERT converts it)."""
        convert, with_none = self.convert(dialect)[self.keys.index(key)]
        return value if convert is None or (value is None and not with_none) else convert(value)


_layouts: dict[type, _Layout] = {}


def _layout(cls: type) -> _Layout:
    layout = _layouts.get(cls)
    if layout is None:
        layout = _layouts.setdefault(cls, _Layout(cls))
    return layout


def stage(session: Session, obj: Any, *, join: bool = True) -> Any:
    """Insert a new mapped object with the transaction's next query, flush or commit, outside the unit of work.

    As after session.add(), the row is written before any query of the session (when autoflush is on), with a flush
    that has changes of the unit of work to write, before a savepoint and at the commit, and a rollback drops it; a
    caller about to use SQL outside the session's queries calls write_staged() (session.flush() returns at once when
    the unit of work has nothing to write). Unlike it, the rows staged in a transaction go in together: one statement for every table on PostgreSQL
    (data-modifying WITH clauses), one multi-row INSERT per table on SQLite. The unit of work's bookkeeping for a
    few new rows cost more than their statements (an e-license retrieval's access record, copy and attachment:
    docs/performance.md). Python-side column defaults are filled in at once, so the object shows every value it is
    written with. Until it is written the object is not in the identity map, and it is written as it stands then;
    from then on it is in the session as a row loaded from the database would be (a query of it returns it, a
    change is flushed as an UPDATE). It may refer to rows of the unit of work, which is flushed first, but none of
    those may refer to a staged row. A rollback of the transaction or savepoint that wrote it takes it out of the
    session again, transient with its values, as it does new ORM rows. Errors are SQLAlchemy's, as for a flush.

    join=False: written, the object stays outside the session, transient with its values (a query of its row loads
    another object; never add() it, which would insert it again). For a caller that only reads the values it set: the
    session's bookkeeping for a written object cost a fifth of writing it (a consent access record, an attachment).
    """
    layout = _layout(type(obj))
    values = obj.__dict__
    for key, default in layout.defaults:
        if key not in values:
            if default is None:
                raise ValueError(f"stage: give {layout.table.name}.{key}, its default is the server's")
            setattr(obj, key, default.arg(None) if default.is_callable else default.arg)
    unset = _NONE_UNSET
    for key in layout.keys:
        if key not in values:
            # As the row will hold it (no attribute is left to load), and written as SQL NULL, as the ORM leaves an
            # unset column out of its INSERT (None given for a JSON column is JSON null, unset is NULL).
            setattr(obj, key, None)
            unset = unset | {key}
    if not session.in_transaction():
        session.begin()  # as session.add() does: the row belongs to this transaction and leaves with its rollback
    staged = session.info.get(_STAGED)
    if staged is None:
        staged = session.info[_STAGED] = []
    staged.append((obj, unset, join))
    return obj


def stage_update(session: Session, obj: Any, **values: Any) -> None:
    """Write new values of some columns of a persistent object with the staged rows (stage()), in the same statement.

    The object shows the values at once, as committed: the unit of work has nothing to write for them. The UPDATE (by
    primary key) goes first in the next write of staged rows: before any query of the session (with autoflush off
    too, so a query that reads the row afresh cannot take back the values), with a flush that has changes of the
    unit of work to write, before a savepoint and at the commit; on PostgreSQL in the same statement as the staged
    INSERTs. As for stage(), a caller about to read the row with SQL outside the session's queries calls
    write_staged() first. A flush with changes of its own writes it alone first, so that any later change of the
    same row is written after it. A second stage_update() of the same object before the write merges into the
    first. A rollback drops it with the rest.
    The consent gate counts a use this way: the UPDATE and its round trip cost as much as the rest of the gate.
    """
    state = inspect(obj)
    if not state.persistent:
        raise ValueError("stage_update: the object must be persistent (loaded or written in this session)")
    _layout(type(obj))
    for key, value in values.items():
        set_committed_value(obj, key, value)
    if not session.in_transaction():
        session.begin()
    session.info.setdefault(_UPDATES, {}).setdefault((type(obj), state.identity), {}).update(values)


def _write_updates(session: Session) -> None:
    """Write the pending stage_update() values alone, ahead of the staged rows."""
    connection = session.connection()
    _write_batches(connection, _update_batches(session, connection.dialect))


def _anything_staged(info: Mapping[str, Any]) -> bool:
    return _STAGED in info or _UPDATES in info


def _update_batches(session: Session, dialect: Any) -> list[_Batch]:
    pending = session.info.pop(_UPDATES, None)
    if not pending:
        return []
    batches = []
    for (cls, identity), values in pending.items():
        layout = _layouts[cls]
        keys = tuple(values)
        params = [layout.converted(dialect, k, values[k]) for k in keys]
        params.extend(layout.converted(dialect, k, v) for k, v in zip(layout.pk_keys, identity, strict=True))
        # A count of 0 marks a whole statement (not the head of a multi-row INSERT).
        batches.append((layout.table.name, layout.update(dialect, keys), len(params), 0, params))
    return batches


_multi_inserts: dict[tuple[str, str, int, int], str] = {}


def multi_insert(head: str, dialect: str, width: int, count: int) -> str:
    """Return (cached) head ("INSERT INTO t (columns) VALUES ") and count rows of width placeholders of the dialect."""
    key = (head, dialect, width, count)
    sql = _multi_inserts.get(key)
    if sql is None:
        row = "(" + ", ".join([PLACEHOLDERS[dialect]] * width) + ")"
        sql = _multi_inserts.setdefault(key, head + ", ".join([row] * count))
    return sql


_staged_sql: dict[tuple[Any, ...], str] = {}


def write_staged(session: Session) -> None:
    """Flush the session's unit of work, then write the rows stage() holds (a caller about to use raw SQL on them)."""
    session.flush()
    _write_staged(session)


def _write_staged(session: Session, connection: Connection | None = None, owner: Any = _CURRENT) -> None:
    objects = session.info.pop(_STAGED, None) or []
    if not objects and _UPDATES not in session.info:
        return
    if owner is _CURRENT:
        owner = session.get_nested_transaction()
    connection = connection if connection is not None else session.connection()
    dialect = connection.dialect
    groups: dict[type, list[tuple[Any, frozenset[str]]]] = {}
    for obj, unset, _join in objects:
        groups.setdefault(type(obj), []).append((obj, unset))
    try:
        batches = _update_batches(session, dialect)
        for cls, rows in groups.items():
            layout = _layouts[cls]
            converters = layout.convert(dialect)
            params: list[Any] = []
            for obj, unset in rows:
                values = obj.__dict__
                for key, (convert, with_none) in zip(layout.keys, converters, strict=True):
                    value = values.get(key)
                    if convert is None or (value is None and (not with_none or key in unset)):
                        params.append(value)
                    else:
                        params.append(convert(value))
            batches.append((layout.table.name, layout.head(dialect), len(layout.keys), len(rows), params))
    except Exception as exc:
        raise StatementError(str(exc), "INSERT (staged rows)", None, exc) from exc
    for companion in STAGE_COMPANIONS:
        batches.extend(companion(session, dialect))
    _write_batches(connection, batches)
    # Written, the objects join the session as rows it loaded would: a later query of the same row returns them. A
    # rollback of the transaction or savepoint they were written in takes them out again, as it does new ORM rows.
    written = []
    for obj, _, join in objects:
        if not join:
            continue
        values = dict(obj.__dict__)  # what a rollback gives back to the object, as it does to new ORM rows
        make_transient_to_detached(obj)
        session.add(obj)
        written.append((obj, values))
    if written:
        session.info.setdefault(_WRITTEN, []).append((owner, written))


# A batch: table name, "INSERT INTO table (columns) VALUES " in the dialect, values per row, rows, the values; or
# table name, a whole statement, its number of values, 0, the values (an UPDATE of stage_update()).
_Batch = tuple[str, str, int, int, Sequence[Any]]
# Functions that hand over rows of their own to go in the statement of the staged rows (the ledger's entries and
# salts): each takes the session and the dialect and returns the batches it no longer writes itself.
STAGE_COMPANIONS: list[Callable[[Session, Any], list[_Batch]]] = []


def _write_batches(connection: Connection, batches: list[_Batch]) -> None:
    name = connection.dialect.name
    limit = _MAX_PARAMS.get(name, 999)
    if name == "postgresql" and len(batches) > 1 and sum(len(b[4]) for b in batches) <= limit:
        key = tuple((table, count) if count else head for table, head, _, count, _ in batches)
        sql = _staged_sql.get(key)
        if sql is None:
            parts = [multi_insert(head, name, width, count) if count else head
                     for _, head, width, count, _ in batches]
            sql = _staged_sql.setdefault(key, "WITH " + ", ".join(f"s{i} AS ({p})" for i, p in enumerate(parts[:-1]))
                                         + " " + parts[-1])
        connection.exec_driver_sql(sql, tuple(v for *_, params in batches for v in params))
        return
    for _, head, width, count, params in batches:
        if not count:  # a whole statement (stage_update)
            connection.exec_driver_sql(head, tuple(params))
            continue
        per = max(1, limit // width)
        for first in range(0, count, per):
            n = min(per, count - first)
            connection.exec_driver_sql(multi_insert(head, name, width, n),
                                       tuple(params[first * width:(first + n) * width]))


@event.listens_for(Session, "do_orm_execute")
def _staged_before_statement(state: Any) -> None:
    # A query sees the staged rows as it sees the unit of work's: both are written first, when autoflush is on.
    session = state.session
    if _anything_staged(session.info) and session.autoflush:
        write_staged(session)
    elif _UPDATES in session.info:
        # Autoflush off: new rows wait, as the ORM's do, but new values of a row are written, or a query that reads
        # the row afresh (populate_existing, a refresh) would replace them with the old ones and lose them.
        _write_updates(session)


@event.listens_for(Session, "before_flush")
def _staged_updates_before_flush(session: Session, _context: Any, _instances: Any) -> None:
    # The unit of work has changes to write (a clean session does not get here): staged UPDATEs go first, alone, so
    # that a change of the same row made after them is written after them.
    if _UPDATES in session.info:
        _write_updates(session)


@event.listens_for(Session, "after_flush_postexec")
def _staged_after_flush(session: Session, _context: Any) -> None:
    # A flush of the unit of work writes the staged rows after its own (they may refer to its rows).
    if _anything_staged(session.info):
        _write_staged(session)


@event.listens_for(Session, "before_commit")
def _staged_before_commit(session: Session) -> None:
    if _anything_staged(session.info):
        write_staged(session)


@event.listens_for(Session, "after_transaction_create")
def _staged_before_savepoint(session: Session, transaction: Any) -> None:
    # begin_nested() has flushed the unit of work; the staged rows join the enclosing transaction in the same way.
    if transaction.parent is None:
        session.info.pop(_WRITTEN, None)  # left by a transaction that was closed, neither committed nor rolled back
    elif transaction.nested and _anything_staged(session.info):
        parent = transaction.parent
        _write_staged(session, parent.connection(None), parent if parent.nested else None)


@event.listens_for(Session, "after_soft_rollback")
def _staged_rollback(session: Session, previous: Any) -> None:
    # Rows staged since the transaction or savepoint began go with it (those before a savepoint were written), and so
    # do the objects written in it or in a savepoint inside it.
    if previous.parent is not None and not previous.nested:
        return  # a failed flush's own subtransaction: its transaction or savepoint is rolled back next, by the caller
    session.info.pop(_STAGED, None)
    session.info.pop(_UPDATES, None)
    written = session.info.get(_WRITTEN)
    if not written:
        return
    kept = []
    for owner, objects in written:
        inside = owner
        while inside is not None and inside is not previous:
            inside = inside.parent
        if inside is previous or not previous.nested:
            for obj, values in objects:
                if obj in session:
                    session.expunge(obj)
                # The rollback expired it; like a new ORM row, it is transient again and keeps its values.
                make_transient(obj)
                for key, value in values.items():
                    if not key.startswith("_"):
                        set_committed_value(obj, key, value)
        else:
            kept.append((owner, objects))
    session.info[_WRITTEN] = kept


@event.listens_for(Session, "after_transaction_end")
def _staged_end(session: Session, transaction: Any) -> None:
    # (A rollback's after_soft_rollback comes after this, and still needs the written objects.)
    if transaction.parent is None:
        session.info.pop(_STAGED, None)
        session.info.pop(_UPDATES, None)
