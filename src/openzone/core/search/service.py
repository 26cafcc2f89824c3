"""Register indexes, keep them in step with their records, and search them."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import bindparam, cast, delete, exists, func, literal, literal_column, null, select, union_all, update
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core import jobs
from openzone.core.search import domain
from openzone.core.search.backends import (
    FACETS,
    MATCH_IN_BLOCK,
    Backend,
    Pending,
    PostgresTsvector,
    SqliteFts5,
    backend_for,
    decode_facets,
    encode_facets,
)
from openzone.core.search.domain import Document, IndexSpec, QuerySyntax, UnknownFilter
from openzone.core.search.models import SearchDocument, SearchFilterValue
from openzone.db import READERS, insert_many, reading
from openzone.db import refresh_statistics as _refresh_tables
from openzone.kit.errors import problem
from openzone.kit.ids import new_id
from openzone.kit.time import utcnow

UnknownIndex = problem("search-index", 404, "没有这个检索索引", "No such search index")
NotReindexable = problem("search-not-reindexable", 409, "此索引不能重建", "This index cannot be rebuilt")

PER_PAGE_MAX = 100
# Deep pages cost a full sort and nobody reads them; the total is still counted.
RESULT_WINDOW = 10_000
FACET_VALUES = 20

_registry: dict[str, IndexSpec] = {}


def register_index(spec: IndexSpec) -> IndexSpec:
    """Declare an index (a module does this once at import); declaring a name again replaces its spec."""
    block = domain.fts_rowid_range(spec.name)
    for other in _registry.values():
        if other.name != spec.name and domain.fts_rowid_range(other.name) == block:
            raise ValueError(f"index {spec.name}: its FTS rowid block is {other.name}'s; choose another name")
    _registry[spec.name] = spec
    return spec


def get_index(name: str) -> IndexSpec:
    """Return a registered index, or raise UnknownIndex."""
    spec = _registry.get(name)
    if spec is None:
        known = ", ".join(sorted(_registry)) or "-"
        raise UnknownIndex(f"没有名为“{name}”的检索索引；已有：{known}", f"No search index named {name!r}; known: {known}")
    return spec


def registered_indexes() -> list[str]:
    """List the names of the registered indexes."""
    return sorted(_registry)


def _ready() -> None:
    domain.use_cache_dir(get_settings().var_dir / "cache" / "jieba")


# ---------------------------------------------------------------- writing


def index_document(session: Session, *, index: str, doc: Document, backend: Backend | None = None) -> None:
    """Add or replace a document in an index, in the caller's transaction."""
    index_documents(session, index=index, docs=[doc], backend=backend)


def analyse_fields(index: str, fields: Mapping[str, str]) -> domain.FieldAnalysis:
    """Analyse a document's field texts ahead of indexing it (in a bulk importer's worker process, say).

    Give the result as the Document's `analysis`: indexing then skips the analysis, the slow part of writing.
    """
    _ready()
    return domain.analyse_fields(get_index(index), fields)


BATCH = 500  # documents written per round of statements
_WRITTEN = "search.written"  # session.info key: this session has written to an index (its searches stay on it)
Progress = Callable[[int], None]


def index_documents(session: Session, *, index: str, docs: Iterable[Document], backend: Backend | None = None,
                    progress: Progress | None = None) -> int:
    """Add or replace many documents in an index with a few statements per batch; return how many were written."""
    _ready()
    spec = get_index(index)
    backend = backend or backend_for(session)
    count = 0
    batch: dict[str, tuple[Document, domain.Analysed]] = {}
    for seen, doc in enumerate(docs, start=1):
        if not doc.key or len(doc.key) > 200:
            raise ValueError(f"index {index}: a document key must have 1–200 characters")
        batch.pop(doc.key, None)  # the last version of a key wins
        batch[doc.key] = (doc, domain.analyse_document(spec, doc))
        if progress is not None:
            progress(seen)  # analysis is the slow part; the batch is written with a few statements
        if len(batch) >= BATCH:
            count += _write_batch(session, spec, backend, batch)
            batch = {}
    if batch:
        count += _write_batch(session, spec, backend, batch)
    return count


