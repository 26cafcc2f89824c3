"""Two search backends with the same behaviour: SQLite FTS5 (bm25) and PostgreSQL tsvector (ts_rank_cd)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import (
    Integer,
    bindparam,
    cast,
    column,
    delete,
    func,
    insert,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from openzone.core.search.domain import (
    COLUMNS,
    PINYIN,
    All,
    Analysed,
    Expr,
    IndexSpec,
    Seq,
    Term,
    filter_token,
    fts_rowid_range,
)
from openzone.core.search.models import SearchDocument

Filters = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Match:
    """Hold PostgreSQL's query: its FROM, condition, score (higher is better), the document key it yields, a tiebreak."""

    source: object  # the table (or join) to select from
    condition: ColumnElement[bool]
    score: ColumnElement[float]
    key: ColumnElement  # what identifies a matched document: SearchDocument.id or its FTS rowid
    tiebreak: ColumnElement


@dataclass
class Pending:
    """Hold one document on its way into the index: its row id, texts, analysis and what the backend adds."""

    id: object
    key: str
    fields: dict
    analysed: Analysed
    new: bool
    fts_rowid: int | None = None  # SQLite: the row in search_fts
    facets: str = ""  # SQLite: the document's facet values as FACETS.facets holds them (empty: none)
    tsv: str | None = None  # PostgreSQL: the tsvector literal


class Backend(Protocol):
    """Keep a backend's own index in step with search_document (SqliteFts5.match_sql and PostgresTsvector.match find
    documents in it; the service writes the rest of each search for its backend)."""

    name: str

    def prepare(self, session: Session, index_name: str, batch: list[Pending]) -> None:
        """Fill in what search_document stores for the backend, before the rows are written."""

    def write(self, session: Session, batch: list[Pending]) -> None:
        """Index written document rows in the backend's own structures (their earlier entries already erased)."""

    def erase_many(self, session: Session, fts_rowids: list[int]) -> None:
        """Remove documents from the backend's own structures before they are indexed again."""

    def erase(self, session: Session, row: SearchDocument) -> None:
        """Remove a document row from the backend's own index."""

    def clear(self, session: Session, index_name: str) -> None:
        """Remove every document of an index from the backend's own index."""

    def before_search(self, session: Session) -> None:
        """Set up the caller's transaction for the search statements that follow."""

    def document_key(self) -> ColumnElement:
        """Return the search_document column that identifies a matched document to the backend."""

    def contains(self, text: str) -> ColumnElement[bool]:
        """Return the condition that a document's folded text holds text exactly."""


# ---------------------------------------------------------------- SQLite FTS5


