"""Pydantic shapes of the trade vault API: documents, batches, dossiers and what banks pull."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, Field


class DocumentOut(BaseModel):
    """Describe one filed document with its category, key fields, retention and ledger entry."""

    id: uuid.UUID
    filename: str
    sha256: str
    size: int
    file_kind: str
    doc_type: str
    number: str
    category: str
    tags: list[str]
    issued_on: dt.date | None
    currency: str
    total: str = Field(description="Decimal text as written in the document; empty when none")
    counterparty: str
    dossier_id: uuid.UUID | None
    retain_until: dt.date
    retention_rule: str
    sample: bool
    withdrawn: bool
    leaf_hash: str = Field(description="Leaf hash of the filing entry; receipt at /ledger/receipts/{leaf_hash}.txt")
    receipt: str
    fields: dict[str, Any] | None = None


class RefusedFile(BaseModel):
    """Name a file of a batch that was refused, with its problem type and messages."""

    name: str
    type: str
    status: int
    detail_zh: str
    detail_en: str


class BatchOut(BaseModel):
    """Report a ZIP batch: the files filed and those refused (nothing of a refused file is kept)."""

    filed: list[DocumentOut]
    refused: list[RefusedFile]


class DocumentPage(BaseModel):
    """Hold one page of documents."""

    total: int
    items: list[DocumentOut]


class DossierOut(BaseModel):
    """Describe a shipment dossier, its reference numbers and completeness."""

    id: uuid.UUID
    title: str
    keys: dict[str, list[str]]
    complete: bool
    missing: list[str]
    documents: list[DocumentOut]