def _write_batch(session: Session, spec: IndexSpec, backend: Backend,
                 batch: Mapping[str, tuple[Document, domain.Analysed]]) -> int:
    session.info[_WRITTEN] = True
    session.flush()
    docs = SearchDocument.__table__
    existing = {key: (doc_id, rowid) for doc_id, key, rowid in session.execute(
        select(SearchDocument.id, SearchDocument.doc_key, SearchDocument.fts_rowid)
        .where(SearchDocument.index_name == spec.name, SearchDocument.doc_key.in_(list(batch))))}
    pending = [Pending(id=existing[key][0] if key in existing else new_id(), key=key,
                       fields={k: v for k, v in doc.fields.items() if v}, analysed=analysed, new=key not in existing,
                       fts_rowid=existing[key][1] if key in existing else None,
                       facets=encode_facets([(n, v) for n, v in analysed.filters if n in spec.facets]))
               for key, (doc, analysed) in batch.items()]
    if existing:
        old_ids = [doc_id for doc_id, _ in existing.values()]
        session.execute(delete(SearchFilterValue).where(SearchFilterValue.document_id.in_(old_ids)))
        backend.erase_many(session, [rowid for _, rowid in existing.values() if rowid is not None])
    backend.prepare(session, spec.name, pending)
    now = utcnow()
    rows = [{"id": p.id, "index_name": spec.name, "doc_key": p.key, "fields": p.fields, "folded": p.analysed.folded,
             "fts_rowid": p.fts_rowid, "tsv": p.tsv, "updated_at": now} for p in pending]
    inserts = [{**row, "created_at": now} for row, p in zip(rows, pending, strict=True) if p.new]
    updates = [{("b_" + k): v for k, v in row.items()} for row, p in zip(rows, pending, strict=True) if not p.new]
    if inserts:
        # COPY on PostgreSQL: the tsvector column parses the text as cast(... AS tsvector) would.
        insert_many(session, docs, inserts)
    if updates:
        session.execute(update(docs).where(docs.c.id == bindparam("b_id")).values(
            fields=bindparam("b_fields"), folded=bindparam("b_folded"), fts_rowid=bindparam("b_fts_rowid"),
            tsv=_tsv_param(session, "b_tsv"), updated_at=bindparam("b_updated_at")), updates)
    values = [{"document_id": p.id, "field": name, "value": value}
              for p in pending for name, value in p.analysed.filters]
    if values:
        insert_many(session, SearchFilterValue.__table__, values)
    backend.write(session, pending)
    return len(pending)


def refresh_statistics(session: Session) -> None:
    """After a bulk load on PostgreSQL, sample the index tables again (the first searches after a 10,000-document
    import took up to 20 s on plans made for the empty tables)."""
    _refresh_tables(session, [SearchDocument.__table__, SearchFilterValue.__table__])


def _tsv_param(session: Session, name: str):
    param = bindparam(name)
    return cast(param, TSVECTOR) if session.get_bind().dialect.name == "postgresql" else param


def remove_document(session: Session, *, index: str, key: str) -> bool:
    """Remove a document from an index; return whether it was there."""
    get_index(index)
    row = session.scalar(select(SearchDocument).where(SearchDocument.index_name == index, SearchDocument.doc_key == key))
    if row is None:
        return False
    session.info[_WRITTEN] = True
    backend_for(session).erase(session, row)
    session.execute(delete(SearchFilterValue).where(SearchFilterValue.document_id == row.id))
    session.delete(row)
    session.flush()
    return True


def clear_index(session: Session, *, index: str) -> int:
    """Remove every document of an index; return how many there were."""
    get_index(index)
    session.info[_WRITTEN] = True
    backend_for(session).clear(session, index)
    ids = select(SearchDocument.id).where(SearchDocument.index_name == index)
    session.execute(delete(SearchFilterValue).where(SearchFilterValue.document_id.in_(ids)))
    count = session.execute(delete(SearchDocument).where(SearchDocument.index_name == index)).rowcount
    session.flush()
    return count



def reindex(session: Session, *, index: str, progress: Progress | None = None) -> int:
    """Rebuild an index from its loader in the caller's transaction; return the number of documents indexed."""
    spec = get_index(index)
    if spec.load_all is None:
        raise NotReindexable(f"索引“{index}”没有声明如何载入全部文档", f"Index {index!r} declares no loader for all documents")
    clear_index(session, index=index)
    return index_documents(session, index=index, docs=spec.load_all(session), progress=progress)


