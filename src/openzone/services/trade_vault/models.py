"""Tables owned by the trade vault: stored blobs, documents, shipment dossiers and their keys, bank pulls, reports."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from openzone.db import Base, UTCDateTime, created_at, uuid_pk
from openzone.kit.time import utcnow


class Blob(Base):
    """Describe one stored file by its SHA-256; the bytes live in the blob store under that name."""

    __tablename__ = "trade_vault_blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = created_at()


class Dossier(Base):
    """Group one shipment's documents (业务档案), found by shared reference numbers or linked by hand."""

    __tablename__ = "trade_vault_dossier"

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    title: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = created_at()


class DossierKey(Base):
    """Say that a reference number (contract, order, invoice, B/L, declaration) belongs to one dossier of a firm."""

    __tablename__ = "trade_vault_dossier_key"
    __table_args__ = (UniqueConstraint("org_id", "key_type", "value"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("trade_vault_dossier.id", ondelete="CASCADE"), index=True)
    key_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64))


class Document(Base):
    """Record one filed document of a firm: its blob, category, parsed fields, text, retention and ledger entry."""

    __tablename__ = "trade_vault_document"
    __table_args__ = (UniqueConstraint("org_id", "sha256"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("trade_vault_blob.sha256"))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    file_kind: Mapped[str] = mapped_column(String(8))
    doc_type: Mapped[str] = mapped_column(String(64), default="")
    number: Mapped[str] = mapped_column(String(100), default="", index=True)
    category: Mapped[str] = mapped_column(String(24), index=True)
    category_manual: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    text: Mapped[str] = mapped_column(Text, default="")
    issued_on: Mapped[dt.date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), default="")
    # Decimal text as written in the document: amounts are never floats.
    total: Mapped[str] = mapped_column(String(40), default="")
    counterparty: Mapped[str] = mapped_column(String(200), default="", index=True)
    country: Mapped[str] = mapped_column(String(8), default="")
    dossier_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("trade_vault_dossier.id", ondelete="SET NULL"),
                                                         index=True)
    retention_start_on: Mapped[dt.date] = mapped_column(Date)
    retain_until: Mapped[dt.date] = mapped_column(Date)
    retention_rule: Mapped[str] = mapped_column(String(32))
    rebate_set: Mapped[bool] = mapped_column(Boolean, default=False)
    # A 示例 document made up for demonstration; pages label it.
    sample: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(8))
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    leaf_hash: Mapped[str] = mapped_column(String(64))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    withdrawn_reason: Mapped[str] = mapped_column(Text, default="")
    withdrawn_leaf: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Pull(Base):
    """Record one retrieval by a bank under the firm's grant, with the ledger entry that proves it."""

    __tablename__ = "trade_vault_pull"

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    bank_org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    grant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    resource_kind: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(64))
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    documents: Mapped[int] = mapped_column(Integer, default=0)
    leaf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = created_at()


class Report(Base):
    """Record one generated trusted-profile report (可信画像报告): its PDF digest and ledger entry, for verification."""

    __tablename__ = "trade_vault_report"

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    figures: Mapped[dict] = mapped_column(JSON, default=dict)
    leaf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = created_at()


class Share(Base):
    """Remember a consent grant a firm gave a bank over vault data, so the bank's staff pages can list it."""

    __tablename__ = "trade_vault_share"

    id: Mapped[uuid.UUID] = uuid_pk()
    grant_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    bank_org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    resource_kind: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = created_at()
