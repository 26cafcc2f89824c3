"""Tables owned by consent: grants, their presentations, access records and copies kept under a grant."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from openzone.db import Base, UTCDateTime, created_at, uuid_pk

COMMITMENT_LENGTH = 67  # "c1:" + 64 hex


class Grant(Base):
    """Record a holder's consent for a requester to receive some items, for a purpose, for a time."""

    __tablename__ = "consent_grant"
    __table_args__ = (
        CheckConstraint("holder_kind IN ('person', 'organisation')", name="holder_kind"),
        CheckConstraint("status IN ('pending', 'active', 'used', 'expired', 'revoked', 'declined')", name="status"),
        CheckConstraint("use_mode IN ('single', 'count', 'periodic')", name="use_mode"),
        Index("ix_consent_grant_holder", "holder_kind", "holder_id", "created_at"),
        Index("ix_consent_grant_requester", "requester_org_id", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    holder_kind: Mapped[str] = mapped_column(String(16))
    # NULL once the holder's erasure request is carried out: the row stays as an unlinkable tombstone.
    holder_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    holder_commitment: Mapped[str] = mapped_column(String(COMMITMENT_LENGTH))
    requester_org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    requester_name: Mapped[str] = mapped_column(String(200))
    requester_hall: Mapped[str | None] = mapped_column(String(64))
    requester_window: Mapped[str | None] = mapped_column(String(64))
    requester_clerk_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    requester_client_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    scope: Mapped[list[dict]] = mapped_column(JSON)
    purpose_code: Mapped[str] = mapped_column(String(64))
    purpose_text: Mapped[str] = mapped_column(String(500), default="")
    reason: Mapped[str] = mapped_column(String(500), default="")
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    use_mode: Mapped[str] = mapped_column(String(16))
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    frequency: Mapped[str | None] = mapped_column(String(16))
    frequency_uses: Mapped[int | None] = mapped_column(Integer)
    data_life_days: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(16))  # "holder" or "requester"
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[dt.datetime] = created_at()
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # RFC 9162 leaf hashes of the ledger entries that created and ended the grant, for the holder's receipts.
    created_leaf: Mapped[bytes] = mapped_column(LargeBinary(32))
    ended_leaf: Mapped[bytes | None] = mapped_column(LargeBinary(32))


class Presentation(Base):
    """Store a QR token or a short code that presents a grant, by its hash only."""

    __tablename__ = "consent_presentation"
    __table_args__ = (
        CheckConstraint("kind IN ('qr', 'code', 'sms')", name="kind"),
        Index("ix_consent_presentation_window", "requester_org_id", "window", "expires_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    grant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consent_grant.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    # SHA-256 of a QR token; HMAC-SHA-256 under a server key of a short code (8 digits are too few to hash bare).
    secret_hash: Mapped[str] = mapped_column(String(64), index=True)
    requester_org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    hall: Mapped[str | None] = mapped_column(String(64))
    window: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = created_at()


class Access(Base):
    """Record one call of the gate or one presentation try, allowed or refused, with its ledger entry."""

    __tablename__ = "consent_access"
    __table_args__ = (
        CheckConstraint("outcome IN ('allowed', 'refused')", name="outcome"),
        CheckConstraint("action IN ('use', 'redeem')", name="action"),
        Index("ix_consent_access_holder", "holder_kind", "holder_id", "at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    grant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consent_grant.id"), index=True)
    presentation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    holder_kind: Mapped[str | None] = mapped_column(String(16))
    holder_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    requester_org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    hall: Mapped[str | None] = mapped_column(String(64))
    window: Mapped[str | None] = mapped_column(String(64))
    clerk_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    client_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    action: Mapped[str] = mapped_column(String(8))
    resource_kind: Mapped[str | None] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(128))
    fields: Mapped[list[str]] = mapped_column(JSON)
    purpose_code: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    holder_commitment: Mapped[str | None] = mapped_column(String(COMMITMENT_LENGTH))
    resource_commitment: Mapped[str | None] = mapped_column(String(COMMITMENT_LENGTH))


class Copy(Base):
    """Keep a copy retrieved under a grant, encrypted, until its data-life ends."""

    __tablename__ = "consent_copy"

    id: Mapped[uuid.UUID] = uuid_pk()
    grant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consent_grant.id"), index=True)
    access_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consent_access.id"))
    requester_org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    resource_kind: Mapped[str] = mapped_column(String(64))
    payload_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    delete_after: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_leaf: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime] = created_at()