def count_documents(session: Session, *, index: str) -> int:
    """Return how many documents an index holds."""
    get_index(index)
    return session.scalar(select(func.count()).select_from(SearchDocument).where(SearchDocument.index_name == index)) or 0


def enqueue_reindex(session: Session, *, index: str) -> None:
    """Queue a full rebuild of an index for the worker (once while one is pending)."""
    get_index(index)
    jobs.enqueue(session, "search.reindex", {"index": index}, dedupe_key=f"search.reindex:{index}:{utcnow().isoformat()}")


def enqueue_update(session: Session, *, index: str, keys: Sequence[str]) -> None:
    """Queue re-indexing of some documents by key, for writers that would rather not segment in their transaction."""
    spec = get_index(index)
    if spec.load_one is None:
        raise NotReindexable(f"索引“{index}”没有声明如何载入单个文档", f"Index {index!r} declares no loader for one document")
    jobs.enqueue(session, "search.update", {"index": index, "keys": list(keys)})


@jobs.handler("search.reindex")
def _reindex_job(session: Session, payload: dict) -> None:
    reindex(session, index=payload["index"])


@jobs.handler("search.update")
def _update_job(session: Session, payload: dict) -> None:
    spec = get_index(payload["index"])
    for key in payload["keys"]:
        doc = spec.load_one(session, key) if spec.load_one else None
        if doc is None:
            remove_document(session, index=spec.name, key=key)
        else:
            index_document(session, index=spec.name, doc=doc)


# ---------------------------------------------------------------- searching


@dataclass(frozen=True)
class Hit:
    """Hold one result: its key, score, original fields and their highlighted HTML (escaped, with <mark>)."""

    key: str
    score: float
    fields: Mapping[str, str]
    highlights: Mapping[str, str]
    # False for a document that holds some of the words only, ranked after those that hold every word.
    complete: bool = True


@dataclass(frozen=True)
class Results:
    """Hold one page of results with the total, facet counts, and which matching mode found them."""

    index: str
    query: str
    total: int
    page: int
    per_page: int
    hits: list[Hit]
    facets: Mapping[str, list[tuple[str, int]]] = field(default_factory=dict)
    # all: every word matched; any: no document had every word, so documents with some are ranked;
    # substring: the words were found inside longer words only; browse: no words, filters alone.
    mode: str = "all"
    # In mode "all", the documents that hold some of the words but not all, which fill the pages after the `total`
    # complete matches (their hits have complete=False); counted only when this page reaches past `total`, else None.
    partial: int | None = None


def search(session: Session, *, index: str, query: str = "", filters: Mapping[str, str | Sequence[str]] | None = None,
           page: int = 1, per_page: int = 10, facets: bool = True) -> Results:
    """Search an index with the query language; raise a Problem for a query that cannot be run."""
    _ready()
    spec = get_index(index)
    if not 1 <= per_page <= PER_PAGE_MAX or page < 1:
        raise QuerySyntax(f"每页条数须在 1 到 {PER_PAGE_MAX} 之间，页码从 1 开始",
                          f"per_page must be between 1 and {PER_PAGE_MAX}, and page at least 1")
    if page * per_page > RESULT_WINDOW:
        raise QuerySyntax(f"最多只能翻到第 {RESULT_WINDOW} 条结果，请增加检索词或筛选条件缩小范围",
                          f"Results beyond the first {RESULT_WINDOW} cannot be paged to; narrow the search")
    parsed = domain.parse_query(query, filterable=spec.filters)
    plan = domain.plan_query(parsed)
    wanted = _merge_filters(spec, plan.filters, filters or {})
    backend = backend_for(session)
    backend.before_search(session)
    text_conditions = [*(backend.contains(p) for p in plan.phrases),
                       *(~backend.contains(p) for p in plan.excluded_phrases)]
    offset = (page - 1) * per_page
    attempts: list[tuple[str, domain.Expr | None]] = []
    if plan.strict is None:
        attempts.append(("browse", None))
    else:
        attempts.append(("all", plan.strict))
        if plan.relaxed is not None:
            attempts.append(("any", plan.relaxed))
        if plan.substrings and not plan.phrases:
            attempts.append(("substring", None))
    for mode, expr in attempts:
        rank = None
        if mode == "any":  # no document holds every word; when every word is common, select by all of them
            expr, rank = _partial_expression(session, backend, spec, expr) or (expr, None)
        found = _Matches(session, backend, _statement(backend, spec, mode, expr, plan, wanted, text_conditions, rank=rank),
                         offset=offset, limit=per_page, facets=spec.facets if facets else ())
        total = found.total
        if total or mode == attempts[-1][0]:
            break
    ranked = found.page()
    partial = None
    partial_ranked: list = []
    if mode == "all" and plan.relaxed is not None and offset + per_page > total:
        # A few documents holding every word must not hide the many that hold most of them (a question rarely has
        # all its words in the passage that answers it): rank those after, on the page where the complete ones end.
        partial = 0
        partial_expr = _partial_expression(session, backend, spec, plan.relaxed)
        if partial_expr is not None:
            expr, rank = partial_expr
            partial_found = _Matches(session, backend,
                                     _statement(backend, spec, "any", expr, plan, wanted, text_conditions,
                                                rank=rank, without=plan.strict),
                                     offset=max(0, offset - total), limit=per_page - len(ranked))
            partial = partial_found.total
            partial_ranked = partial_found.page() if partial else []
    # Load whole rows for one page only: sorting wide rows is what makes a search slow.
    keys = [r.key for r in ranked] + [r.key for r in partial_ranked]
    loaded = _load(session, backend, keys) if keys else {}
    hits = [_hit(spec, *loaded[r.key], float(r.score), plan.marks) for r in ranked]
    hits += [_hit(spec, *loaded[r.key], float(r.score), plan.marks, complete=False) for r in partial_ranked]
    facet_counts = found.facets() if facets and spec.facets and total else {}
    return Results(index=index, query=query, total=total, page=page, per_page=per_page, hits=hits,
                   facets=facet_counts, mode=mode, partial=partial)


