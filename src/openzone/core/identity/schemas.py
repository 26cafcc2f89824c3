"""Request and response bodies of the identity API."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field


class Membership(BaseModel):
    """Say which role a person holds in which organisation."""

    org_id: uuid.UUID
    role: str


class Me(BaseModel):
    """Describe the caller."""

    person_id: uuid.UUID
    name: str
    is_platform_admin: bool
    memberships: list[Membership]
    token_id: uuid.UUID | None = None
    scopes: list[str] | None = None


class OrganisationIn(BaseModel):
    """Create an organisation."""

    name: str = Field(min_length=1, max_length=200)
    name_en: str = Field(default="", max_length=200)
    kind: str = Field(max_length=32)
    uscc: str | None = Field(default=None, max_length=40)


class OrganisationOut(BaseModel):
    """Describe an organisation."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    name_en: str
    kind: str
    uscc: str | None
    created_at: dt.datetime


class OrganisationPage(BaseModel):
    """Return one page of organisations."""

    items: list[OrganisationOut]
    next_cursor: str | None


class MemberIn(BaseModel):
    """Add a person (new or existing by e-mail) to an organisation with a role."""

    name: str = Field(min_length=1, max_length=100)
    email: str = Field(max_length=254)
    role: str = Field(max_length=32)
    password: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=20)
    id_number: str | None = Field(default=None, max_length=30)


class MemberOut(BaseModel):
    """Describe a member with identifiers masked."""

    person_id: uuid.UUID
    name: str
    email: str
    role: str
    phone: str | None = None
    id_number: str | None = None


class TokenIn(BaseModel):
    """Create an API token for an organisation the caller administers."""

    org_id: uuid.UUID
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=10)
    days: int = Field(default=90, ge=1, le=366)


class TokenOut(BaseModel):
    """Describe a token without its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    created_at: dt.datetime


class TokenCreated(TokenOut):
    """Describe a new token with its secret, shown this once."""

    secret: str
