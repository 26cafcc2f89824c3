"""Request and response bodies of the consent API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from openzone.core.consent import domain

# The registry's own patterns (resource kinds and purposes, field names), so malformed names are refused as input.
CODE_PATTERN = domain.CODE_RE.pattern
FIELD_PATTERN = domain.FIELD_RE.pattern


class ScopeLineIn(BaseModel):
    """Ask for fields of one resource, or of every resource of a kind (id "*")."""

    kind: str = Field(max_length=64)
    id: str = Field(default="*", max_length=128)
    fields: list[str] = Field(min_length=1, max_length=64)


class HolderRef(BaseModel):
    """Name the holder: a person by resident ID number or person id, or an organisation by id."""

    kind: Literal["person", "organisation"] = "person"
    id_number: str | None = Field(default=None, max_length=30)
    person_id: uuid.UUID | None = None
    org_id: uuid.UUID | None = None


class Place(BaseModel):
    """Say where the requester stands: which of its organisations, hall and window."""

    org_id: uuid.UUID | None = None
    hall: str | None = Field(default=None, max_length=64)
    window: str | None = Field(default=None, max_length=64)


class GrantRequestIn(Place):
    """Ask a holder for a grant; it stays pending until the holder approves."""

    holder: HolderRef
    scope: list[ScopeLineIn] = Field(min_length=1, max_length=32)
    purpose: str = Field(max_length=64)
    purpose_text: str = Field(default="", max_length=500)
    reason: str = Field(default="", max_length=500)
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    days: int | None = Field(default=None, ge=1, le=1098)
    use_mode: Literal["single", "count", "periodic"] = "single"
    max_uses: int | None = Field(default=None, ge=1, le=1000)
    frequency: Literal["hour", "day", "week", "month"] | None = None
    frequency_uses: int | None = Field(default=None, ge=1, le=1000)
    data_life_days: int = Field(default=0, ge=0, le=730)
    client_only: bool = Field(default=False, description="narrow the grant to the API token making the request")


class GrantOut(BaseModel):
    """Describe a grant as its requester sees it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: str
    holder_kind: str
    requester_org_id: uuid.UUID
    requester_name: str
    requester_hall: str | None
    requester_window: str | None
    requester_clerk_id: uuid.UUID | None
    requester_client_id: uuid.UUID | None
    scope: list[dict]
    purpose_code: str
    purpose_text: str
    reason: str
    valid_from: dt.datetime
    valid_until: dt.datetime
    use_mode: str
    max_uses: int
    uses: int
    frequency: str | None
    frequency_uses: int | None
    data_life_days: int
    created_at: dt.datetime
    approved_at: dt.datetime | None
    ended_at: dt.datetime | None


class GrantPage(BaseModel):
    """Return one page of grants."""

    items: list[GrantOut]
    next_cursor: str | None


class RedeemIn(Place):
    """Present a scanned QR payload or a code read over the counter, at a window."""

    token: str | None = Field(default=None, max_length=200)
    code: str | None = Field(default=None, max_length=20)


class UseIn(Place):
    """Ask the gate for one retrieval under a named grant."""

    resource_kind: str = Field(max_length=64, pattern=CODE_PATTERN)
    resource_id: str = Field(min_length=1, max_length=128)
    fields: list[Annotated[str, Field(max_length=64, pattern=FIELD_PATTERN)]] = Field(min_length=1, max_length=64)
    purpose: str = Field(max_length=64, pattern=CODE_PATTERN)


class UseOut(BaseModel):
    """Say that the gate allowed a retrieval, with the access record and its ledger receipt."""

    allowed: bool
    access_id: uuid.UUID
    receipt: str = Field(description="RFC 9162 leaf hash (hex) of the ledger entry; /ledger/receipts/{receipt}.txt once integrated")
    grant: GrantOut


class SmsOut(BaseModel):
    """Say that a code was texted to the holder (the code itself is never returned)."""

    presentation_id: uuid.UUID
    expires_at: dt.datetime
    window: str