# A word that more documents of an index hold than this does not make a document a partial match by itself; it still
# counts in the ranking of the documents that hold a rarer word. This is the rule of Lucene's "common terms" query
# (cutoff_frequency), with an absolute cut-off: ranking costs per matching document (bm25 about 1.7 µs, ts_rank_cd
# about 50 µs here), so without it a question or a code prefix ranked tens of thousands of partial matches (at
# 100,000 documents, `db11t 3022` ranked 9,761 documents holding only DB11/T). An index smaller than this is unchanged.
COMMON_DOCS = 1_000


def _partial_expression(session: Session, backend: Backend, spec: IndexSpec,
                        relaxed: domain.Expr) -> tuple[domain.Expr, domain.Expr | None] | None:
    """Return what selects partial matches and what ranks them (None: as selected); None when every word is common."""
    items = relaxed.items if isinstance(relaxed, domain.AnyOf) else (relaxed,)
    if isinstance(backend, SqliteFts5):
        parts, params = [], []
        for item in items:
            where, more = backend.match_sql(spec, item, None, {})
            parts.append(f"(SELECT count(*) FROM (SELECT search_fts.rowid FROM search_fts WHERE {where} "  # noqa: S608
                         f"LIMIT {COMMON_DOCS + 1}))")
            params += more
        counts = _raw(session, "SELECT " + ", ".join(parts), params).one()
    else:
        held = []
        assert isinstance(backend, PostgresTsvector)
        for item in items:
            m = backend.match(spec, item, None, {})
            capped = select(m.key).select_from(m.source).where(m.condition).limit(COMMON_DOCS + 1).subquery()
            held.append(select(func.count()).select_from(capped).scalar_subquery())
        counts = session.execute(select(*held)).one()
    rare = tuple(item for item, n in zip(items, counts, strict=True) if n <= COMMON_DOCS)
    if len(rare) == len(items):
        return relaxed, None
    if not rare:
        return None
    # Selected by a rare word and ranked by every word. bm25 scores the phrases of the expression itself, where the
    # rare words appear twice (they weigh twice); ts_rank_cd scores the rank expression, every word once.
    return domain.All((domain.AnyOf(rare), relaxed)), relaxed


@dataclass(frozen=True)
class _Query:
    stmt: Any  # selects the matched documents' keys
    key: Any
    score: Any
    tiebreak: Any


