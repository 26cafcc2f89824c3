"""Two search backends with the same behaviour: SQLite FTS5 (bm25) and PostgreSQL tsvector (ts_rank_cd)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Integer, bindparam, cast, column, delete, func, insert, literal, literal_column, table, update
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from openzone.core.search.domain import COLUMNS, PINYIN, All, Analysed, Expr, IndexSpec, Seq, Term
from openzone.core.search.models import SearchDocument


@dataclass(frozen=True)
class Match:
    """Hold what a backend adds to a query: the tables to join, the match condition and the score (higher is better)."""

    condition: ColumnElement[bool]
    score: ColumnElement[float]
    join: tuple | None  # (table, on-clause) to join to search_document, or None


class Backend(Protocol):
    """Keep a backend's own index in step with search_document and match expressions against it."""

    name: str

    def write(self, session: Session, row: SearchDocument, analysed: Analysed) -> None:
        """Index a flushed document row (replacing what was indexed for it before)."""

    def erase(self, session: Session, row: SearchDocument) -> None:
        """Remove a document row from the backend's own index."""

    def clear(self, session: Session, index_name: str) -> None:
        """Remove every document of an index from the backend's own index."""

    def match(self, spec: IndexSpec, expr: Expr, exclude: Expr | None) -> Match:
        """Return the condition and score that find documents of an index matching expr and not exclude."""


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


FTS = table("search_fts", column("rowid", Integer), *(column(c) for c in COLUMNS))


class SqliteFts5:
    """Index tokens in the search_fts FTS5 table and rank with bm25 and per-column boosts."""

    name = "sqlite"

    def write(self, session: Session, row: SearchDocument, analysed: Analysed) -> None:
        """Index a flushed document row (replacing what was indexed for it before)."""
        values = {c: " ".join(analysed.columns[c]) for c in COLUMNS}
        if row.fts_rowid is not None:
            session.execute(delete(FTS).where(FTS.c.rowid == row.fts_rowid))
        result = session.execute(insert(FTS).values(**values))
        row.fts_rowid = result.lastrowid
        session.flush()

    def erase(self, session: Session, row: SearchDocument) -> None:
        """Remove a document row from the FTS table."""
        if row.fts_rowid is not None:
            session.execute(delete(FTS).where(FTS.c.rowid == row.fts_rowid))

    def clear(self, session: Session, index_name: str) -> None:
        """Remove every document of an index from the FTS table."""
        rowids = (SearchDocument.__table__.select().with_only_columns(SearchDocument.fts_rowid)
                  .where(SearchDocument.index_name == index_name, SearchDocument.fts_rowid.is_not(None)))
        session.execute(delete(FTS).where(FTS.c.rowid.in_(rowids)))

    def match(self, spec: IndexSpec, expr: Expr, exclude: Expr | None) -> Match:
        """Return the FTS5 MATCH condition and bm25 score for an index."""
        # Indexes share the table; the join to search_document keeps them apart (a token naming the index in
        # MATCH would make every query walk that index's whole posting list).
        query = to_fts5(expr)
        if exclude is not None:
            query = f"{query} NOT {to_fts5(exclude)}"
        boosts = [literal(float(spec.boosts[c])) for c in COLUMNS]
        # bm25() is lower for better matches; negate so that both backends sort by score descending.
        score = -func.bm25(literal_column("search_fts"), *boosts)
        condition = literal_column("search_fts").op("MATCH")(bindparam("fts_query", query))
        # `index_name || ''` keeps SQLite from driving the join from search_document's index on index_name and
        # probing the FTS table once per document; the MATCH must come first (measured: 30 ms against 1 ms).
        condition = condition & (SearchDocument.index_name.concat("") == spec.name)
        return Match(condition=condition, score=score, join=(FTS, SearchDocument.fts_rowid == FTS.c.rowid))


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

    def write(self, session: Session, row: SearchDocument, analysed: Analysed) -> None:
        """Store the document's tsvector."""
        session.execute(update(SearchDocument).where(SearchDocument.id == row.id)
                        .values(tsv=cast(bindparam("tsv", to_tsvector(analysed.columns)), TSVECTOR)))

    def erase(self, session: Session, row: SearchDocument) -> None:
        """Do nothing: the tsvector goes with its row."""

    def clear(self, session: Session, index_name: str) -> None:
        """Do nothing: the tsvectors go with their rows."""

    def match(self, spec: IndexSpec, expr: Expr, exclude: Expr | None) -> Match:
        """Return the tsvector @@ tsquery condition and ts_rank_cd score for an index."""
        query = to_tsquery(expr)
        if exclude is not None:
            query = f"{query} & !{to_tsquery(exclude)}"
        tsquery = cast(bindparam("ts_query", query), TSQUERY)
        # ts_rank_cd takes weights for {D, C, B, A}, each in [0, 1]: scale the index's boosts by the largest.
        top = max(spec.boosts.values())
        weights = [spec.boosts["body"] / top, spec.boosts["keywords"] / top, spec.boosts["title"] / top,
                   spec.boosts["code"] / top]
        # Normalisation 1 divides by 1 + log(document length), as bm25 discounts long documents.
        array = literal_column("'{" + ",".join(f"{w:.4f}" for w in weights) + "}'::float4[]")
        score = func.ts_rank_cd(array, SearchDocument.tsv, tsquery, 1)
        condition = SearchDocument.tsv.op("@@")(tsquery) & (SearchDocument.index_name == spec.name)
        return Match(condition=condition, score=score, join=None)


def backend_for(session: Session) -> Backend:
    """Pick the backend that fits the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return PostgresTsvector()
    return SqliteFts5()
