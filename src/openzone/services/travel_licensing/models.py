"""Tables owned by travel licensing: applications, licences, obligations, inspections, draws, breaches, bars, officers."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from openzone.db import Base, UTCDateTime, created_at, uuid_pk


class Application(Base):
    """Keep one licence application from draft to decision; answers hold the declared data."""

    __tablename__ = "travel_licensing_application"

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    applicant_person_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    answers: Mapped[dict] = mapped_column(JSON, default=dict)
    # The legal representative's resident ID number: encrypted, with a blind index to match personal bars.
    legal_rep_id_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    legal_rep_index: Mapped[str | None] = mapped_column(String(64), index=True)
    route: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True, default="draft")
    checks: Mapped[dict] = mapped_column(JSON, default=dict)
    notice_sha256: Mapped[str | None] = mapped_column(String(64))
    commitment_sha256: Mapped[str | None] = mapped_column(String(64))
    signed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    decision_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    refusal_reason: Mapped[str] = mapped_column(Text, default="")
    responsible_person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    leaf_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = created_at()


class Licence(Base):
    """Record an issued 旅行社业务经营许可证, its PDF digest and whether it still stands."""

    __tablename__ = "travel_licensing_licence"

    id: Mapped[uuid.UUID] = uuid_pk()
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("travel_licensing_application.id"), unique=True)
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    route: Mapped[str] = mapped_column(String(16))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="valid", index=True)
    revoked_on: Mapped[dt.date | None] = mapped_column(Date)
    pdf_sha256: Mapped[str] = mapped_column(String(64))  # SHA-256 of the canonical content the PDF presents
    responsible_person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    leaf_hash: Mapped[str] = mapped_column(String(64))
    # The e-license the issuer API returned (issue 6: "and as an e-license"); None while not issued or feature off.
    e_license_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[dt.datetime] = created_at()


class Obligation(Base):
    """Track one obligation with a working-day deadline: a deposit, a branch deposit, a top-up, or rectification."""

    __tablename__ = "travel_licensing_obligation"

    id: Mapped[uuid.UUID] = uuid_pk()
    licence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("travel_licensing_licence.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    start_on: Mapped[dt.date] = mapped_column(Date)
    due_on: Mapped[dt.date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    # Escalation under art. 48: 0 none, 1 flagged and notified, 2 ordered to rectify, 3 revoked.
    level: Mapped[int] = mapped_column(Integer, default=0)
    rectify_due_on: Mapped[dt.date | None] = mapped_column(Date)
    met_on: Mapped[dt.date | None] = mapped_column(Date)
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    method: Mapped[str] = mapped_column(String(16), default="")
    bank: Mapped[str] = mapped_column(String(100), default="")
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    evidence_name: Mapped[str] = mapped_column(String(200), default="")
    evidence_sha256: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = created_at()


class Inspection(Base):
    """Keep one inspection: the verification of a commitment or a 双随机 spot check, with its result."""

    __tablename__ = "travel_licensing_inspection"

    id: Mapped[uuid.UUID] = uuid_pk()
    licence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("travel_licensing_licence.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    draw_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    inspector_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    due_on: Mapped[dt.date] = mapped_column(Date, index=True)
    # False while due_on is the bare "within N months" limit because that year's calendar is not imported yet.
    due_adjusted: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    result: Mapped[str | None] = mapped_column(String(16))
    breach_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    recorded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = created_at()


class Draw(Base):
    """Record a 双随机 draw: its seed, the candidates and weights it saw, and the result, so anyone can redo it."""

    __tablename__ = "travel_licensing_draw"

    id: Mapped[uuid.UUID] = uuid_pk()
    seed: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
    weights: Mapped[dict] = mapped_column(JSON)
    candidates: Mapped[list] = mapped_column(JSON)
    inspectors: Mapped[list] = mapped_column(JSON)
    selections: Mapped[list] = mapped_column(JSON)
    drawn_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    leaf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = created_at()


class Breach(Base):
    """Record a graded breach, its legal basis, consequence and the credit record it made."""

    __tablename__ = "travel_licensing_breach"

    id: Mapped[uuid.UUID] = uuid_pk()
    licence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("travel_licensing_licence.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    record_class: Mapped[str] = mapped_column(String(16))
    consequence: Mapped[str] = mapped_column(String(16))
    legal_basis: Mapped[str] = mapped_column(String(200))
    found_on: Mapped[dt.date] = mapped_column(Date)
    credit_record_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[dt.datetime] = created_at()


class Bar(Base):
    """Bar a person after a revocation, by the blind index of the ID number (旅行社条例 art. 64, 旅游法 art. 103)."""

    __tablename__ = "travel_licensing_bar"

    id: Mapped[uuid.UUID] = uuid_pk()
    person_index: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    from_on: Mapped[dt.date] = mapped_column(Date)
    until_on: Mapped[dt.date] = mapped_column(Date)
    licence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("travel_licensing_licence.id"))
    created_at: Mapped[dt.datetime] = created_at()


class Officer(Base):
    """Put a person on duty as a licensing clerk or an inspector, for case assignment and draws."""

    __tablename__ = "travel_licensing_officer"
    __table_args__ = (UniqueConstraint("person_id", "duty"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    duty: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = created_at()