@dataclass(frozen=True)
class _FtsSql:
    """SQLite: one search of search_fts as SQL text (see SqliteFts5.match_sql for why text)."""

    source: str  # the FROM
    where: str
    params: tuple  # params[1] and params[2] bound the index's rowid block; a sliced search replaces them
    score: str
    block: tuple[int, int]  # the index's rowid block
    probe: str  # the MATCH alone, on params[:probe_params]: counted to decide whether to slice
    probe_params: int


class _Ranked(NamedTuple):
    key: Any
    score: float


class _Matches:
    """Count one query's matches, rank one page of them, and count their facet values.

    On SQLite the three come from one statement over a materialised set of matches, so a query that is costly per
    match (a phrase read from search_document, a bm25 over thousands) is evaluated once, not three times. On
    PostgreSQL the page carries the count, and the facets are counted from the materialised matches.
    """

    def __init__(self, session: Session, backend: Backend, query: _Query, *, offset: int, limit: int,
                 facets: Sequence[str] = ()) -> None:
        self.session, self.backend, self.query = session, backend, query
        self.offset, self.limit, self.facet_fields = offset, limit, tuple(facets)
        self.rows: list[_Ranked] = []
        self.facet_rows: list[tuple[str, str, int]] = []
        if isinstance(query, _FtsSql):
            self._fts_once(query)
        elif isinstance(backend, SqliteFts5):
            self._sqlite_once()
        else:
            self._postgres_page_and_total()

    def _postgres_page_and_total(self) -> None:
        q = self.query
        if self.limit > 0:
            # The total rides on the page as a window count: ranking had to score every match anyway, and a second
            # statement for the count read every matching tsvector again (measured at 100,000 documents: 230 ms of
            # 730 for `db11t 3022`'s 9,761 partial matches).
            rows = self.session.execute(
                q.stmt.with_only_columns(q.key, q.score, func.count().over())
                .order_by(q.score.desc(), q.tiebreak).limit(self.limit).offset(self.offset)).all()
            self.rows = [_Ranked(k, s) for k, s, _ in rows]
            if rows or self.offset == 0:
                self.total = rows[0][2] if rows else 0
                return
        self.total = self.session.scalar(select(func.count()).select_from(q.stmt.subquery())) or 0

    def _fts_once(self, q: _FtsSql) -> None:
        slices = _slices(self.session, q, self.offset + self.limit)
        sql = (f"WITH matches AS MATERIALIZED (SELECT search_fts.rowid AS k, {q.score} AS s FROM {q.source} "  # noqa: S608
               f"WHERE {q.where}) SELECT 'n', count(*), NULL, NULL FROM matches")
        params = list(q.params)
        if self.limit > 0:
            # Ties go by rowid so that pages never overlap. A slice returns its best offset + limit rows and the page
            # is cut from them all.
            sql += " UNION ALL SELECT * FROM (SELECT 'p', k, s, k FROM matches ORDER BY s DESC, k LIMIT ? OFFSET ?)"
            params += [self.offset + self.limit, 0] if slices else [self.limit, self.offset]
        if self.facet_fields:
            # One row per distinct combination of facet values among the matches; facets() adds them up per value.
            sql += (" UNION ALL SELECT 'f', f.facets, count(*), NULL FROM matches "
                    "JOIN search_fts_facets AS f ON f.rowid = matches.k GROUP BY f.facets")
        rows = _run_slices(self.session, sql, params, slices) if slices else _raw(self.session, sql, params).all()
        self._collect(rows)
        if slices:
            self.rows = self.rows[self.offset:self.offset + self.limit]

    def _sqlite_once(self) -> None:
        # Browsing by filters and substrings on SQLite: search_document alone, no FTS5.
        q = self.query
        m = (q.stmt.with_only_columns(q.key.label("k"), q.score.label("s"), q.tiebreak.label("t"))
             .cte("matches").prefix_with("MATERIALIZED"))
        parts = [select(literal_column("'n'").label("part"), func.count().label("a"), null().label("b"),
                        null().label("c")).select_from(m)]
        if self.limit > 0:
            page = select(m.c.k, m.c.s, m.c.t).order_by(m.c.s.desc(), m.c.t).limit(self.limit).offset(self.offset).subquery()
            parts.append(select(literal_column("'p'"), page.c.k, page.c.s, page.c.t))
        if self.facet_fields:
            parts.append(select(literal_column("'f'"), FACETS.c.facets, func.count(), null())
                         .select_from(m.join(FACETS, FACETS.c.rowid == m.c.k)).group_by(FACETS.c.facets))
        self._collect(self.session.execute(union_all(*parts)))

    def _collect(self, rows: Iterable) -> None:
        self.total = 0
        page_rows = []
        for part, a, b, c in rows:
            if part == "n":
                self.total += a
            elif part == "p":
                page_rows.append((a, b, c))
            else:
                self.facet_rows.extend((name, value, b) for name, value in decode_facets(a)
                                       if name in self.facet_fields)
        # A compound SELECT promises no order: sort the page again the way it was chosen.
        page_rows.sort(key=lambda r: (-r[1], r[2]))
        self.rows = [_Ranked(k, s) for k, s, _ in page_rows]

    def page(self) -> list[_Ranked]:
        """Return the (key, score) rows of the page asked for, best first."""
        return self.rows

    def facets(self) -> dict[str, list[tuple[str, int]]]:
        """Count the matches' values of each facet field (the most frequent FACET_VALUES of each)."""
        counts: Counter[tuple[str, str]] = Counter()
        for name, value, n in self.facet_rows:
            counts[name, value] += n
        if not isinstance(self.backend, SqliteFts5) and self.facet_fields and self.total:
            # The matches are materialised first and the filter values looked up from them by primary key. `field ||
            # ''` keeps the planner off the (field, value) index; without the MATERIALIZED fence it estimated a few
            # hundred filter rows, walked all of them and tested each document's tsvector (measured at 100,000
            # documents: 2,005 ms for 农业 -经济, 83 ms materialised).
            keys = self.query.stmt.order_by(None).cte("matches").prefix_with("MATERIALIZED")
            counts.update({(name, value): n for name, value, n in self.session.execute(
                select(SearchFilterValue.field, SearchFilterValue.value, func.count().label("n"))
                .where(SearchFilterValue.document_id.in_(select(keys.c[0])),
                       SearchFilterValue.field.concat("").in_(self.facet_fields))
                .group_by(SearchFilterValue.field, SearchFilterValue.value))})
        out: dict[str, list[tuple[str, int]]] = {name: [] for name in self.facet_fields}
        for (name, value), n in counts.items():
            out[name].append((value, n))
        return {name: sorted(values, key=lambda v: (-v[1], v[0]))[:FACET_VALUES] for name, values in out.items()}


