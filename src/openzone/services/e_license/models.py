"""Tables owned by e_license: issuers, licenses, status lists, windows, accredited clerks, applications and attachments."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from openzone.db import Base, UTCDateTime, created_at, uuid_pk
from openzone.kit.time import utcnow


class Issuer(Base):
    """Make an identity organisation an issuer with its Ed25519 key; the private key lives in var/secrets only."""

    __tablename__ = "e_license_issuer"

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Multikey publicKeyMultibase ("z6Mk…"); the secret key file is named after the issuer id.
    public_multikey: Mapped[str] = mapped_column(String(64))
    license_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = created_at()


class License(Base):
    """Hold one e-license: holder, type, fields, term, status with the issuer's reason, and its signed VC."""

    __tablename__ = "e_license_license"
    __table_args__ = (UniqueConstraint("issuer_id", "status_index"),
                      UniqueConstraint("issuer_id", "type_code", "number"))

    id: Mapped[uuid.UUID] = uuid_pk()
    issuer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("e_license_issuer.id"), index=True)
    type_code: Mapped[str] = mapped_column(String(48), index=True)
    number: Mapped[str] = mapped_column(String(100))
    holder_kind: Mapped[str] = mapped_column(String(16))
    holder_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    fields: Mapped[dict] = mapped_column(JSON)
    valid_from_on: Mapped[dt.date] = mapped_column(Date)
    valid_until_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The same index in the issuer's revocation list and in its suspension list (Bitstring Status List §2.1).
    status_index: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    vc: Mapped[dict] = mapped_column(JSON)
    vc_digest: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = created_at()


class StatusList(Base):
    """Hold one issuer's bitstring for one status purpose (revocation or suspension)."""

    __tablename__ = "e_license_status_list"
    __table_args__ = (UniqueConstraint("issuer_id", "purpose"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    issuer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("e_license_issuer.id"))
    purpose: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)
    bits: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = created_at()


class Window(Base):
    """Name a service window of a hall (an identity organisation of kind service_hall)."""

    __tablename__ = "e_license_window"
    __table_args__ = (UniqueConstraint("hall_org_id", "code"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    hall_org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    hall_code: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    online: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = created_at()


class Clerk(Base):
    """Accredit a person as the clerk of one window; a person is accredited at one window at a time."""

    __tablename__ = "e_license_clerk"

    id: Mapped[uuid.UUID] = uuid_pk()
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    window_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("e_license_window.id"), index=True)
    accredited_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[dt.datetime] = created_at()


class Application(Base):
    """Record an application (办件) for a matter, handled at a window or in the online hall."""

    __tablename__ = "e_license_application"

    id: Mapped[uuid.UUID] = uuid_pk()
    matter_code: Mapped[str] = mapped_column(String(8), index=True)
    window_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("e_license_window.id"), index=True)
    hall_org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    clerk_person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    applicant_kind: Mapped[str | None] = mapped_column(String(16))
    applicant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    grant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    channel: Mapped[str] = mapped_column(String(8), default="window")
    created_at: Mapped[dt.datetime] = created_at()


class Attachment(Base):
    """Attach one retrieved license to an application: the consent copy, the fields, the status seen, the receipt."""

    __tablename__ = "e_license_attachment"
    __table_args__ = (UniqueConstraint("application_id", "license_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    # Found through the unique (application_id, license_id) index, whose first column it is.
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("e_license_application.id"))
    license_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("e_license_license.id"), index=True)
    type_code: Mapped[str] = mapped_column(String(48))
    fields: Mapped[list[str]] = mapped_column(JSON)
    materials: Mapped[list[str]] = mapped_column(JSON)
    copy_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    access_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    license_status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(Text, default="")
    retrieved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