def _fts5_string(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def to_fts5(expr: Expr) -> str:
    """Write an expression in FTS5 query syntax, every token quoted."""
    if isinstance(expr, Term):
        return _fts5_string(expr.text)
    if isinstance(expr, Seq):
        return _fts5_string(" ".join(expr.parts))
    joiner = " AND " if isinstance(expr, All) else " OR "
    return "(" + joiner.join(to_fts5(item) for item in expr.items) + ")"


# Every SQLite search statement starts its WHERE with this: parameters 1 to 3 are the MATCH and the rowid bounds.
MATCH_IN_BLOCK = "search_fts MATCH ? AND search_fts.rowid BETWEEN ? AND ?"
FTS = table("search_fts", column("rowid", Integer), *(column(c) for c in COLUMNS), column("filters"))
# One small row per document with facet values, keyed by its FTS rowid: counting facets over thousands of matches
# reads these (an integer-key lookup each) instead of probing search_filter_value's index per match (measured at
# 100,000 documents: 2.5 ms instead of 11 ms for 4,070 matches).
FACETS = table("search_fts_facets", column("rowid", Integer), column("facets"))


def encode_facets(pairs: Sequence[tuple[str, str]]) -> str:
    """Write a document's (field, value) facet pairs as the text search_fts_facets holds: a sorted JSON array."""
    return json.dumps(sorted(pairs), ensure_ascii=False, separators=(",", ":")) if pairs else ""


def decode_facets(text: str) -> list[tuple[str, str]]:
    """Read the (field, value) pairs of encode_facets (or of migration 0019's json_group_array)."""
    return [(f, v) for f, v in json.loads(text)] if text else []


class SqliteFts5:
    """Index tokens in the search_fts FTS5 table and rank with bm25 and per-column boosts."""

    name = "sqlite"

    def prepare(self, session: Session, index_name: str, batch: list[Pending]) -> None:
        """Give each new document (or one outside its index's block) the next free rowid of the block."""
        low, high = fts_rowid_range(index_name)
        last = None
        for item in batch:
            if item.fts_rowid is not None and low <= item.fts_rowid <= high:
                continue
            if last is None:
                last = session.scalar(select(func.max(SearchDocument.fts_rowid))
                                      .where(SearchDocument.fts_rowid.between(low, high)))
                last = low if last is None else last
            last += 1
            item.fts_rowid = last

    def write(self, session: Session, batch: list[Pending]) -> None:
        """Insert the documents' tokens, one FTS5 row each, with their filter values as tokens."""
        session.execute(insert(FTS), [
            {"rowid": item.fts_rowid, **{c: " ".join(item.analysed.columns[c]) for c in COLUMNS},
             "filters": " ".join(filter_token(name, value) for name, value in item.analysed.filters)}
            for item in batch])
        facets = [{"rowid": item.fts_rowid, "facets": item.facets} for item in batch if item.facets]
        if facets:
            session.execute(insert(FACETS), facets)

    def erase_many(self, session: Session, fts_rowids: list[int]) -> None:
        """Delete FTS5 rows by rowid."""
        if fts_rowids:
            for t in (FTS, FACETS):
                session.execute(delete(t).where(t.c.rowid == bindparam("r")), [{"r": r} for r in fts_rowids])

    def erase(self, session: Session, row: SearchDocument) -> None:
        """Remove a document row from the FTS table."""
        if row.fts_rowid is not None:
            for t in (FTS, FACETS):
                session.execute(delete(t).where(t.c.rowid == row.fts_rowid))

    def clear(self, session: Session, index_name: str) -> None:
        """Remove every document of an index from the FTS table (its rowid block)."""
        low, high = fts_rowid_range(index_name)
        for t in (FTS, FACETS):
            session.execute(delete(t).where(t.c.rowid.between(low, high)))

    def before_search(self, session: Session) -> None:
        """Do nothing: SQLite plans each statement afresh."""

    def match_sql(self, spec: IndexSpec, expr: Expr, exclude: Expr | None, filters: Filters,
                  without: Expr | None = None) -> tuple[str, list]:
        """Return one FTS5 MATCH for words, exclusions and filters, limited to the index's rowid block, as SQL text.

        The parameters start with the MATCH and the block's two bounds, which a sliced search replaces. Searches on
        SQLite are written as SQL text: building and cache-keying SQLAlchemy statements cost 2–4 ms per search,
        more than most of the searches themselves (measured at 100,000 documents).
        bm25 scores every phrase of the MATCH, so expr already holds the words that rank. The documents of without are
        left out by a second FTS5 cursor: in the MATCH, bm25 would score its phrases too and count each one's
        documents first (measured at 100,000 documents: 10 ms of `db11t 3022`'s partial matches went on counting
        the 9,750 documents of the phrase "db 11 t" three times).
        """
        query = to_fts5(expr)
        if exclude is not None:
            query = f"({query} NOT {to_fts5(exclude)})"
        # Values of one filter are alternatives, different filters must all hold: posting lists intersect in
        # FTS5 instead of probing search_filter_value once per matching document.
        for name, values in filters.items():
            tokens = " OR ".join(_fts5_string(filter_token(name, v)) for v in values)
            query = f"{query} AND filters : ({tokens})"
        low, high = fts_rowid_range(spec.name)
        where, params = MATCH_IN_BLOCK, [query, low, high]
        if without is not None:
            rowids, more = self.rowids_sql(to_fts5(without), "search_fts_without")
            where, params = f"{where} AND search_fts.rowid NOT IN ({rowids})", params + more
        return where, params

    @staticmethod
    def rowids_sql(query: str, alias: str) -> tuple[str, list]:
        """Select the rowids of FTS rows that match an FTS5 query, through a cursor of their own.

        For use inside match_sql's statement: the rows are bounded by the same rowids as its MATCH (its parameters 2
        and 3, the index's block or the slice being searched), so a slice reads only its own share.
        """
        # The hidden column named after the table carries MATCH, also under an alias.
        return (f"SELECT {alias}.rowid FROM search_fts AS {alias} WHERE {alias}.search_fts MATCH ? "  # noqa: S608
                f"AND {alias}.rowid BETWEEN ?2 AND ?3"), [query]

    def holds_tokens_sql(self, tokens: Sequence[str]) -> tuple[str, list]:
        """Select the rowids of FTS rows that hold every one of the tokens (inside match_sql's statement)."""
        return self.rowids_sql(" AND ".join(_fts5_string(t) for t in tokens), "search_fts_sure")

    @staticmethod
    def score_sql(spec: IndexSpec) -> str:
        """Return the bm25 expression with the index's column boosts (bm25 is lower for better matches: negated)."""
        return "-bm25(search_fts, " + ", ".join(repr(float(spec.boosts[c])) for c in COLUMNS) + ", 0.0)"

    def document_key(self) -> ColumnElement:
        """Return search_document.fts_rowid."""
        return SearchDocument.fts_rowid

    def contains(self, text: str) -> ColumnElement[bool]:
        """Return instr(folded, text) > 0: a byte search, several times faster than LIKE on Chinese text."""
        return func.instr(SearchDocument.folded, text) > 0


# ---------------------------------------------------------------- PostgreSQL

# Four weight labels exist in a tsvector: the code is A, the title B, keywords, scope and pinyin C, the body D.
# Keywords and scope therefore tie on weight there; cover density and document length decide between them.
PG_LABELS = {"code": "A", "title": "B", "keywords": "C", PINYIN: "C", "scope": "C", "body": "D"}
MAX_POSITION = 16383  # PostgreSQL's largest tsvector position
MAX_POSITIONS_PER_LEXEME = 255


def _pg_quote(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def to_tsquery(expr: Expr) -> str:
    """Write an expression as a tsquery literal, every lexeme quoted (no parser or dictionary runs on it)."""
    if isinstance(expr, Term):
        return _pg_quote(expr.text)
    if isinstance(expr, Seq):
        return "(" + " <-> ".join(_pg_quote(p) for p in expr.parts) + ")"
    joiner = " & " if isinstance(expr, All) else " | "
    return "(" + joiner.join(to_tsquery(item) for item in expr.items) + ")"


def to_tsvector(columns) -> str:
    """Write per-column tokens as a tsvector literal with positions and weight labels."""
    positions: dict[str, list[str]] = {}
    pos = 1
    for c in COLUMNS:
        label = PG_LABELS[c]
        for token in columns[c]:
            entry = positions.setdefault(token, [])
            if len(entry) < MAX_POSITIONS_PER_LEXEME:
                entry.append(f"{min(pos, MAX_POSITION)}{label}")
            pos += 1
        pos += 2  # a gap keeps a code's parts in one column from running into the next column
    return " ".join(f"{_pg_quote(t)}:{','.join(p)}" for t, p in positions.items())


class PostgresTsvector:
    """Store pre-segmented tokens in a tsvector (no Chinese parser needed) and rank with ts_rank_cd and weights."""

    name = "postgresql"

    def prepare(self, session: Session, index_name: str, batch: list[Pending]) -> None:
        """Write each document's tsvector literal, stored with its row."""
        for item in batch:
            item.tsv = to_tsvector(item.analysed.columns)

    def write(self, session: Session, batch: list[Pending]) -> None:
        """Do nothing: the tsvectors went in with their rows."""

    def erase_many(self, session: Session, fts_rowids: list[int]) -> None:
        """Do nothing: a tsvector is replaced with its row."""

    def erase(self, session: Session, row: SearchDocument) -> None:
        """Do nothing: the tsvector goes with its row."""

    def clear(self, session: Session, index_name: str) -> None:
        """Do nothing: the tsvectors go with their rows."""

    def before_search(self, session: Session) -> None:
        """Plan every search statement for its own query words, for the rest of the transaction.

        psycopg prepares a statement on the server after its fifth run, and PostgreSQL may then switch to a generic
        plan that cannot see how common the words of the tsquery parameter are: a vault search over 20,000 documents
        that took 0.2 s with its own plan took 11.6 s with a generic one (docs/performance.md, trade vault).
        """
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))

    def match(self, spec: IndexSpec, expr: Expr, exclude: Expr | None, filters: Filters,
              rank: Expr | None = None, without: Expr | None = None) -> Match:
        """Return the tsvector @@ tsquery condition and ts_rank_cd score for an index (filters are left to the caller).

        ts_rank_cd scores the covers that satisfy its query, so a word that expr needs only alongside others adds
        nothing to a document's score there: a rank expression (an OR of every word) is scored instead.
        """
        query = to_tsquery(expr)
        for left_out in (exclude, without):  # a document holding them is not a match, so they add to no score
            if left_out is not None:
                query = f"{query} & !{to_tsquery(left_out)}"
        tsquery = cast(bindparam("ts_query", query, unique=True), TSQUERY)
        scored = tsquery if rank is None else cast(bindparam("ts_rank", to_tsquery(rank), unique=True), TSQUERY)
        # ts_rank_cd takes weights for {D, C, B, A}, each in [0, 1]: scale the index's boosts by the largest.
        top = max(spec.boosts.values())
        weights = [spec.boosts["body"] / top, spec.boosts["keywords"] / top, spec.boosts["title"] / top,
                   spec.boosts["code"] / top]
        # Normalisation 1 divides by 1 + log(document length), as bm25 discounts long documents.
        array = literal_column("'{" + ",".join(f"{w:.4f}" for w in weights) + "}'::float4[]")
        score = func.ts_rank_cd(array, SearchDocument.tsv, scored, 1)
        condition = SearchDocument.tsv.op("@@")(tsquery) & (SearchDocument.index_name == spec.name)
        return Match(source=SearchDocument, condition=condition, score=score, key=SearchDocument.id,
                     tiebreak=SearchDocument.doc_key)

    def document_key(self) -> ColumnElement:
        """Return search_document.id."""
        return SearchDocument.id

    def contains(self, text: str) -> ColumnElement[bool]:
        """Return strpos(folded, text) > 0 (exact, no LIKE wildcards to escape)."""
        return func.strpos(SearchDocument.folded, text) > 0


def backend_for(session: Session) -> Backend:
    """Pick the backend that fits the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return PostgresTsvector()
    return SqliteFts5()