# Slices: bm25 costs about 3 µs per matching document on this machine and FTS5 has no top-k method that skips
# scoring, so a query matching thousands of documents of a large index is ranked in slices of the index's rowid block,
# each on its own connection and core (Lucene's concurrent search over index slices does the same). Each slice counts,
# ranks and counts facets of its own matches; the totals add up and the page is cut from the slices' best rows.
SLICE_MIN_DOCS = 20_000  # an index whose block spans fewer rowids is searched on one connection
SLICE_MIN_MATCHES = 1_000  # nor is a query with fewer matches
SLICE_MAX_WINDOW = 1_000  # nor a page that reaches past this many results
_slice_pool: ThreadPoolExecutor | None = None
_slice_pool_lock = threading.Lock()


def _raw(session: Session, sql: str, params: Sequence):
    """Run SQL text on the session's connection (SQLite's qmark parameters).

    The SQL text of SQLite searches is put together from this module's and the backend's fragments, aliases, integers
    and the index's float boosts only; every value from a query or a caller is a bound parameter (hence the S608
    exemptions). It runs on the connection, so the session does not autoflush first: nothing in the search tables is
    written through ORM objects that could be pending.
    """
    return session.connection().exec_driver_sql(sql, tuple(params))


def _slices(session: Session, query: _FtsSql, window: int) -> list[tuple[int, int]]:
    """Return the rowid ranges to search apart, or [] to search the block on the session's connection alone."""
    count = get_settings().search_slices
    if count < 2 or window > SLICE_MAX_WINDOW or session.info.get(_WRITTEN):
        # A deep page would bring each slice's offset + limit rows back to sort. A session that has written to an
        # index sees its own writes; other connections would not (the mark stays for the session's life).
        return []
    engine = session.get_bind()
    if not isinstance(engine, Engine) or not _shared_wal(session, engine):
        return []  # bound to a test's outer connection, or a database other connections cannot read beside it
    low, high = query.block
    last = _last_rowid(session, engine, low, high)
    if last is None or last - low < SLICE_MIN_DOCS:
        return []
    # Few matches rank faster on one connection than the hand-over costs (about 1 ms): count up to the threshold.
    few = _raw(session, f"SELECT count(*) FROM (SELECT search_fts.rowid FROM search_fts WHERE {query.probe} "  # noqa: S608
                        f"LIMIT {SLICE_MIN_MATCHES})", query.params[:query.probe_params]).scalar()
    if few < SLICE_MIN_MATCHES:
        return []
    step = (last - low) // count + 1
    bounds = [(low + i * step, low + (i + 1) * step - 1) for i in range(count)]
    bounds[-1] = (bounds[-1][0], high)
    return bounds


