"""Pydantic shapes of the travel-licensing API."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field


class ManagerIn(BaseModel):
    """Name a manager or tour planner."""

    name: str = Field(..., min_length=1, max_length=50)
    role: str = Field("", max_length=50)
    years: int = Field(..., ge=0, le=80)


class ApplicationIn(BaseModel):
    """Give a whole application, the route and (for the commitment route) the signature, in one request."""

    name: str = Field(..., min_length=1, max_length=200)
    uscc: str = Field(..., max_length=30)
    legal_rep_name: str = Field(..., min_length=1, max_length=50)
    legal_rep_id: str = Field(..., max_length=30)
    premises_address: str = Field(..., min_length=1, max_length=200)
    tenure: str = Field(..., pattern="^(owned|leased)$")
    lease_months: int = Field(0, ge=0, le=1200)
    phone_lines: int = Field(..., ge=0, le=1000)
    has_fax: bool
    has_copier: bool
    has_computer: bool
    capital_yuan: int = Field(..., ge=0, le=10**11)
    staff_count: int = Field(..., ge=1, le=100_000)
    guide_count: int = Field(..., ge=0, le=100_000)
    managers: list[ManagerIn] = Field(..., min_length=1, max_length=50)
    branches: int = Field(0, ge=0, le=100)
    route: str = Field(..., pattern="^(commitment|ordinary)$")
    read_notice: bool = False
    commit: bool = False


class Check(BaseModel):
    """Describe one failed check with its citation."""

    code: str
    zh: str
    en: str
    citation: str


class ApplicationOut(BaseModel):
    """Describe an application's state, its decision limit and, once approved, its licence."""

    id: uuid.UUID
    status: str
    route: str | None
    automatic: bool
    submitted_at: dt.datetime | None
    decision_due_at: dt.datetime | None
    decided_at: dt.datetime | None
    licence_number: str | None
    checks: dict[str, list[Check]]


class DepositIn(BaseModel):
    """Record a deposit or bank guarantee with its evidence (base64)."""

    method: str = Field(..., pattern="^(deposit|guarantee)$")
    bank: str = Field(..., min_length=1, max_length=100)
    amount_yuan: int = Field(..., ge=0, le=10**10)
    paid_on: dt.date
    evidence_name: str = Field(..., min_length=1, max_length=200)
    evidence_base64: str = Field(..., min_length=4, max_length=14_000_000)


class ObligationOut(BaseModel):
    """Describe an obligation and whether it was met on time."""

    id: uuid.UUID
    kind: str
    amount_fen: int
    due_on: dt.date
    status: str
    on_time: bool | None


class TopUpIn(BaseModel):
    """Order a firm to top up its quality deposit by an amount in whole yuan (旅行社条例 art. 18)."""

    amount_yuan: int = Field(..., ge=1, le=10**10)


class InspectionIn(BaseModel):
    """Record an inspection result."""

    result: str = Field(..., pattern="^(pass|breach)$")
    notes: str = Field("", max_length=5000)
    breach_kind: str | None = None
    record_class: str | None = Field(None, pattern="^(minor|general|serious)$")


class InspectionOut(BaseModel):
    """Describe an inspection's outcome."""

    id: uuid.UUID
    status: str
    result: str | None
    breach_id: uuid.UUID | None


class LicenceOut(BaseModel):
    """Describe a licence for anyone who checks its number."""

    number: str
    name: str
    uscc: str
    issued_on: dt.date
    status: str
    revoked_on: dt.date | None
    content_sha256: str
