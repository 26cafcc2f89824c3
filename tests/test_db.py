"""openzone.db.insert_many: the same rows on SQLite (executemany) and PostgreSQL (COPY)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError

from openzone import db
from openzone.core.search.models import SearchDocument, SearchFilterValue
from openzone.db import insert_many, refresh_statistics
from openzone.kit.ids import new_id
from tests.conftest import IS_POSTGRES


def test_rows_and_defaults_arrive_as_an_insert_would_write_them(session):
    when = dt.datetime(2026, 11, 29, 8, 30, 15, 123456, tzinfo=dt.UTC)
    ids = [new_id() for _ in range(3)]
    rows = [{"id": doc_id, "index_name": "db-test", "doc_key": f"k{i}", "fields": {"title": f"标题 {i}", "n": [i, None]},
             "folded": "tab\there, back\\slash, newline\nend" if i == 0 else "", "fts_rowid": None, "tsv": None,
             "updated_at": when} for i, doc_id in enumerate(ids)]
    insert_many(session, SearchDocument.__table__, rows)
    insert_many(session, SearchFilterValue.__table__,
                [{"document_id": doc_id, "field": "category", "value": "发票"} for doc_id in ids])
    stored = {d.doc_key: d for d in session.scalars(select(SearchDocument).where(SearchDocument.index_name == "db-test"))}
    assert sorted(stored) == ["k0", "k1", "k2"]
    for i, doc_id in enumerate(ids):
        doc = stored[f"k{i}"]
        assert doc.id == doc_id
        assert doc.fields == {"title": f"标题 {i}", "n": [i, None]}
        assert doc.updated_at == when
        # created_at was left out: its Python-side default filled it, one value per row.
        assert doc.created_at.tzinfo is not None
        assert abs((doc.created_at - dt.datetime.now(dt.UTC)).total_seconds()) < 60
    assert stored["k0"].folded == "tab\there, back\\slash, newline\nend"
    assert session.scalar(select(SearchFilterValue.value).where(SearchFilterValue.document_id == ids[2])) == "发票"


def test_rows_naming_different_columns_are_refused_before_anything_is_written(session):
    rows = [{"id": new_id(), "index_name": "db-test", "doc_key": "a", "fields": {}, "folded": "",
             "updated_at": dt.datetime.now(dt.UTC)},
            {"id": new_id(), "index_name": "db-test", "doc_key": "b", "fields": {}, "folded": ""}]
    with pytest.raises(ValueError, match="same columns"):
        insert_many(session, SearchDocument.__table__, rows)
    assert session.scalar(select(SearchDocument.id).where(SearchDocument.index_name == "db-test")) is None


def test_no_rows_is_nothing_to_do(session):
    insert_many(session, SearchDocument.__table__, [])


def test_refresh_statistics_samples_the_new_rows_on_postgresql(session):
    ids = [new_id() for _ in range(300)]
    insert_many(session, SearchDocument.__table__, [
        {"id": doc_id, "index_name": "db-test", "doc_key": f"k{i}", "fields": {}, "folded": "",
         "updated_at": dt.datetime.now(dt.UTC)} for i, doc_id in enumerate(ids)])
    refresh_statistics(session, [SearchDocument.__table__])
    if IS_POSTGRES:
        # ANALYZE counts the rows this transaction inserted; before it, the new table's estimate was none.
        assert session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'search_document'")) >= 300
    else:
        # SQLite keeps no statistics unless asked: nothing was written for the planner.
        assert session.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")) == 0


def _doc(**values):
    return {"id": new_id(), "index_name": "db-test", "doc_key": "k", "fields": {}, "folded": "",
            "updated_at": dt.datetime.now(dt.UTC), **values}


def test_none_in_a_json_column_is_json_null_and_a_tsvector_arrives_parsed(session):
    tsv = "'invoice':2 '发票':1" if IS_POSTGRES else None
    insert_many(session, SearchDocument.__table__, [_doc(doc_key="a", fields=None, tsv=tsv), _doc(doc_key="b", tsv=None)])
    # insert() writes Python None in a JSON column as JSON null, not SQL NULL (the column is NOT NULL): so does COPY.
    assert session.scalar(select(SearchDocument.fields).where(SearchDocument.doc_key == "a")) is None
    assert session.scalar(text("SELECT count(*) FROM search_document WHERE doc_key = 'a' AND fields IS NULL")) == 0
    if IS_POSTGRES:
        assert session.scalar(text("SELECT tsv @@ to_tsquery('simple', 'invoice') FROM search_document "
                                   "WHERE doc_key = 'a'")) is True


def test_errors_are_sqlalchemys_on_both_databases_and_leave_the_session_usable(session):
    first = _doc(doc_key="dup")
    insert_many(session, SearchDocument.__table__, [first])
    with pytest.raises(IntegrityError), session.begin_nested():
        insert_many(session, SearchDocument.__table__, [_doc(doc_key="other"), {**first, "doc_key": "again"}])
    naive = dt.datetime(2026, 11, 29, 8, 0)
    with pytest.raises(StatementError) as raised, session.begin_nested():
        insert_many(session, SearchDocument.__table__, [_doc(doc_key="x"), _doc(doc_key="y", updated_at=naive)])
    # Refused while converting the values, before anything reached the database.
    assert raised.type is StatementError
    assert "naive datetime" in str(raised.value)
    with pytest.raises(ValueError, match="no column"):
        insert_many(session, SearchDocument.__table__, [_doc(doc_key="z", colour="red")])
    keys = session.scalars(select(SearchDocument.doc_key).where(SearchDocument.index_name == "db-test")).all()
    assert keys == ["dup"]


def _backend(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT pg_backend_pid()"))


@pytest.mark.skipif(not IS_POSTGRES, reason="pooled server connections")
def test_an_idle_pooled_connection_is_pinged_and_a_dead_one_replaced_before_use(database):
    engine = db.make_engine(database, idle_ping_seconds=0.5)
    try:
        # One killed just after use is not pinged (it was at work a moment ago), so its next statement fails (a
        # request answers 503); the pool then starts afresh.
        first = _backend(engine)
        with db.get_engine().connect() as other:
            assert other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}) is True
        with pytest.raises(OperationalError) as lost:
            _backend(engine)
        assert lost.value.connection_invalidated
        second = _backend(engine)
        assert second != first and _backend(engine) == second  # back at work at once: the same connection
        # One killed while it sits idle longer than idle_ping_seconds is pinged, found dead and replaced before use:
        # the caller never sees it.
        with db.get_engine().connect() as other:
            assert other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": second}) is True
        time.sleep(0.6)
        third = _backend(engine)
        assert third not in (first, second) and _backend(engine) == third
    finally:
        engine.dispose()


@pytest.mark.skipif(not IS_POSTGRES, reason="psycopg's cursor")
def test_a_cursor_describes_its_columns_when_they_are_read(database):
    import psycopg

    engine = db.make_engine(database)
    try:
        with engine.connect() as conn:
            # SQLAlchemy reads the names of a statement it has not compiled (text) from the description itself.
            result = conn.execute(text("SELECT 1 AS one, 'x'::text AS two"))
            assert list(result.keys()) == ["one", "two"] and result.one() == (1, "x")
            # A compiled statement seen before takes them from its cached metadata; the rows are the same.
            stmt = select(SearchDocument.id, SearchDocument.doc_key).where(SearchDocument.id == new_id())
            assert conn.execute(stmt).all() == [] and conn.execute(stmt).keys() == ["id", "doc_key"]

            cursor = conn.connection.driver_connection.cursor()
            assert isinstance(cursor, psycopg.Cursor)
            cursor.execute("SELECT 1 AS one, 'x'::text AS two, NULL::numeric(10, 2) AS three")
            described = cursor.description
            assert len(described) == 3 and bool(described)
            assert [c.name for c in described] == ["one", "two", "three"]
            assert described[1].type_code == 25 and described[2][4:6] == (10, 2)  # precision and scale
            assert [tuple(c) for c in described] == [tuple(c) for c in psycopg.Cursor.description.fget(cursor)]
            cursor.execute("SELECT")  # rows of no columns: described, and empty
            assert cursor.description is not None and len(cursor.description) == 0 and not cursor.description
            cursor.execute("SET search_path TO public")  # no rows: no description
            assert cursor.description is None
            cursor.execute("SELECT 1 AS one")
            unread = cursor.description
            cursor.execute("SELECT 2 AS two")
            with pytest.raises(psycopg.InterfaceError, match="moved to another result"):
                unread[0]  # built from the result it described, never from a later one
            assert cursor.description[0].name == "two"
            cursor.close()
    finally:
        engine.dispose()