_wal_files: dict[str, bool] = {}


def _shared_wal(session: Session, engine: Engine) -> bool:
    # Other connections read beside the caller's write lock only in WAL mode (journal_mode=WAL can fail to take, on a
    # network file system), and never in a database of the caller's connection alone (in memory).
    key = engine.url.render_as_string(hide_password=False)
    known = _wal_files.get(key)
    if known is None:
        private = engine.url.database in (None, "", ":memory:") or engine.url.query.get("mode") == "memory"
        known = _wal_files[key] = not private and _raw(session, "PRAGMA journal_mode", ()).scalar() == "wal"
    return known


_last_rowids: dict[tuple[str, int], tuple[float, int | None]] = {}


def _last_rowid(session: Session, engine: Engine, low: int, high: int) -> int | None:
    # The newest rowid of a block, re-read once a minute: a slice boundary from an older one only balances the slices
    # less well (the last slice always reaches the end of the block).
    key = (str(engine.url), low)
    now = time.monotonic()
    held = _last_rowids.get(key)
    if held is None or now - held[0] > 60:
        last = _raw(session, "SELECT max(fts_rowid) FROM search_document WHERE fts_rowid BETWEEN ? AND ?",
                    (low, high)).scalar()
        held = _last_rowids[key] = (now, last)
    return held[1]


def _run_slices(session: Session, sql: str, params: list, slices: list[tuple[int, int]]) -> list:
    """Run a search once per slice, the first on the session's connection and the others beside it.

    A slice that cannot run beside it (no side connection free, any database error there) runs on the session's
    connection afterwards: the rows are the same, only later.
    """
    global _slice_pool
    with _slice_pool_lock:
        if _slice_pool is None:
            _slice_pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="search-slice")

    def bounded(low: int, high: int) -> tuple:
        return (params[0], low, high, *params[3:])

    engine = session.get_bind()
    session.connection()  # the caller's transaction, and with it the snapshot, begins before any slice runs beside it
    others: list[tuple[tuple[int, int], Future]] = []
    try:
        for bounds in slices[1:]:
            others.append((bounds, _slice_pool.submit(_run_apart, engine, sql, bounded(*bounds))))
        rows = list(_raw(session, sql, bounded(*slices[0])))
    finally:
        wait([future for _, future in others])  # every slice ends before the caller's transaction can move on
    for bounds, future in others:
        try:
            rows.extend(future.result())
        except SQLAlchemyError:
            rows.extend(_raw(session, sql, bounded(*bounds)))
    return rows


def _run_apart(engine: Engine, sql: str, params: tuple) -> list:
    # A read-only side connection: in WAL it reads the last commit beside the caller's open transaction, which (holding
    # SQLite's write lock and having written nothing to the index) sees the same documents.
    with reading(engine) as conn:
        return list(conn.exec_driver_sql(sql, params))


def _load(session: Session, backend: Backend, keys: list) -> dict:
    """Read the doc key and fields of a page's documents (not the folded text or tsvector: a hit needs neither)."""
    if isinstance(backend, SqliteFts5):
        rows = _raw(session, "SELECT fts_rowid, doc_key, fields FROM search_document WHERE fts_rowid IN ("  # noqa: S608
                    + ", ".join("?" * len(keys)) + ")", keys)
        return {key: (doc_key, json.loads(fields)) for key, doc_key, fields in rows}
    return {key: (doc_key, fields) for key, doc_key, fields in session.execute(
        select(SearchDocument.id, SearchDocument.doc_key, SearchDocument.fields).where(SearchDocument.id.in_(keys)))}


