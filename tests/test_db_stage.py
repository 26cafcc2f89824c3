"""openzone.db.stage: new rows written together with the transaction's next statement, as session.add() would."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from openzone.core.search.models import SearchDocument, SearchFilterValue
from openzone.db import stage, stage_update, write_staged
from openzone.kit.ids import new_id
from tests.conftest import IS_POSTGRES


def _doc(key: str, **values) -> SearchDocument:
    values = {"fields": {"title": f"标题 {key}"}, "folded": "", "updated_at": dt.datetime.now(dt.UTC), **values}
    return SearchDocument(id=new_id(), index_name="stage-test", doc_key=key, **values)


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(SearchDocument)
                          .where(SearchDocument.index_name == "stage-test"))


@pytest.fixture
def statements(session):
    seen: list[str] = []

    def log(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", log)
    yield seen
    event.remove(engine, "before_cursor_execute", log)


def test_staged_rows_are_written_before_the_next_query_with_their_defaults(session, statements):
    doc = stage(session, _doc("a"))
    # Python-side defaults are filled in at once; columns without one are None, as the row will hold them.
    assert doc.created_at.tzinfo is not None and doc.fts_rowid is None
    child = stage(session, SearchFilterValue(document_id=doc.id, field="category", value="发票"))
    assert statements == []  # nothing written yet
    assert _count(session) == 1
    # Both tables went in before the query: one statement on PostgreSQL, one per table on SQLite.
    inserts = [s for s in statements if "INSERT" in s]
    assert len(inserts) == (1 if IS_POSTGRES else 2)
    assert inserts[0].startswith("WITH ") == IS_POSTGRES
    # Written, the objects are the session's: a query returns the same object, and a change is flushed.
    assert session.get(SearchDocument, doc.id) is doc
    assert session.scalar(select(SearchFilterValue).where(SearchFilterValue.document_id == doc.id)) is child
    doc.folded = "changed"
    session.flush()
    session.expire_all()
    assert session.get(SearchDocument, doc.id).folded == "changed"
    assert session.get(SearchDocument, doc.id).fields == {"title": "标题 a"}


def test_the_unit_of_work_is_flushed_first_so_staged_rows_may_refer_to_its_rows(session):
    parent = _doc("parent")
    session.add(parent)
    stage(session, SearchFilterValue(document_id=parent.id, field="category", value="合同"))
    write_staged(session)
    assert session.scalar(select(SearchFilterValue.value).where(SearchFilterValue.document_id == parent.id)) == "合同"


def test_a_commit_writes_them_and_a_rollback_drops_them(session):
    stage(session, _doc("kept"))
    session.commit()
    assert _count(session) == 1
    stage(session, _doc("dropped"))
    session.rollback()
    assert _count(session) == 1


def test_a_savepoint_keeps_rows_staged_before_it_and_its_rollback_drops_those_staged_inside(session):
    stage(session, _doc("before"))
    savepoint = session.begin_nested()
    stage(session, _doc("inside"))
    savepoint.rollback()
    keys = set(session.scalars(select(SearchDocument.doc_key).where(SearchDocument.index_name == "stage-test")))
    assert keys == {"before"}


def test_a_failing_write_is_sqlalchemys_error_and_nothing_of_it_is_kept(session):
    first = stage(session, _doc("one"))
    write_staged(session)
    savepoint = session.begin_nested()
    stage(session, _doc("two"))
    stage(session, SearchDocument(id=first.id, index_name="stage-test", doc_key="dup", fields={}, folded="",
                                  updated_at=dt.datetime.now(dt.UTC)))
    with pytest.raises(IntegrityError):
        write_staged(session)
    savepoint.rollback()
    assert _count(session) == 1


def test_a_value_its_column_cannot_take_is_refused_before_anything_is_sent(session, statements):
    stage(session, _doc("naive", updated_at=dt.datetime(2026, 11, 30, 8, 0)))  # UTCDateTime refuses naive times
    with pytest.raises(Exception, match="naive datetime"):
        write_staged(session)
    assert not [s for s in statements if "INSERT" in s]


def test_none_in_a_json_column_is_json_null_as_the_orm_writes_it(session):
    doc = stage(session, _doc("null", fields=None))
    write_staged(session)
    session.expire_all()
    assert session.get(SearchDocument, doc.id).fields is None
    is_json_null = func.json_typeof(SearchDocument.fields) == "null" if IS_POSTGRES else \
        func.json_type(SearchDocument.fields) == "null"
    assert session.scalar(select(func.count()).where(SearchDocument.id == doc.id, is_json_null)) == 1


def test_a_rollback_takes_out_the_objects_written_in_it_as_it_does_new_orm_rows(session):
    before = stage(session, _doc("before"))
    savepoint = session.begin_nested()
    inside = stage(session, _doc("inside"))
    inner = session.begin_nested()  # writes "inside" in the outer savepoint
    deeper = stage(session, _doc("deeper"))
    write_staged(session)
    inner.commit()
    assert session.get(SearchDocument, inside.id) is inside and session.get(SearchDocument, deeper.id) is deeper
    savepoint.rollback()
    # The rows are gone, and so are the objects: the session does not answer from a row that no longer exists.
    assert inside not in session and deeper not in session
    assert session.get(SearchDocument, inside.id) is None and session.get(SearchDocument, deeper.id) is None
    assert session.get(SearchDocument, before.id) is before
    before_id = before.id
    session.rollback()
    assert before not in session and session.get(SearchDocument, before_id) is None


def test_a_failed_flush_inside_a_savepoint_leaves_the_written_objects_alone(session):
    doc = stage(session, _doc("kept", fts_rowid=917_001))
    write_staged(session)
    savepoint = session.begin_nested()
    session.add(_doc("clash", fts_rowid=917_001))  # fts_rowid is unique
    with pytest.raises(IntegrityError):
        session.flush()
    savepoint.rollback()
    assert doc in session
    doc.folded = "changed after the savepoint"
    session.flush()
    session.expire_all()
    assert session.get(SearchDocument, doc.id).folded == "changed after the savepoint"


def test_after_a_rollback_the_objects_are_transient_with_their_values(session):
    doc = stage(session, _doc("rolled back"))
    write_staged(session)
    session.rollback()
    assert doc not in session and doc.doc_key == "rolled back" and doc.fields == {"title": "标题 rolled back"}


def test_an_unset_column_is_sql_null_as_the_orms_insert_leaves_it_out(session):
    # fields is a NOT NULL JSON column: left unset it is refused, as session.add() would have it (None given for a
    # JSON column is JSON null, which the column would take).
    stage(session, SearchDocument(id=new_id(), index_name="stage-test", doc_key="unset", folded="",
                                  updated_at=dt.datetime.now(dt.UTC)))
    with pytest.raises(IntegrityError):
        write_staged(session)


def test_staging_outside_a_transaction_begins_one_as_add_does(session):
    session.commit()
    stage(session, _doc("outside"))
    session.rollback()
    assert _count(session) == 0


# --- stage_update: new values of a persistent row, written with the staged rows ---------------------------------


def _stored(session, doc_id) -> str:
    # Read on a connection of its own statement, outside the ORM's identity map.
    return session.connection().scalar(select(SearchDocument.folded).where(SearchDocument.id == doc_id))


def test_an_update_goes_first_in_the_statement_of_the_staged_rows(session, statements):
    doc = _doc("u")
    session.add(doc)
    session.flush()
    statements.clear()
    stage_update(session, doc, folded="counted")
    assert doc.folded == "counted" and not session.dirty  # shown at once; the unit of work has nothing to write
    assert statements == []
    stage(session, SearchFilterValue(document_id=doc.id, field="category", value="发票"))
    write_staged(session)
    writes = [s for s in statements if "UPDATE" in s or "INSERT" in s]
    if IS_POSTGRES:
        assert len(writes) == 1 and writes[0].startswith("WITH s0 AS (UPDATE")
    else:
        assert writes[0].startswith("UPDATE") and len(writes) == 2
    assert _stored(session, doc.id) == "counted"
    session.commit()
    session.expire_all()
    assert session.get(SearchDocument, doc.id).folded == "counted"


def test_an_update_alone_is_written_before_the_next_query_and_merges_with_a_second(session, statements):
    doc = _doc("alone")
    session.add(doc)
    session.commit()
    stage_update(session, doc, folded="one")
    stage_update(session, doc, folded="two", fields={"title": "新"})
    assert _stored(session, doc.id) == ""  # not written yet (a statement outside the ORM does not write it)
    statements.clear()
    assert session.scalar(select(SearchDocument.folded).where(SearchDocument.id == doc.id)) == "two"
    assert len([s for s in statements if s.startswith("UPDATE")]) == 1  # merged, one row written once
    session.expire_all()
    assert session.get(SearchDocument, doc.id).fields == {"title": "新"}


def test_a_change_of_the_unit_of_work_made_after_an_update_is_written_after_it(session):
    doc = _doc("order")
    session.add(doc)
    session.commit()
    stage_update(session, doc, folded="staged")
    doc.folded = "changed later"  # the unit of work's own change of the same row
    session.flush()
    assert _stored(session, doc.id) == "changed later"
    session.commit()
    session.expire_all()
    assert session.get(SearchDocument, doc.id).folded == "changed later"


def test_a_rollback_drops_an_update_and_a_savepoint_keeps_one_staged_before_it(session):
    doc = _doc("rb")
    session.add(doc)
    session.commit()
    stage_update(session, doc, folded="dropped")
    session.rollback()
    assert session.get(SearchDocument, doc.id).folded == ""  # expired by the rollback, read back
    stage_update(session, doc, folded="before")
    savepoint = session.begin_nested()
    savepoint.rollback()
    session.commit()
    session.expire_all()
    assert session.get(SearchDocument, doc.id).folded == "before"


def test_only_a_persistent_object_can_be_updated(session):
    with pytest.raises(ValueError, match="persistent"):
        stage_update(session, _doc("new"), folded="x")


def test_an_object_staged_not_to_join_stays_outside_the_session_once_written(session):
    doc = stage(session, _doc("outside"), join=False)
    write_staged(session)
    assert doc not in session and doc.doc_key == "outside"  # transient, with every value it was written with
    loaded = session.get(SearchDocument, doc.id)
    assert loaded is not doc and loaded.doc_key == "outside" and loaded.created_at == doc.created_at
    session.rollback()
    assert session.get(SearchDocument, doc.id) is None and doc.doc_key == "outside"


def test_an_update_is_written_before_a_query_with_autoflush_off_so_a_fresh_read_keeps_it(session):
    doc = _doc("noflush")
    session.add(doc)
    session.commit()
    stage_update(session, doc, folded="counted")
    with session.no_autoflush:
        fresh = session.scalars(select(SearchDocument).where(SearchDocument.id == doc.id)
                                .execution_options(populate_existing=True)).one()
    assert fresh is doc and doc.folded == "counted" and _stored(session, doc.id) == "counted"
