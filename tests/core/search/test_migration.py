"""Revisions 0013 and 0019 move indexed SQLite documents into their index's rowid block and their facet values into
search_fts_facets without losing filters or facets."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session

from openzone import migrate
from openzone.core import search
from openzone.core.search import domain
from openzone.db import get_engine


def _old_rows(conn, key: str, fts_rowid: int, body: str, region: str) -> None:
    doc_id = uuid.uuid4().hex
    conn.execute(text("INSERT INTO search_document (id, index_name, doc_key, fields, folded, fts_rowid, updated_at, "
                      "created_at) VALUES (:id, 'testdocs', :key, :fields, :folded, :rowid, '2026-11-27 00:00:00.000000',"
                      " '2026-11-27 00:00:00.000000')"),
                 {"id": doc_id, "key": key, "fields": f'{{"body": "{body}"}}', "folded": body, "rowid": fts_rowid})
    conn.execute(text("INSERT INTO search_filter_value (document_id, field, value) VALUES (:id, 'region', :region)"),
                 {"id": doc_id, "region": region})
    conn.execute(text("INSERT INTO search_fts (rowid, body) VALUES (:rowid, :tokens)"),
                 {"rowid": fts_rowid, "tokens": " ".join(domain.analyse(body))})


def test_upgrade_keeps_every_document_findable_by_word_filter_and_facet(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, revision="0012")
    with get_engine(url).begin() as conn:
        _old_rows(conn, "a", 1, "停车场收费系统", "北京")
        _old_rows(conn, "b", 2, "停车场照明设计", "天津")
        _old_rows(conn, "c", 3, "河道管理规范", "北京")
    migrate.upgrade(url)
    low, high = domain.fts_rowid_range("testdocs")
    with Session(get_engine(url)) as session:
        rowids = session.execute(text("SELECT fts_rowid FROM search_document ORDER BY doc_key")).scalars().all()
        assert rowids == [low + 1, low + 2, low + 3] and all(r <= high for r in rowids)
        # The table rebuilds of the upgrade must not cascade into the filter values (foreign keys are off meanwhile).
        assert session.execute(text("SELECT count(*) FROM search_filter_value")).scalar() == 3
        assert session.execute(text("SELECT group_concat(facets, ' ') FROM search_fts_facets")).scalar() == (
            '[["region","北京"]] [["region","天津"]] [["region","北京"]]')
        found = search.search(session, index="testdocs", query="停车场 region=北京")
        assert [h.key for h in found.hits] == ["a"]
        facets = search.search(session, index="testdocs", query="停车场").facets
        assert sorted(facets["region"]) == [("北京", 1), ("天津", 1)]
        search.index_document(session, index="testdocs", doc=search.Document(key="d", fields={"body": "停车场规划"},
                                                                               filters={"region": "河北"}))
        assert session.execute(text("SELECT fts_rowid FROM search_document WHERE doc_key = 'd'")).scalar() == low + 4
        session.rollback()
    migrate.downgrade("0012", url)
    with get_engine(url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM search_filter_value")).scalar() == 3
        assert conn.execute(text("SELECT count(*) FROM search_fts WHERE search_fts MATCH '停车场'")).scalar() == 2
    get_engine(url).dispose()