def _merge_filters(spec: IndexSpec, from_query: Mapping[str, Sequence[str]],
                   given: Mapping[str, str | Sequence[str]]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {k: list(v) for k, v in from_query.items()}
    for name, values in given.items():
        if name not in spec.filters:
            raise UnknownFilter(f"不能按“{name}”筛选", f"Cannot filter on {name!r}")
        merged.setdefault(name, []).extend([values] if isinstance(values, str) else values)
    return {k: [v.strip() for v in vs if v and v.strip()] for k, vs in merged.items() if any(v.strip() for v in vs)}


def _filter_conditions(wanted: Mapping[str, list[str]]) -> Iterable:
    # Values of one field are alternatives; different fields must all hold.
    for name, values in wanted.items():
        yield exists().where(SearchFilterValue.document_id == SearchDocument.id, SearchFilterValue.field == name,
                             SearchFilterValue.value.in_(values))


def _statement(backend: Backend, spec: IndexSpec, mode: str, expr, plan: domain.Plan, wanted: Mapping[str, list[str]],
               text_conditions: list, *, rank: domain.Expr | None = None,
               without: domain.Expr | None = None) -> _Query | _FtsSql:
    if mode in ("browse", "substring"):
        conditions = [*_filter_conditions(wanted), *text_conditions]
        if mode == "substring":
            conditions.extend(backend.contains(w) for w in plan.substrings)
            conditions.extend(~backend.contains(w) for w in plan.excluded_substrings)
        key = backend.document_key()
        stmt = select(key).where(SearchDocument.index_name == spec.name, *conditions)
        return _Query(stmt, key, literal(0.0), SearchDocument.doc_key)
    if isinstance(backend, SqliteFts5):
        return _fts_statement(backend, spec, expr, plan, wanted, without)
    assert isinstance(backend, PostgresTsvector)
    match = backend.match(spec, expr, plan.exclude, wanted, rank, without)
    stmt = select(match.key).where(match.condition, *text_conditions, *_filter_conditions(wanted))
    return _Query(stmt, match.key, match.score, match.tiebreak)


def _fts_statement(backend: SqliteFts5, spec: IndexSpec, expr, plan: domain.Plan, wanted: Mapping[str, list[str]],
                   without: domain.Expr | None) -> _FtsSql:
    where, params = backend.match_sql(spec, expr, plan.exclude, wanted, without)
    # Slices replace parameters 2 and 3, and rowids_sql's cursors reuse them (?2, ?3): they must be the MATCH's bounds.
    assert where.startswith(MATCH_IN_BLOCK), where
    probe, probe_params = where, len(params)
    source = "search_fts"
    # Phrases are checked on the folded text, which only search_document holds.
    texts = ([("instr(search_document.folded, ?) > 0", p) for p in plan.phrases]
             + [("instr(search_document.folded, ?) <= 0", p) for p in plan.excluded_phrases])
    if texts:
        text_sql = " AND ".join(sql for sql, _ in texts)
        tokens = [domain.exact_token(p) for p in plan.phrases]
        if plan.phrases and all(tokens) and not plan.excluded_phrases:
            # A document holding each phrase as a token holds the phrase; only the others are read from
            # search_document to check their text (the score still comes from the query alone).
            sure, more = backend.holds_tokens_sql(tokens)
            where += (f" AND (search_fts.rowid IN ({sure}) OR EXISTS (SELECT 1 FROM search_document "  # noqa: S608
                      f"WHERE search_document.fts_rowid = search_fts.rowid AND {text_sql}))")
            params += more
        else:
            source = "search_fts JOIN search_document ON search_document.fts_rowid = search_fts.rowid"
            where += " AND " + text_sql
        params += [p for _, p in texts]
    return _FtsSql(source, where, tuple(params), backend.score_sql(spec), domain.fts_rowid_range(spec.name), probe,
                   probe_params)


def _hit(spec: IndexSpec, doc_key: str, fields: Mapping[str, str], score: float, marks: Sequence[str], *,
         complete: bool = True) -> Hit:
    highlights = {}
    for f in spec.fields:
        text = fields.get(f.name)
        if text:
            short = len(text) <= domain.SNIPPET_CHARS
            highlights[f.name] = domain.highlight(text, marks, limit=None if short else domain.SNIPPET_CHARS)
    return Hit(key=doc_key, score=score, fields=dict(fields), highlights=highlights, complete=complete)
