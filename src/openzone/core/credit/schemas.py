"""Pydantic shapes of the credit API."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field


class PublicRecord(BaseModel):
    """Describe a published record as the public sees it."""

    id: uuid.UUID
    subject_name: str
    subject_code: str
    record_class: str
    legal_basis: str
    legal_basis_en: str
    facts: str
    finding_on: dt.date
    publish_from: dt.date
    publish_until: dt.date
    rulebook: str
    disputed: bool


class RepairIn(BaseModel):
    """Ask for credit repair of one record."""

    obligations_fulfilled: bool
    commitment_signed: bool
    statement: str = Field("", max_length=5000)


class ObjectionIn(BaseModel):
    """Object to one record."""

    grounds: str = Field(..., min_length=1, max_length=5000)


class Application(BaseModel):
    """Describe a repair application or an objection and its state."""

    id: uuid.UUID
    record_id: uuid.UUID
    received_on: dt.date
    due_on: dt.date
    outcome: str | None


class RepairDecisionIn(BaseModel):
    """Decide a repair application."""

    granted: bool
    reason: str = Field(..., min_length=1, max_length=5000)


class ObjectionDecisionIn(BaseModel):
    """Decide an objection."""

    outcome: str = Field(..., pattern="^(corrected|withdrawn|confirmed)$")
    reason: str = Field(..., min_length=1, max_length=5000)
    new_class: str | None = Field(None, pattern="^(minor|general|serious)$")
    new_legal_basis: str | None = Field(None, max_length=300)
