"""Measure Chinese search: query latency at 10,000 and 100,000 documents, indexing throughput, and relevance.

Usage: .venv/bin/python benchmarks/search_bench.py [--quick] [--runs 3] [--sizes 10000,100000] [--repeats 20]
       [--relevance 1104,2000,2000] [--no-latency] [--no-relevance] [--database-url URL] [--json FILE]

Documents. The real data sets give 11,818 documents: 2,000 CSL papers (title, keywords, abstract), 8,000 CSL titles,
1,104 CMRC 2018 passages, 712 building-code clauses, and the two verified regional standards DB11/T 3022—2019 and
DB12/T 3022—2019 (title only; domain-rules §8). Past those, a generator seeded with --seed makes documents by
recombining real text: a real title, three real keywords and three to eight real sentences drawn from the abstracts,
passages and clauses, with a made-up standard number (DB11/T, DB12/T or DB13/T) on one document in three. The
documents past the first 11,818 are therefore not real documents, only real sentences in new combinations.

Latency. One fresh database migrated to head (a new SQLite file, or a new database on the PostgreSQL server named by
--database-url / OPENZONE_DATABASE_URL) is filled through search.index_documents, --batch documents per committed
transaction; indexing 100,000 documents takes several minutes, so the database is built once per invocation, not once
per run. When the index holds each size, --runs passes each run every query of QUERIES once to warm up, then
--repeats times, as a page would run it: a new transaction around search.search(..., per_page=10, facets=True).
Figures are medians over the passes; p50 and p95 pool every query but the natural-language question, which is
reported on its own (the target names two-word, code, pinyin, phrase, exclusion and filtered queries). At the first
size the whole index is also rebuilt once with search.reindex.

Relevance. recall@10 and MRR of search.search against a character-LIKE baseline and a single-character FTS baseline
(tests/core/search/relevance.py, the code the suite's relevance test uses), on CMRC passages with one question each
and CSL papers with their first keyword as the query. On PostgreSQL the same set is also measured on a fresh SQLite
file, so one run gives both backends' recall@10 and the gap between them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks` and `tests` as packages

from sqlalchemy import text
from tests.core.search import relevance

from benchmarks.ledger_bench import Databases, _quantile
from openzone.core import search
from openzone.core.search import Document, Field, IndexSpec, Weight
from openzone.db import reset_engines, transaction

DATA = relevance.DATA
INDEX = "bench"
QUICK_SIZES = (2_000, 5_000)
DEFAULT_SIZES = (10_000, 100_000)
FULL_RELEVANCE = (1_104, 2_000, 2_000)  # every CMRC passage, every CSL paper, a keyword query for each paper
QUICK_RELEVANCE = (100, 200, 50)

# (kind, query, filters): what people type into a standards or literature search.
QUESTION = "《战国无双3》是由哪两个公司合作开发的？"
QUERIES: tuple[tuple[str, str, dict[str, str] | None], ...] = (
    ("two words", "水资源 管理", None),
    ("two words", "神经网络 预测", None),
    ("two words", "土壤 遥感", None),
    ("two words", "防火墙 耐火极限", None),
    ("code", "DB11/T 3022-2019", None),
    ("code", "db11t 3022", None),
    ("pinyin", "tingchechang", None),
    ("pinyin", "shenjingwangluo", None),
    ("phrase", '"耐火等级"', None),
    ("phrase", '"历史文化" 保护', None),
    ("exclusion", "农业 -经济", None),
    ("filtered", "管理 category=工学", None),
    ("filtered", "预测 模型", {"source": "csl"}),
    ("question", QUESTION, None),
)

_RELOAD: list[Document] = []  # what reindex loads: the documents the index holds at the first size
search.register_index(IndexSpec(
    name=INDEX,
    fields=(Field("number", Weight.CODE), Field("title", Weight.TITLE, pinyin=True), Field("keywords", Weight.KEYWORDS),
            Field("body", Weight.BODY)),
    filters=("source", "category"),
    facets=("source", "category"),
    load_all=lambda _session: iter(_RELOAD),
))

_SENTENCE_END = re.compile(r"(?<=[。！？；])")


def _jsonl(path: Path) -> list[dict]:
    with path.open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


def real_documents() -> list[Document]:
    """Return the real documents: verified standards, CSL papers and titles, CMRC passages, building-code clauses."""
    docs = [Document(key=f"std-{n}", fields={"number": f"{n}/T 3022—2019", "title": "停车场电子不停车收费系统应用技术要求"},
                     filters={"source": "standard"}) for n in ("DB11", "DB12")]
    for p in _jsonl(DATA / "csl_chinese_papers" / "csl_papers_2000.jsonl"):
        docs.append(Document(key=p["id"], fields={"title": p["title"], "keywords": "；".join(p["keywords"]),
                                                  "body": p["abstract"]},
                             filters={"source": "csl", "category": p["category"]}))
    with (DATA / "csl_chinese_papers" / "csl_titles_8000.tsv").open() as fh:
        next(fh)
        for line in fh:
            key, title, category = line.rstrip("\n").split("\t")
            docs.append(Document(key=key, fields={"title": title}, filters={"source": "csl", "category": category}))
    for p in _jsonl(DATA / "cmrc2018_retrieval" / "corpus.jsonl"):
        docs.append(Document(key=p["doc_id"], fields={"title": p["title"], "body": p["text"]}, filters={"source": "cmrc"}))
    for c in json.loads((DATA / "building_code_clauses" / "fire_code_sentences_labeled.json").read_text()):
        docs.append(Document(key=f"clause-{c['text_id']}", fields={"body": c["text"]}, filters={"source": "clause"}))
    with (DATA / "building_code_clauses" / "GB50016_chapter3_clauses_classified.txt").open() as fh:
        for i, line in enumerate(fh):
            clause = re.sub(r"^\[\d+\]", "", line.strip())
            if clause:
                docs.append(Document(key=f"gb50016-{i}", fields={"body": clause}, filters={"source": "clause"}))
    return docs


def generated_documents(real: list[Document], seed: int) -> Iterator[Document]:
    """Yield documents without end, each recombining real titles, keywords and sentences (seeded, so repeatable)."""
    rng = random.Random(seed)
    titled = [d for d in real if d.fields.get("title") and d.filters.get("category")]
    keywords = sorted({k for d in real for k in d.fields.get("keywords", "").split("；") if k})
    sentences = [s.strip() for d in real for s in _SENTENCE_END.split(d.fields.get("body", "")) if len(s.strip()) >= 8]
    i = 0
    while True:
        source = rng.choice(titled)
        fields = {"title": source.fields["title"], "keywords": "；".join(rng.sample(keywords, 3)),
                  "body": "".join(rng.sample(sentences, rng.randint(3, 8)))}
        if rng.random() < 1 / 3:
            fields["number"] = f"DB1{rng.randint(1, 3)}/T {rng.randint(1000, 3999)}—{rng.randint(2005, 2025)}"
        yield Document(key=f"gen-{i:06d}", fields=fields, filters={"source": "generated", **source.filters})
        i += 1


def document_stream(real: list[Document], seed: int) -> Iterator[Document]:
    """Yield the two standards, the other real documents in a seeded shuffle, then generated ones."""
    # The shuffle puts every source in the first 10,000 documents.
    rest = real[2:]
    random.Random(seed).shuffle(rest)
    yield from real[:2]
    yield from rest
    yield from generated_documents(real, seed)


def index_batches(docs: Iterator[Document], count: int, batch: int) -> float:
    """Index count documents from the stream, committing every batch; return documents per second."""
    start = time.perf_counter()
    done = 0
    while done < count:
        n = min(batch, count - done)
        with transaction() as session:
            search.index_documents(session, index=INDEX, docs=(next(docs) for _ in range(n)))
        done += n
    return count / (time.perf_counter() - start)


def time_queries(repeats: int) -> dict[str, object]:
    """Run every query once to warm up, then repeats times; return latency quantiles and what each query found."""
    # The p50 and p95 leave out the natural-language question: the target names two-word, code, pinyin,
    # phrase, exclusion and filtered queries, and a question of a dozen words ranks every document holding any of
    # them. It is reported on its own line.
    every: list[float] = []
    per_query: dict[str, dict[str, object]] = {}
    for kind, query, filters in QUERIES:
        times = []
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            with transaction() as session:
                results = search.search(session, index=INDEX, query=query, filters=filters, per_page=10, facets=True)
            if i:
                times.append((time.perf_counter() - t0) * 1000)
        if kind != "question":
            every += times
        per_query[query] = {"kind": kind, "p50_ms": statistics.median(times), "p95_ms": _quantile(times, 0.95),
                            "times_ms": [round(t, 2) for t in times],
                            "mode": results.mode, "total": results.total, "partial": results.partial,
                            "top": [h.key for h in results.hits[:3]]}
    return {"p50_ms": statistics.median(every), "p95_ms": _quantile(every, 0.95), "queries": per_query}


def latency_run(dbs: Databases, sizes: tuple[int, ...], real: list[Document], args, runs: int) -> dict[int, dict]:
    """Fill one fresh database up to each size in turn, timing indexing, runs passes of the queries, and one reindex."""
    dbs.fresh()
    docs = document_stream(real, args.seed)
    out: dict[int, dict] = {}
    held = 0
    for n in sizes:
        rate = index_batches(docs, n - held, args.batch)
        held = n
        if dbs.dialect == "postgresql":
            # A server's autovacuum analyses a table after a bulk load on its own, some time later; queries planned
            # before that, without statistics, scan every row (measured: 130 ms instead of 1 ms at 10,000).
            with transaction() as session:
                session.execute(text("ANALYZE search_document"))
                session.execute(text("ANALYZE search_filter_value"))
        out[n] = {"index_per_s": rate, "passes": [time_queries(args.repeats) for _ in range(runs)]}
        if n == sizes[0]:
            stream = document_stream(real, args.seed)
            _RELOAD[:] = [next(stream) for _ in range(n)]
            start = time.perf_counter()
            with transaction() as session:
                count = search.reindex(session, index=INDEX)
            out[n]["reindex_per_s"] = count / (time.perf_counter() - start)
            _RELOAD.clear()
    return out


def relevance_run(dbs: Databases, sizes: tuple[int, int, int]) -> dict[str, object]:
    """Measure recall@10 and MRR for ours and both baselines on a fresh database of the given kind."""
    dbs.fresh()
    rel = relevance.load(cmrc_passages=sizes[0], csl_papers=sizes[1], csl_queries=sizes[2])
    start = time.perf_counter()
    with transaction() as session:
        relevance.index_all(session, rel.docs)
        char = relevance.CharFts(session, rel.docs)
        scores = {"ours": relevance.measure(rel, lambda q: relevance.ours(session, q)),
                  "like": relevance.measure(rel, lambda q: relevance.like_baseline(session, q)),
                  "char": relevance.measure(rel, char.top10)}
        char.drop()
    return {"database": dbs.dialect, "documents": len(rel.docs), "queries": len(rel.queries),
            "seconds": time.perf_counter() - start,
            **{name: {"recall_at_10": s.recall_at_10, "mrr": s.mrr} for name, s in scores.items()}}


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the benchmark and print (and optionally save) its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and sets, one run: checks the script works")
    parser.add_argument("--runs", type=int, default=3, help="timed passes over the queries at each size")
    parser.add_argument("--sizes", default=None, help="comma-separated document counts, ascending")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs of each query at each size")
    parser.add_argument("--batch", type=int, default=500, help="documents per indexing transaction")
    parser.add_argument("--seed", type=int, default=7, help="seed of the document generator")
    parser.add_argument("--relevance", default=None, help="CMRC passages, CSL papers, CSL keyword queries")
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--no-relevance", action="store_true")
    parser.add_argument("--database-url", default=os.environ.get("OPENZONE_DATABASE_URL"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    runs = 1 if args.quick else args.runs
    args.repeats = args.repeats or (3 if args.quick else 20)
    rel_sizes = (tuple(int(s) for s in args.relevance.split(",")) if args.relevance
                 else (QUICK_RELEVANCE if args.quick else FULL_RELEVANCE))
    base_url = args.database_url if args.database_url and not args.database_url.startswith("sqlite") else None

    uname = platform.uname()
    out: dict[str, object] = {"machine": f"{os.cpu_count()} cpus, {uname.system} {uname.release} {uname.machine}, "
                                         f"Python {platform.python_version()}",
                              "settings": {"runs": runs, "repeats": args.repeats, "batch": args.batch, "seed": args.seed,
                                           "sizes": sizes, "relevance": rel_sizes},
                              "load_before": os.getloadavg()}

    def say(msg: str) -> None:
        print(msg, flush=True)

    real = real_documents()
    say(f"documents: {len(real):,} real (CSL, CMRC 2018, building-code clauses, 2 verified standards); beyond that, "
        f"generated by recombining real titles, keywords and sentences (seed {args.seed}), with made-up numbers")
    with tempfile.TemporaryDirectory(prefix="openzone-search-bench-") as tmp:
        workdir = Path(tmp)
        os.environ["OPENZONE_VAR_DIR"] = str(workdir / "var")
        dbs = Databases(base_url, workdir)
        dbs.fresh()
        out["database"] = {"dialect": dbs.dialect, **dbs.settings()}
        with transaction() as session:
            if dbs.dialect == "sqlite":
                out["database"]["sqlite_version"] = session.execute(text("SELECT sqlite_version()")).scalar()
        say(f"database: {out['database']}")
        search.analyse("预热分词词典")  # jieba loads its dictionary once per process; keep that out of the clocks
        if not args.no_latency:
            latency = latency_run(dbs, sizes, real, args, runs)
            for n, row in latency.items():
                passes = row["passes"]
                row["p50_ms"] = statistics.median(p["p50_ms"] for p in passes)
                row["p95_ms"] = statistics.median(p["p95_ms"] for p in passes)
                say(f"{n:>7,} documents: query p50 {row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms "
                    f"(passes: p50 {[round(p['p50_ms'], 1) for p in passes]}, p95 {[round(p['p95_ms'], 1) for p in passes]}); "
                    f"indexing {row['index_per_s']:,.0f} docs/s"
                    + (f"; reindex {row['reindex_per_s']:,.0f} docs/s" if "reindex_per_s" in row else ""))
                for query, q in passes[-1]["queries"].items():
                    say(f"    {q['kind']:<9} {query:<22} p50 {q['p50_ms']:6.1f} ms  p95 {q['p95_ms']:6.1f} ms  "
                        f"{q['mode']:<9} total {q['total']:>6,}  partial {q['partial']}  top {q['top']}")
            out["latency"] = latency
            if dbs.dialect == "sqlite" and max(sizes) >= 100_000:
                p95 = latency[max(sizes)]["p95_ms"]
                out["target_p95_20ms_at_100k_sqlite"] = p95 <= 20
                say(f"target p95 <= 20 ms at {max(sizes):,} on SQLite: {'MET' if p95 <= 20 else 'MISSED'} ({p95:.1f} ms)")
        if not args.no_relevance:
            rel = {dbs.dialect: relevance_run(dbs, rel_sizes)}
            if dbs.dialect == "postgresql":
                rel["sqlite"] = relevance_run(Databases(None, workdir), rel_sizes)
                rel["recall_gap_sqlite_minus_postgresql"] = round(
                    rel["sqlite"]["ours"]["recall_at_10"] - rel["postgresql"]["ours"]["recall_at_10"], 4)
            for name, r in rel.items():
                say(f"relevance {name}: {r}")
            out["relevance"] = rel
        reset_engines()
    out["load_after"] = os.getloadavg()
    say(f"load average (1, 5, 15 min) at the start {out['load_before']}, at the end {out['load_after']}; "
        "the machine is shared with other workers")
    if args.json is not None:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str))
    return out


if __name__ == "__main__":
    main()
