"""Tables owned by search: indexed documents and their filter values (SQLite's search_fts and search_fts_facets live in
the migrations)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from openzone.db import Base, UTCDateTime, created_at, uuid_pk
from openzone.kit.time import utcnow


class SearchDocument(Base):
    """Hold one indexed record: its original field texts, folded text for phrases, and the backend's key."""

    __tablename__ = "search_document"
    __table_args__ = (
        UniqueConstraint("index_name", "doc_key"),
        # PostgreSQL backend: the GIN index that answers tsv @@ query (on SQLite the column stays NULL).
        Index("ix_search_document_tsv", "tsv", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    index_name: Mapped[str] = mapped_column(String(40))
    doc_key: Mapped[str] = mapped_column(String(200))
    fields: Mapped[dict] = mapped_column(JSON)
    folded: Mapped[str] = mapped_column(Text)
    # SQLite backend: the rowid of the document's row in the search_fts virtual table.
    fts_rowid: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    tsv: Mapped[str | None] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    created_at: Mapped[dt.datetime] = created_at()


class SearchFilterValue(Base):
    """Hold one filter value of a document, for filters and facet counts."""

    __tablename__ = "search_filter_value"
    __table_args__ = (
        Index("ix_search_filter_value_field_value", "field", "value"),
    )

    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("search_document.id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
