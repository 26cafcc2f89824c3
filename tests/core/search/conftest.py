"""Fixtures for search: a test index, and a rolled-back session per backend (each on a real database)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from openzone import migrate
from openzone.core import search
from openzone.core.search import Document, Field, IndexSpec, Weight
from openzone.db import get_engine
from tests.conftest import IS_POSTGRES

# The backend of the suite's database always runs; a PostgreSQL run also exercises FTS5 on a real SQLite file.
BACKENDS = ["postgresql", "sqlite"] if IS_POSTGRES else ["sqlite"]

DOCS: dict[str, Document] = {}


def _load_all(_session):
    return list(DOCS.values())


def _load_one(_session, key):
    return DOCS.get(key)


TEST_INDEX = search.register_index(IndexSpec(
    name="testdocs",
    fields=(Field("number", Weight.CODE), Field("title", Weight.TITLE, pinyin=True), Field("keywords", Weight.KEYWORDS),
            Field("scope", Weight.SCOPE), Field("body", Weight.BODY)),
    filters=("region", "status"),
    facets=("region", "status"),
    load_all=_load_all,
    load_one=_load_one,
))


@pytest.fixture(scope="session")
def scratch_sqlite_url(tmp_path_factory):
    """Migrate a scratch SQLite database for the FTS5 backend in a PostgreSQL run."""
    url = f"sqlite:///{tmp_path_factory.mktemp('search') / 'search.db'}"
    migrate.upgrade(url)
    yield url
    get_engine(url).dispose()


@pytest.fixture(params=BACKENDS)
def backend_session(request, database):
    """Give a rolled-back session on the database of one backend."""
    url = request.getfixturevalue("scratch_sqlite_url") if request.param == "sqlite" and IS_POSTGRES else None
    connection = get_engine(url).connect()
    outer = connection.begin()
    sess = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield sess
    finally:
        sess.close()
        outer.rollback()
        connection.close()


def add(session, key: str, **fields) -> Document:
    """Index a test document with the given fields and filters (region=…, status=…)."""
    filters = {k: fields.pop(k) for k in ("region", "status") if k in fields}
    doc = Document(key=key, fields=fields, filters=filters)
    search.index_document(session, index="testdocs", doc=doc)
    return doc


def keys(results) -> list[str]:
    """Return the keys of a page of results."""
    return [hit.key for hit in results.hits]
