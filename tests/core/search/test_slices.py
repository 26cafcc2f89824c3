"""SQLite searches of a large index run in slices on several connections: same results as on one connection."""

from __future__ import annotations

import threading
from contextlib import ExitStack

import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as SATimeoutError

from openzone import migrate
from openzone.core import search
from openzone.core.search import Document, service
from openzone.db import READERS, get_engine, reading, transaction

REGIONS = ("北京", "天津", "河北")
WORDS = ("停车场", "收费", "管理", "冷库", "农业", "银行", "养老", "护理", "消防", "耐火等级", "遥感", "土壤")


def _doc(i: int) -> Document:
    # A deterministic mix: every document holds a few of the words, some many times, so that scores differ and tie.
    words = [WORDS[(i * k) % len(WORDS)] for k in (1, 3, 7)]
    body = "，".join(words * (1 + i % 3)) + f"，第{i}号"
    return Document(key=f"d{i:04d}", fields={"number": f"DB11/T {3000 + i % 50}—2019", "title": words[0] + "规范",
                                             "body": body},
                    filters={"region": REGIONS[i % 3], "status": "现行" if i % 4 else "废止"})


@pytest.fixture(scope="module")
def sliced_url(tmp_path_factory, database):
    """A SQLite file database holding 600 committed documents of the test index."""
    url = f"sqlite:///{tmp_path_factory.mktemp('slices') / 'slices.db'}"
    migrate.upgrade(url)
    with transaction(url) as session:
        search.index_documents(session, index="testdocs", docs=[_doc(i) for i in range(600)])
    yield url
    get_engine(url).dispose()


def _search(url: str, slices: int, monkeypatch, **kw) -> search.Results:
    monkeypatch.setattr(service.get_settings(), "search_slices", slices)
    with transaction(url) as session:
        return search.search(session, index="testdocs", **kw)


QUERIES = [
    {"query": "管理"},
    {"query": "管理", "page": 3},
    {"query": "管理", "per_page": 7, "page": 5},
    {"query": "管理 收费"},
    {"query": "管理 -农业"},
    {"query": "耐火等级 region=天津"},
    {"query": "管理", "filters": {"status": "现行"}},
    {"query": '"耐火等级"'},
    {"query": '管理 -"农业银行"'},  # an excluded phrase: checked on search_document's text, joined
    {"query": "停车场 不存在的词"},  # no document holds both: ranked by either
    {"query": "db11t 3007"},  # one number: complete matches, then partial ones
    {"query": "养老 护理 消防 遥感 土壤"},
]


@pytest.mark.parametrize("kw", QUERIES, ids=[str(q) for q in QUERIES])
def test_slices_give_the_same_results_as_one_connection(sliced_url, monkeypatch, kw):
    monkeypatch.setattr(service, "SLICE_MIN_DOCS", 0)
    monkeypatch.setattr(service, "SLICE_MIN_MATCHES", 0)
    executed: list[str] = []

    def count_apart(*args):
        executed.append(threading.current_thread().name)
        return run_apart(*args)

    run_apart = service._run_apart
    monkeypatch.setattr(service, "_run_apart", count_apart)
    one = _search(sliced_url, 1, monkeypatch, **kw)
    assert not executed
    for slices in (2, 3):
        many = _search(sliced_url, slices, monkeypatch, **kw)
        assert executed and all(name.startswith("search-slice") for name in executed)
        executed.clear()
        assert (many.total, many.partial, many.mode) == (one.total, one.partial, one.mode)
        assert [(h.key, round(h.score, 9), h.complete) for h in many.hits] == \
            [(h.key, round(h.score, 9), h.complete) for h in one.hits]
        assert many.facets == one.facets
    assert one.hits  # every query above finds something


def test_a_slice_that_fails_beside_the_caller_runs_on_its_connection(sliced_url, monkeypatch):
    monkeypatch.setattr(service, "SLICE_MIN_DOCS", 0)
    monkeypatch.setattr(service, "SLICE_MIN_MATCHES", 0)
    one = _search(sliced_url, 1, monkeypatch, query="管理", page=2)
    failed = []
    run_apart = service._run_apart

    def watched(*args):
        try:
            return run_apart(*args)
        except SATimeoutError:
            failed.append(args)
            raise

    monkeypatch.setattr(service, "_run_apart", watched)
    # Every real side connection is taken: each slice beside the caller is refused and runs on its connection.
    with ExitStack() as taken:
        for _ in range(READERS):
            taken.enter_context(reading(get_engine(sliced_url)))
        many = _search(sliced_url, 3, monkeypatch, query="管理", page=2)
    assert len(failed) == 2
    assert (many.total, [h.key for h in many.hits], many.facets) == (one.total, [h.key for h in one.hits], one.facets)


def test_side_connections_come_from_a_pool_of_their_own(sliced_url):
    engine = get_engine(sliced_url)
    with ExitStack() as taken:
        side = [taken.enter_context(reading(engine)) for _ in range(READERS)]
        assert all(conn.engine is side[0].engine is not engine for conn in side)
        # Every side connection is taken: the next is refused at once instead of waiting.
        with pytest.raises(SATimeoutError), reading(engine):
            pass
    with reading(engine) as again:  # given back
        assert again.execute(text("SELECT 1")).scalar() == 1


def test_a_small_index_or_few_matches_stay_on_one_connection(sliced_url, monkeypatch):
    called = []
    run_slices = service._run_slices

    def watched(*args):
        called.append(args)
        return run_slices(*args)

    monkeypatch.setattr(service, "_run_slices", watched)
    _search(sliced_url, 2, monkeypatch, query="管理")  # 600 documents: below SLICE_MIN_DOCS
    monkeypatch.setattr(service, "SLICE_MIN_DOCS", 0)
    _search(sliced_url, 2, monkeypatch, query="管理")  # a few hundred matches: below SLICE_MIN_MATCHES
    assert not called


def test_a_transaction_that_wrote_to_the_index_searches_its_own_writes(sliced_url, monkeypatch):
    monkeypatch.setattr(service, "SLICE_MIN_DOCS", 0)
    monkeypatch.setattr(service, "SLICE_MIN_MATCHES", 0)
    monkeypatch.setattr(service.get_settings(), "search_slices", 2)
    before = _search_total(sliced_url)
    with pytest.raises(LookupError), transaction(sliced_url) as session:  # rolled back: the database stays as it was
        search.index_document(session, index="testdocs", doc=Document(key="fresh", fields={"title": "独角兽管理规范"}))
        found = search.search(session, index="testdocs", query="独角兽")
        assert [h.key for h in found.hits] == ["fresh"]
        assert search.search(session, index="testdocs", query="管理").total == before + 1
        raise LookupError


def _search_total(url: str) -> int:
    with transaction(url) as session:
        return search.search(session, index="testdocs", query="管理").total


def test_a_reading_connection_reads_beside_a_writer(sliced_url):
    # The slices' connections must not wait for the write lock that the caller's own transaction holds.
    with transaction(sliced_url) as writer:
        writer.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is held until the end of the block
        with reading(get_engine(sliced_url)) as conn:
            assert conn.execute(text("SELECT count(*) FROM search_document")).scalar() == 600
