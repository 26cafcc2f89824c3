"""Search behaviours, each on every backend the run can reach (SQLite FTS5 always, PostgreSQL on a PostgreSQL run)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from openzone.core import jobs, search
from openzone.core.search import Document, service
from tests.core.search.conftest import DOCS, add, keys


def find(session, query, **kw):
    return search.search(session, index="testdocs", query=query, **kw)


def test_a_word_inside_a_longer_word_is_found(backend_session):
    add(backend_session, "bank", title="中国农业发展银行信贷管理办法")
    add(backend_session, "todo", title="待处理事项登记规范")
    assert keys(find(backend_session, "农业")) == ["bank"]
    assert keys(find(backend_session, "处理")) == ["todo"]


def test_traditional_and_simplified_find_each_other(backend_session):
    add(backend_session, "trad", title="停車場電子不停車收費系統應用技術要求")
    add(backend_session, "simp", title="农业发展银行")
    assert keys(find(backend_session, "停车场 收费")) == ["trad"]
    assert keys(find(backend_session, "農業發展")) == ["simp"]


def test_full_width_input_is_found(backend_session):
    add(backend_session, "fw", title="ＩＳＯ９００１质量管理体系")
    assert keys(find(backend_session, "iso9001")) == ["fw"]
    assert keys(find(backend_session, "ＩＳＯ ９００１")) == ["fw"]


@pytest.mark.parametrize("query", ["DB11/T 3022—2019", "DB11/T3022-2019", "db11t 3022", "3022-2019", "db11t3022"])
def test_a_standard_number_is_found_however_it_is_typed(backend_session, query):
    add(backend_session, "etc", number="DB11/T 3022—2019", title="停车场电子不停车收费系统应用技术要求")
    add(backend_session, "other", number="DB12/T 3023—2019", title="老年护理常见风险防控要求", body="参照 2019 年 3022 号通知")
    results = find(backend_session, query)
    assert keys(results)[0] == "etc"
    assert "<mark>" in results.hits[0].highlights["number"]


@pytest.mark.parametrize("query", ["tingchechang", "tcc", "TingCheChang"])
def test_pinyin_and_initials_find_a_title(backend_session, query):
    add(backend_session, "park", title="停车场管理规范")
    add(backend_session, "care", title="老年护理服务规范")
    assert keys(find(backend_session, query)) == ["park"]


def test_fields_rank_code_over_title_over_keywords_over_scope_over_body(backend_session):
    add(backend_session, "in-body", title="其他一", body="关于冷库建设的一般说明和冷库以外的若干事项")
    add(backend_session, "in-scope", title="其他二", scope="本标准适用于冷库")
    add(backend_session, "in-keywords", title="其他三", keywords="冷库；冷链；物流")
    add(backend_session, "in-title", title="冷库技术规范")
    add(backend_session, "in-code", number="LK 冷库", title="其他五")
    assert keys(find(backend_session, "冷库")) == ["in-code", "in-title", "in-keywords", "in-scope", "in-body"]


def test_an_exact_number_outranks_a_title_that_mentions_it(backend_session):
    add(backend_session, "mention", title="关于 DB11/T 3022-2019 的实施说明")
    add(backend_session, "exact", number="DB11/T 3022—2019", title="停车场电子不停车收费系统应用技术要求")
    assert keys(find(backend_session, "DB11/T 3022-2019")) == ["exact", "mention"]


def test_a_phrase_needs_its_words_together(backend_session):
    add(backend_session, "together", title="电子不停车收费系统")
    add(backend_session, "apart", title="电子围栏与不停车检测")
    assert sorted(keys(find(backend_session, "电子 不停车"))) == ["apart", "together"]
    assert keys(find(backend_session, '"电子不停车"')) == ["together"]
    assert keys(find(backend_session, "“电子 不停车”")) == ["together"]


def test_excluded_words_and_phrases_remove_results(backend_session):
    add(backend_session, "bank", title="中国农业发展银行")
    add(backend_session, "std", title="农业标准化示范区")
    assert keys(find(backend_session, "农业 -银行")) == ["std"]
    assert keys(find(backend_session, '农业 -"示范区"')) == ["bank"]


def test_filters_narrow_and_facets_count_the_whole_result(backend_session):
    for i, region in enumerate(["北京", "北京", "天津", "河北"]):
        add(backend_session, f"r{i}", title=f"冷链物流标准{i}", region=region, status="现行" if i else "废止")
    results = find(backend_session, "冷链")
    assert results.total == 4
    assert results.facets["region"] == [("北京", 2), ("天津", 1), ("河北", 1)]
    assert results.facets["status"] == [("现行", 3), ("废止", 1)]
    assert sorted(keys(find(backend_session, "冷链 region=北京"))) == ["r0", "r1"]
    assert sorted(keys(find(backend_session, "冷链", filters={"region": ["天津", "河北"]}))) == ["r2", "r3"]
    assert keys(find(backend_session, "冷链 region=北京 status=废止")) == ["r0"]


def test_filters_alone_browse_the_index(backend_session):
    add(backend_session, "b1", title="甲", region="北京")
    add(backend_session, "t1", title="乙", region="天津")
    results = find(backend_session, "region=天津")
    assert results.mode == "browse"
    assert keys(results) == ["t1"]


def test_pages_do_not_overlap_and_count_the_total(backend_session):
    for i in range(25):
        add(backend_session, f"p{i:02d}", title="标准化工作导则", body="标准化" * (i % 5 + 1))
    pages = [find(backend_session, "标准化", page=n, per_page=10) for n in (1, 2, 3)]
    assert [p.total for p in pages] == [25, 25, 25]
    assert [len(p.hits) for p in pages] == [10, 10, 5]
    seen = [k for p in pages for k in keys(p)]
    assert len(set(seen)) == 25
    assert find(backend_session, "标准化", page=4, per_page=10).hits == []


def test_snippets_are_escaped_html_with_marks(backend_session):
    body = "前言" * 100 + "<script>alert(1)</script>停車場收费规则" + "附录" * 100
    add(backend_session, "x", title="停车场收费", body=body)
    hit = find(backend_session, "停车场").hits[0]
    assert "<script>" not in hit.highlights["body"]
    assert "&lt;script&gt;" in hit.highlights["body"]
    assert "<mark>停車場</mark>" in hit.highlights["body"]
    assert hit.highlights["body"].startswith("…") and hit.highlights["body"].endswith("…")
    assert hit.highlights["title"] == "<mark>停车场</mark>收费"


def test_a_question_whose_words_no_document_holds_together_ranks_partial_matches(backend_session):
    add(backend_session, "game", title="战国无双3", body="由光荣和ω-force开发的战国无双系列第三作")
    add(backend_session, "other", title="冷库技术规范", body="冷库的设计")
    results = find(backend_session, "《战国无双3》是由哪两个公司合作开发的？")
    assert results.mode == "any"
    assert keys(results)[0] == "game"


def test_documents_with_some_words_fill_the_page_after_those_with_every_word(backend_session):
    add(backend_session, "both", title="冷库物流规范")
    add(backend_session, "cold", title="冷库设计规范")
    add(backend_session, "logistics", title="冷链物流指南")
    add(backend_session, "neither", title="老年护理服务规范")
    results = find(backend_session, "冷库 物流")
    assert results.mode == "all"
    assert results.total == 1
    assert results.partial == 2
    assert keys(results)[0] == "both"
    assert sorted(keys(results)[1:]) == ["cold", "logistics"]
    assert [hit.complete for hit in results.hits] == [True, False, False]
    assert all("<mark>" in hit.highlights["title"] for hit in results.hits)


def test_partial_matches_page_on_after_the_complete_ones_outside_the_total_and_facets(backend_session):
    for i in range(3):
        add(backend_session, f"a{i}", title=f"冷库物流规范{i}", region="北京")
    for i in range(5):
        add(backend_session, f"p{i}", title=f"冷库设计规范{i}", region="天津")
    pages = [find(backend_session, "冷库 物流", page=n, per_page=2) for n in (1, 2, 3, 4, 5)]
    assert [p.total for p in pages] == [3] * 5
    assert [p.partial for p in pages] == [None, 5, 5, 5, 5]
    assert [[h.complete for h in p.hits] for p in pages] == [[True, True], [True, False], [False, False], [False, False], []]
    seen = [k for p in pages for k in keys(p)]
    assert sorted(seen) == ["a0", "a1", "a2", "p0", "p1", "p2", "p3", "p4"]
    assert pages[0].facets["region"] == [("北京", 3)]
    assert pages[1].facets["region"] == [("北京", 3)]


def test_partial_matches_obey_exclusions_phrases_and_filters(backend_session):
    add(backend_session, "both", title="冷库物流规范", region="北京")
    add(backend_session, "cold-bj", title="冷库设计规范", region="北京")
    add(backend_session, "cold-tj", title="冷库施工规范", region="天津")
    add(backend_session, "cold-care", title="冷库护理规范", region="北京")
    assert keys(find(backend_session, "冷库 物流 -护理 region=北京")) == ["both", "cold-bj"]
    assert keys(find(backend_session, '冷库 物流 "设计"')) == ["cold-bj"]
    results = find(backend_session, '冷库 物流 "设计"')
    assert (results.mode, results.total, results.partial) == ("any", 1, None)


def test_a_common_word_alone_does_not_make_a_partial_match_but_still_ranks(backend_session, monkeypatch):
    # Lucene's common-terms rule with the cut-off lowered from 1,000 documents to 3 for a small index.
    monkeypatch.setattr(service, "COMMON_DOCS", 3)
    add(backend_session, "all", title="冷库物流设计规范")
    for i in range(4):
        add(backend_session, f"common{i}", title=f"物流园区规划{i}")
    add(backend_session, "rare", title="冷库施工规范")
    add(backend_session, "rare-and-common", title="冷库施工物流规范")
    for i in range(8):  # most documents hold neither word, as in any real index
        add(backend_session, f"other{i}", title=f"老年护理服务规范{i}")
    results = find(backend_session, "冷库 物流 设计")
    assert (results.mode, results.total, results.partial) == ("all", 1, 2)
    # Partial matches hold a rare word; the common word lifts the one that has it too, and selects none alone.
    assert keys(results) == ["all", "rare-and-common", "rare"]
    # No document holds both words: those with the rare one are ranked, the common word alone selects none.
    results = find(backend_session, "冷库 园区")
    assert (results.mode, sorted(keys(results))) == ("any", ["all", "rare", "rare-and-common"])
    # Every word common: complete matches only; with none, every word selects.
    monkeypatch.setattr(service, "COMMON_DOCS", 0)
    results = find(backend_session, "冷库 物流 设计")
    assert (keys(results), results.partial) == (["all"], 0)
    assert find(backend_session, "冷库 园区").total == 7


def test_facet_counts_follow_updates_removals_and_a_cleared_index(backend_session):
    add(backend_session, "a", title="冷库规范", region="北京", status="现行")
    add(backend_session, "b", title="冷库规范", region="天津", status="现行")
    add(backend_session, "a", title="冷库规范", region="河北", status="废止")
    facets = find(backend_session, "冷库").facets
    assert facets == {"region": [("天津", 1), ("河北", 1)], "status": [("废止", 1), ("现行", 1)]}
    search.remove_document(backend_session, index="testdocs", key="b")
    assert find(backend_session, "冷库").facets == {"region": [("河北", 1)], "status": [("废止", 1)]}
    search.clear_index(backend_session, index="testdocs")
    add(backend_session, "c", title="冷库规范")
    assert find(backend_session, "冷库").facets == {"region": [], "status": []}


def test_a_fragment_across_word_boundaries_is_found_as_a_substring(backend_session):
    add(backend_session, "etc", title="电子不停车收费系统")
    results = find(backend_session, "车收")
    assert results.mode == "substring"
    assert keys(results) == ["etc"]


def test_updating_and_removing_a_document_change_the_results(backend_session):
    add(backend_session, "d", title="冷库技术规范")
    add(backend_session, "d", title="冷链物流规范")
    assert keys(find(backend_session, "冷库")) == []
    assert keys(find(backend_session, "冷链")) == ["d"]
    assert search.remove_document(backend_session, index="testdocs", key="d")
    assert keys(find(backend_session, "冷链")) == []
    assert not search.remove_document(backend_session, index="testdocs", key="d")


def test_indexing_belongs_to_the_writing_transaction(backend_session):
    add(backend_session, "kept", title="冷链物流规范")
    nested = backend_session.begin_nested()
    add(backend_session, "undone", title="冷链仓储规范")
    assert sorted(keys(find(backend_session, "冷链"))) == ["kept", "undone"]
    nested.rollback()
    assert keys(find(backend_session, "冷链")) == ["kept"]


def test_reindex_rebuilds_from_the_loader(backend_session):
    add(backend_session, "stale", title="冷链旧文档")
    DOCS.clear()
    DOCS.update({f"k{i}": Document(key=f"k{i}", fields={"title": f"冷链新文档{i}"}, filters={"region": "北京"})
                 for i in range(3)})
    seen = []
    try:
        assert search.reindex(backend_session, index="testdocs", progress=seen.append) == 3
    finally:
        DOCS.clear()
    assert seen == [1, 2, 3]
    assert sorted(keys(find(backend_session, "冷链"))) == ["k0", "k1", "k2"]
    assert search.count_documents(backend_session, index="testdocs") == 3


def test_the_update_job_indexes_and_removes_by_key(backend_session):
    add(backend_session, "gone", title="冷链旧文档")
    DOCS["new"] = Document(key="new", fields={"title": "冷链新文档"})
    try:
        search.enqueue_update(backend_session, index="testdocs", keys=["new", "gone"])
        job = backend_session.scalar(jobs_due(backend_session))
        job.status, job.locked_by = "running", "test-worker"
        assert jobs.run_job(backend_session, job.id, "test-worker")
    finally:
        DOCS.clear()
    assert keys(find(backend_session, "冷链")) == ["new"]


def jobs_due(session):
    from sqlalchemy import select

    from openzone.core.jobs.models import Job

    return select(Job).where(Job.kind == "search.update", Job.status == "pending").order_by(Job.created_at.desc()).limit(1)


@pytest.mark.parametrize(("query", "kwargs", "slug"), [
    ('"停车场', {}, "search-query"),
    ("-银行", {}, "search-query"),
    ("停车" * 200, {}, "search-query"),
    ("colour=red", {}, "search-filter"),
    ("停车", {"filters": {"colour": "red"}}, "search-filter"),
    ("停车", {"per_page": 1000}, "search-query"),
    ("停车", {"page": 0}, "search-query"),
    ("停车", {"page": 2000, "per_page": 10}, "search-query"),
])
def test_bad_queries_are_clear_problems(backend_session, query, kwargs, slug):
    with pytest.raises(search.QuerySyntax.__mro__[1]) as err:
        find(backend_session, query, **kwargs)
    assert err.value.type == slug
    assert err.value.status == 400
    assert err.value.detail and err.value.detail_en


def test_an_unknown_index_is_a_problem(backend_session):
    with pytest.raises(search.UnknownIndex) as err:
        search.search(backend_session, index="nosuch", query="x")
    assert err.value.status == 404


def test_punctuation_and_symbols_in_queries_do_no_harm(backend_session):
    add(backend_session, "a", title="停车场")
    for query in ['停车场 AND OR NOT NEAR * ^ :', "停车场 ' \\ ( ) { }", "停车场 ! & | <->", "😀 停车场"]:
        assert keys(find(backend_session, query)) == ["a"]


def test_a_one_word_phrase_is_exact_whether_or_not_the_word_was_segmented_whole(backend_session):
    # jieba keeps 信息系统 whole in the first text but cuts 机信息 | 系统化 in the second.
    add(backend_session, "word", body="信息系统建设")
    add(backend_session, "split", body="计算机信息系统化改造")
    add(backend_session, "apart", body="信息与系统")
    found = find(backend_session, '"信息系统"')
    assert sorted(keys(found)) == ["split", "word"] and found.total == 2
    # The phrase ranks as the words do: the same documents in the same order.
    words = find(backend_session, "信息系统")
    assert [h.key for h in words.hits if h.key in ("split", "word")] == keys(found)


def test_filter_values_with_any_characters_filter_exactly(backend_session):
    add(backend_session, "a", title="冷链物流", region="北京 = 东城/\"区\"")
    add(backend_session, "b", title="冷链仓储", region="北京")
    add(backend_session, "c", title="冷链配送", region="北京 = 东城")
    assert keys(find(backend_session, "冷链", filters={"region": '北京 = 东城/"区"'})) == ["a"]
    assert sorted(keys(find(backend_session, "冷链", filters={"region": ["北京", "北京 = 东城"]}))) == ["b", "c"]
    assert find(backend_session, "冷链", filters={"region": "北京 ="}).total == 0


def test_indexes_sharing_the_store_never_see_each_others_documents(backend_session):
    other = search.register_index(search.IndexSpec(name="otherdocs", fields=(search.Field("title", search.Weight.TITLE),),
                                                   filters=("region",), facets=("region",)))
    add(backend_session, "mine", title="冷链物流标准", region="北京")
    search.index_document(backend_session, index=other.name,
                          doc=Document(key="theirs", fields={"title": "冷链物流标准"}, filters={"region": "北京"}))
    mine = find(backend_session, "冷链 region=北京")
    assert keys(mine) == ["mine"] and mine.facets["region"] == [("北京", 1)]
    theirs = search.search(backend_session, index=other.name, query='"冷链物流"')
    assert keys(theirs) == ["theirs"]
    search.clear_index(backend_session, index=other.name)
    assert keys(find(backend_session, "冷链")) == ["mine"]


def test_two_index_names_that_would_share_rowids_are_refused():
    import random

    from openzone.core.search import domain

    rng, seen = random.Random(3), {}
    while True:
        name = "x" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8))
        block = domain.fts_rowid_range(name)
        if block in seen and seen[block] != name:
            first, second = seen[block], name
            break
        seen[block] = name
    search.register_index(search.IndexSpec(name=first, fields=(search.Field("title", search.Weight.TITLE),)))
    with pytest.raises(ValueError, match="rowid block"):
        search.register_index(search.IndexSpec(name=second, fields=(search.Field("title", search.Weight.TITLE),)))


def test_bulk_indexing_across_batches_adds_replaces_and_keeps_the_last_version_of_a_key(backend_session):
    from openzone.core.search import service

    docs = [Document(key=f"bulk{i:04d}", fields={"title": f"冷链物流第{i}号"}, filters={"region": "北京"})
            for i in range(service.BATCH + 20)]
    docs.append(Document(key="bulk0000", fields={"title": "冷链仓储"}, filters={"region": "天津"}))
    assert search.index_documents(backend_session, index="testdocs", docs=docs) == len(docs)  # bulk0000 twice
    found = find(backend_session, "冷链")
    assert found.total == service.BATCH + 20
    assert found.facets["region"] == [("北京", service.BATCH + 19), ("天津", 1)]
    again = [Document(key=f"bulk{i:04d}", fields={"title": "冷藏车"}, filters={"region": "河北"}) for i in range(10)]
    search.index_documents(backend_session, index="testdocs", docs=again)
    assert find(backend_session, "冷链").total == service.BATCH + 10
    replaced = find(backend_session, "冷藏车")
    assert replaced.total == 10 and replaced.facets["region"] == [("河北", 10)]
    assert search.count_documents(backend_session, index="testdocs") == service.BATCH + 20


def test_an_analysis_made_ahead_is_used_only_for_the_same_index_and_the_same_field_texts(backend_session):
    fields = {"title": "冷链物流规范"}
    ahead = search.analyse_fields("testdocs", fields)
    assert ahead == search.analyse_fields("testdocs", dict(fields))  # plain data: it crosses to and from workers
    docs = [Document(key="ahead", fields=fields, filters={"region": "北京"}, analysis=ahead)]
    # An analysis of other texts, or made by another index, is ignored: the fields are analysed again.
    stale = search.analyse_fields("testdocs", {"title": "冷藏车技术条件"})
    docs.append(Document(key="stale", fields={"title": "仓储安全规范"}, analysis=stale))
    other = search.FieldAnalysis(index="other", fields={"title": "检验检测"}, columns=stale.columns, folded=stale.folded)
    docs.append(Document(key="other", fields={"title": "检验检测"}, analysis=other))
    search.index_documents(backend_session, index="testdocs", docs=docs)
    assert keys(find(backend_session, "冷链")) == ["ahead"]
    assert keys(find(backend_session, "仓储安全")) == ["stale"]
    assert keys(find(backend_session, "检验检测")) == ["other"]
    assert keys(find(backend_session, "冷藏车")) == []
    # With the same texts it is taken as given: indexing does not analyse them again.
    trusted = search.FieldAnalysis(index="testdocs", fields={"title": "计量器具"}, columns=stale.columns,
                                   folded=stale.folded)
    search.index_documents(backend_session, index="testdocs",
                           docs=[Document(key="trusted", fields={"title": "计量器具"}, analysis=trusted)])
    assert keys(find(backend_session, "冷藏车")) == ["trusted"]
    with pytest.raises(ValueError, match="unknown fields"):
        search.analyse_fields("testdocs", {"nope": "x"})


def test_postgresql_plans_every_search_for_its_own_words(backend_session):
    # psycopg prepares a statement after its fifth run; a generic plan there cannot see how common the words are.
    if backend_session.get_bind().dialect.name != "postgresql":
        pytest.skip("a PostgreSQL planner setting")
    add(backend_session, "bank", title="中国农业发展银行信贷管理办法")
    for _ in range(8):
        assert keys(find(backend_session, "农业")) == ["bank"]
    assert backend_session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
