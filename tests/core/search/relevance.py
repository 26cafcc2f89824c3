"""Build the relevance set from the real data sets and measure recall@10 and MRR for ours and two baselines.

Data (read each SOURCE.md): tests/vectors/cmrc2018_retrieval (CC BY-SA 4.0; Cui et al., EMNLP 2019): a question is
relevant to the passage it was written about; tests/vectors/csl_chinese_papers (Apache-2.0; Li et al., COLING 2022):
a paper is relevant to each of its own keywords. Papers are indexed by title and abstract only, so a keyword query
has to find the paper through its text, not through a copy of the keyword.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from openzone.core import search
from openzone.core.search import Document, Field, IndexSpec, Weight, domain
from openzone.core.search.backends import to_tsvector

# Copies of ../shared/data/cmrc2018_retrieval and csl_chinese_papers (each with its SOURCE.md), so a clean checkout
# runs the suite on its own.
DATA = Path(__file__).resolve().parents[2] / "vectors"
INDEX = "relevance"
search.register_index(IndexSpec(name=INDEX, fields=(Field("title", Weight.TITLE), Field("body", Weight.BODY))))


@dataclass(frozen=True)
class RelevanceSet:
    """Hold documents, queries and the relevant document keys of each query."""

    docs: list[Document]
    queries: list[tuple[str, str]]  # (query id, text)
    relevant: dict[str, set[str]]


def load(cmrc_passages: int, csl_papers: int, csl_queries: int) -> RelevanceSet:
    """Load the first passages and papers and their queries (one question per passage, one keyword per paper)."""
    docs: list[Document] = []
    queries: list[tuple[str, str]] = []
    relevant: dict[str, set[str]] = {}
    with (DATA / "cmrc2018_retrieval" / "corpus.jsonl").open() as fh:
        passages = [json.loads(line) for line, _ in zip(fh, range(cmrc_passages), strict=False)]
    keys = {p["doc_id"] for p in passages}
    docs += [Document(key=p["doc_id"], fields={"title": p["title"], "body": p["text"]}) for p in passages]
    asked: set[str] = set()
    with (DATA / "cmrc2018_retrieval" / "queries.jsonl").open() as fh:
        for line in fh:
            q = json.loads(line)
            doc_id = q["query_id"].rsplit("_QUERY_", 1)[0]
            if doc_id in keys and doc_id not in asked:
                asked.add(doc_id)
                queries.append((q["query_id"], q["text"]))
                relevant[q["query_id"]] = {doc_id}
    with (DATA / "csl_chinese_papers" / "csl_papers_2000.jsonl").open() as fh:
        papers = [json.loads(line) for line, _ in zip(fh, range(csl_papers), strict=False)]
    docs += [Document(key=p["id"], fields={"title": p["title"], "body": p["abstract"]}) for p in papers]
    by_keyword: dict[str, set[str]] = {}
    for p in papers:
        for kw in p["keywords"]:
            by_keyword.setdefault(kw, set()).add(p["id"])
    for p in papers[:csl_queries]:
        kw = p["keywords"][0]
        queries.append((f"{p['id']}-kw", kw))
        relevant[f"{p['id']}-kw"] = by_keyword[kw]
    return RelevanceSet(docs, queries, relevant)


def clean(query: str) -> str:
    """Drop the query language's operators from a natural question (quotes, a leading minus, name=value)."""
    return " ".join(w.lstrip("-") for w in query.replace('"', " ").replace("“", " ").replace("”", " ")
                    .replace("=", " ").split())


def index_all(session: Session, docs: Iterable[Document]) -> None:
    """Index the documents in the caller's transaction."""
    for doc in docs:
        search.index_document(session, index=INDEX, doc=doc)


def ours(session: Session, query: str) -> list[str]:
    """Return our top 10 keys."""
    return [h.key for h in search.search(session, index=INDEX, query=clean(query)[:200], facets=False).hits]


def _chars(query: str) -> list[str]:
    folded = domain.fold(query)
    return list(dict.fromkeys(c for c in folded if c.isalnum() and c not in domain.STOP_WORDS))[:40]


def like_baseline(session: Session, query: str) -> list[str]:
    """Rank by how many of the query's characters a document contains (LIKE), the whole query first."""
    chars = _chars(query)
    if not chars:
        return []
    params = {f"c{i}": f"%{c}%" for i, c in enumerate(chars)}
    params["whole"] = f"%{domain.fold(query)}%"
    score = " + ".join(f"(CASE WHEN folded LIKE :c{i} THEN 1 ELSE 0 END)" for i in range(len(chars)))
    sql = (f"SELECT doc_key FROM search_document WHERE index_name = :ix ORDER BY "
           f"(CASE WHEN folded LIKE :whole THEN 1000 ELSE 0 END) + {score} DESC, doc_key LIMIT 10")
    return list(session.scalars(text(sql), {"ix": INDEX, **params}))


class CharFts:
    """Index every character as a token (FTS5 on SQLite, tsvector on PostgreSQL) and rank any-character matches."""

    def __init__(self, session: Session, docs: Iterable[Document]) -> None:
        self.session = session
        self.pg = session.get_bind().dialect.name == "postgresql"
        rows = [{"k": d.key, "t": " ".join(c for c in domain.fold(" ".join(d.fields.values())) if c.isalnum())}
                for d in docs]
        if self.pg:
            session.execute(text("CREATE TEMP TABLE rel_char (doc_key text, tsv tsvector) ON COMMIT DROP"))
            session.execute(text("INSERT INTO rel_char VALUES (:k, CAST(:t AS tsvector))"),
                            [{"k": r["k"], "t": to_tsvector({c: (r["t"].split() if c == "body" else [])
                                                             for c in domain.COLUMNS})} for r in rows])
        else:
            session.execute(text("CREATE VIRTUAL TABLE temp.rel_char USING fts5(doc_key UNINDEXED, body)"))
            session.execute(text("INSERT INTO rel_char (doc_key, body) VALUES (:k, :t)"), rows)

    def top10(self, query: str) -> list[str]:
        """Return the baseline's top 10 keys."""
        chars = _chars(query)
        if not chars:
            return []
        if self.pg:
            q = " | ".join("'" + c.replace("'", "''") + "'" for c in chars)
            sql = ("SELECT doc_key FROM rel_char WHERE tsv @@ CAST(:q AS tsquery) "
                   "ORDER BY ts_rank_cd(tsv, CAST(:q AS tsquery), 1) DESC, doc_key LIMIT 10")
        else:
            q = " OR ".join('"' + c + '"' for c in chars)
            sql = "SELECT doc_key FROM rel_char WHERE rel_char MATCH :q ORDER BY bm25(rel_char), doc_key LIMIT 10"
        return list(self.session.scalars(text(sql), {"q": q}))

    def drop(self) -> None:
        """Drop the baseline table."""
        if not self.pg:
            self.session.execute(text("DROP TABLE temp.rel_char"))


@dataclass(frozen=True)
class Scores:
    """Hold recall@10 and MRR (within the top 10) over a query set."""

    recall_at_10: float
    mrr: float


def measure(rel: RelevanceSet, top10: Callable[[str], list[str]]) -> Scores:
    """Score a ranking function on the relevance set."""
    recalls, ranks = [], []
    for qid, query in rel.queries:
        got = top10(query)
        wanted = rel.relevant[qid]
        recalls.append(len(wanted & set(got)) / len(wanted))
        ranks.append(next((1 / (i + 1) for i, k in enumerate(got) if k in wanted), 0.0))
    return Scores(round(statistics.fmean(recalls), 4), round(statistics.fmean(ranks), 4))
