"""Pydantic shapes of the e-license API: issuing, status, applications and retrieval, the holder's views."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field


class LicenseIn(BaseModel):
    """Ask to issue one license: type, holder, fields and term (civil dates, China Standard Time)."""

    type: str = Field(max_length=48, examples=["resident_id"])
    holder_kind: Literal["person", "organisation"]
    holder_id: uuid.UUID
    fields: dict[str, str | None]
    valid_from_on: dt.date
    valid_until_on: dt.date | None = Field(None, description="None for a long-term license")


class LicenseUpdate(BaseModel):
    """Change fields of a license (merged into the current ones) and, when given, its end date."""

    fields: dict[str, str | None] = Field(default_factory=dict)
    valid_until_on: dt.date | None = None
    keep_term: bool = Field(True, description="Keep the current end date (set false to change it)")


class StatusChange(BaseModel):
    """Give the issuer's reason for suspending, reinstating or revoking a license."""

    reason: str = Field(min_length=1, max_length=500)


class LicenseOut(BaseModel):
    """Describe a license with its status, the issuer's reason and its signed Verifiable Credential."""

    id: uuid.UUID
    type: str
    type_zh: str
    issuer_id: uuid.UUID
    holder_kind: str
    holder_id: uuid.UUID
    number: str
    fields: dict[str, Any]
    valid_from_on: dt.date
    valid_until_on: dt.date | None
    status: str
    status_reason: str
    version: int
    vc_digest: str
    vc: dict[str, Any]


class BatchOut(BaseModel):
    """Report a batch: rows read and the ids issued (all rows, or none)."""

    rows: int
    issued: list[uuid.UUID]


class ApplicationIn(BaseModel):
    """Open an application for a matter of the catalogue at the caller's window."""

    matter: str = Field(pattern=r"^M[0-9]{3,5}$", examples=["M007"])


class PresentationIn(BaseModel):
    """Present the holder's QR payload ("ozc1:…") or short code."""

    token: str | None = Field(None, max_length=200)
    code: str | None = Field(None, max_length=20)


class RetrievalIn(BaseModel):
    """Name the license to retrieve under the application's grant."""

    license_id: uuid.UUID


class MaterialOut(BaseModel):
    """Describe one material of a matter and the license types that replace it."""

    code: str
    zh: str
    en: str
    replaced_by: list[str]


class AllowedOut(BaseModel):
    """Describe one license a grant allows: type, fields, materials it replaces, status and whether it is attached."""

    license_id: uuid.UUID
    type: str
    type_zh: str
    fields: list[str]
    materials: list[str]
    status: str
    status_reason: str
    attached: bool


class AttachmentOut(BaseModel):
    """Describe a retrieved license attached to an application, with the released data while its copy lives."""

    license_id: uuid.UUID
    type: str
    fields: list[str]
    materials: list[str]
    license_status: str
    status_reason: str
    retrieved_at: dt.datetime
    receipt_leaf: str
    data: dict[str, Any] | None


class ApplicationOut(BaseModel):
    """Describe an application: matter, hall, window, clerk, grant, what it allows, attachments and materials."""

    id: uuid.UUID
    matter: str
    matter_zh: str
    hall: str
    window: str
    clerk_id: uuid.UUID | None
    grant_id: uuid.UUID | None
    allowed: list[AllowedOut]
    attachments: list[AttachmentOut]
    materials_saved: list[MaterialOut]
    materials_needed: list[MaterialOut]


class ChoiceIn(BaseModel):
    """Choose one license and the fields to release."""

    license_id: uuid.UUID
    fields: list[str] = Field(min_length=1, max_length=64)


class AuthorisationIn(BaseModel):
    """Authorise a service hall to retrieve chosen licenses for a matter."""

    matter: str = Field(pattern=r"^M[0-9]{3,5}$")
    hall_org_id: uuid.UUID
    licenses: list[ChoiceIn] = Field(min_length=1, max_length=32)
    minutes: int = Field(60, ge=5, le=24 * 60)
    data_life_days: int = Field(30, ge=0, le=730)


class GrantOut(BaseModel):
    """Describe a holder's e-license grant."""

    id: uuid.UUID
    requester: str
    hall: str | None
    window: str | None
    purpose: str
    scope: list[dict[str, Any]]
    status: str
    valid_until: dt.datetime
    uses: int
    max_uses: int
    data_life_days: int


class AccessOut(BaseModel):
    """Describe one access to a holder's license: who, where, matter, license, when, outcome, and its receipt."""

    id: uuid.UUID
    at: dt.datetime
    requester: str
    hall: str | None
    window: str | None
    clerk: bool
    action: str
    license_id: str | None
    license_type: str | None
    fields: list[str]
    matter: str | None
    outcome: str
    reason: str | None
    leaf_hash: str
    receipt_url: str | None = Field(None, description="C2SP tlog-proof receipt, once the entry is integrated")


class AccessPage(BaseModel):
    """Return one page of accesses, newest first, and the cursor of the next (null on the last page)."""

    items: list[AccessOut]
    next_cursor: str | None


class TypeOut(BaseModel):
    """Describe a license type of the catalogue."""

    code: str
    zh: str
    en: str
    agency: str
    holder_kinds: list[str]
    fields: list[dict[str, Any]]
    validity: dict[str, Any]


class MatterOut(BaseModel):
    """Describe a matter of the catalogue with its materials."""

    code: str
    zh: str
    en: str
    department: str
    applicant_kind: str
    materials: list[MaterialOut]
