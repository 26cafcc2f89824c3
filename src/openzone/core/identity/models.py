"""Tables owned by identity: organisations, people, memberships, API tokens, web sessions."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from openzone.db import Base, UTCDateTime, created_at, uuid_pk


class Organisation(Base):
    """Record an organisation: an agency, hall, enterprise, bank, court and so on."""

    __tablename__ = "identity_organisation"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(32), index=True)
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("identity_organisation.id"))
    region: Mapped[str] = mapped_column(String(6), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = created_at()


class Person(Base):
    """Record a person who signs in; identifiers are stored encrypted with a blind index."""

    __tablename__ = "identity_person"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = created_at()


class Membership(Base):
    """Give a person one role in one organisation."""

    __tablename__ = "identity_membership"
    __table_args__ = (UniqueConstraint("person_id", "org_id", "role"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("identity_person.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("identity_organisation.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = created_at()


class ApiToken(Base):
    """Store an API token by its SHA-256 digest, with scopes, expiry and revocation."""

    __tablename__ = "identity_api_token"

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("identity_organisation.id"), index=True)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("identity_person.id"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = created_at()


class WebSession(Base):
    """Store a signed-in browser session by the SHA-256 of its cookie."""

    __tablename__ = "identity_web_session"

    id: Mapped[uuid.UUID] = uuid_pk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("identity_person.id"), index=True)
    # False until the second factor is given, when one is required.
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = created_at()
