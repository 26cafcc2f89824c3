"""Tables owned by credit: dishonesty records, repair applications and objections."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, Date, ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from openzone.db import Base, UTCDateTime, created_at, uuid_pk


class CreditRecord(Base):
    """Record one finding of dishonesty against an organisation or a person, with its publication window."""

    __tablename__ = "credit_record"

    id: Mapped[uuid.UUID] = uuid_pk()
    subject_org_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    subject_person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    # Public for an organisation; for a person only a masked form is kept here.
    subject_name: Mapped[str] = mapped_column(String(200))
    subject_code: Mapped[str] = mapped_column(String(18), default="")
    source: Mapped[str] = mapped_column(String(40), index=True)
    reference: Mapped[str] = mapped_column(String(100), default="")
    record_class: Mapped[str] = mapped_column(String(16), index=True)
    rulebook: Mapped[str] = mapped_column(String(20))
    legal_basis: Mapped[str] = mapped_column(String(300))
    legal_basis_en: Mapped[str] = mapped_column(String(300), default="")
    facts: Mapped[str] = mapped_column(Text)
    facts_en: Mapped[str] = mapped_column(Text, default="")
    finding_on: Mapped[dt.date] = mapped_column(Date)
    decided_by_org_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    publish_from: Mapped[dt.date] = mapped_column(Date)
    publish_until: Mapped[dt.date] = mapped_column(Date, index=True)
    repair_from: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), index=True)
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    leaf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = created_at()


class CreditRepair(Base):
    """Keep one credit-repair application and its decision."""

    __tablename__ = "credit_repair"

    id: Mapped[uuid.UUID] = uuid_pk()
    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("credit_record.id"), index=True)
    applicant_org_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    statement: Mapped[str] = mapped_column(Text, default="")
    commitment_text: Mapped[str] = mapped_column(Text)
    received_on: Mapped[dt.date] = mapped_column(Date)
    due_on: Mapped[dt.date] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = created_at()


class CreditObjection(Base):
    """Keep one objection to a record, the disputed mark's reason, and its outcome."""

    __tablename__ = "credit_objection"

    id: Mapped[uuid.UUID] = uuid_pk()
    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("credit_record.id"), index=True)
    applicant_org_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    grounds: Mapped[str] = mapped_column(Text)
    received_on: Mapped[dt.date] = mapped_column(Date)
    due_on: Mapped[dt.date] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = created_at()
