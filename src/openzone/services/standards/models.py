"""Tables owned by standards: the library, joint drafts with their decisions, and notices shared between regions."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from openzone.db import Base, UTCDateTime, created_at, uuid_pk
from openzone.kit.time import utcnow


class Standard(Base):
    """Record one local standard, which may carry several numbers (one per issuing region)."""

    __tablename__ = "standards_standard"

    id: Mapped[uuid.UUID] = uuid_pk()
    title_zh: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), index=True)
    issued_on: Mapped[dt.date | None] = mapped_column(Date)
    effective_on: Mapped[dt.date | None] = mapped_column(Date)
    withdrawn_on: Mapped[dt.date | None] = mapped_column(Date)
    ics: Mapped[str] = mapped_column(String(20), default="")
    ccs: Mapped[str] = mapped_column(String(10), default="")
    department: Mapped[str] = mapped_column(String(200), default="")
    drafters: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    body_source: Mapped[str] = mapped_column(String(300), default="")
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    joint: Mapped[bool] = mapped_column(Boolean, default=False)
    # A 示例 record made up for demonstration; pages label it so nobody takes it for a real standard.
    sample: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    created_at: Mapped[dt.datetime] = created_at()


class StandardNumberRow(Base):
    """Give a standard one number under one issuer; the normalised text is unique across the library."""

    __tablename__ = "standards_number"

    id: Mapped[uuid.UUID] = uuid_pk()
    standard_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standards_standard.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(40), unique=True)
    issuer: Mapped[str] = mapped_column(String(8))
    region: Mapped[str] = mapped_column(String(2), index=True)
    sequence: Mapped[str] = mapped_column(String(12))
    year: Mapped[int] = mapped_column(Integer)
    recommended: Mapped[bool] = mapped_column(Boolean, default=True)
    engineering: Mapped[bool] = mapped_column(Boolean, default=False)


class Replacement(Base):
    """Say that a standard replaces an earlier one, by number, linked once the earlier one is in the library."""

    __tablename__ = "standards_replacement"
    __table_args__ = (UniqueConstraint("standard_id", "replaces_number"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    standard_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standards_standard.id", ondelete="CASCADE"), index=True)
    replaces_number: Mapped[str] = mapped_column(String(40), index=True)
    replaces_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("standards_standard.id", ondelete="SET NULL"),
                                                          index=True)


class Amendment(Base):
    """Record an amendment (修改单) to a standard."""

    __tablename__ = "standards_amendment"

    id: Mapped[uuid.UUID] = uuid_pk()
    standard_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standards_standard.id", ondelete="CASCADE"), index=True)
    issued_on: Mapped[dt.date] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = created_at()


class Change(Base):
    """Record that a standard was added or changed, for its history, the Atom feed and changes-since."""

    __tablename__ = "standards_change"

    id: Mapped[uuid.UUID] = uuid_pk()
    standard_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standards_standard.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Regulator(Base):
    """Mark an organisation as one region's standardisation regulator, with the people it notifies."""

    __tablename__ = "standards_regulator"

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    region: Mapped[str] = mapped_column(String(2), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    contact_person_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = created_at()


class Draft(Base):
    """Record one 3+X joint regional standard on its way from proposal to implementation feedback."""

    __tablename__ = "standards_draft"

    id: Mapped[uuid.UUID] = uuid_pk()
    title_zh: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(500), default="")
    scope: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    proposer_org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    proposer_name: Mapped[str] = mapped_column(String(200))
    drafters: Mapped[list[str]] = mapped_column(JSON, default=list)
    stage: Mapped[str] = mapped_column(String(20), index=True)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    comment_start_on: Mapped[dt.date | None] = mapped_column(Date)
    comment_end_on: Mapped[dt.date | None] = mapped_column(Date)
    shared_sequence: Mapped[int | None] = mapped_column(Integer)
    approved_on: Mapped[dt.date | None] = mapped_column(Date)
    standard_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("standards_standard.id", ondelete="SET NULL"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = created_at()


class Participant(Base):
    """Name an organisation taking part in a draft: a regulator, the proposer or a member of the drafting group."""

    __tablename__ = "standards_participant"
    __table_args__ = (UniqueConstraint("draft_id", "org_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    draft_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standards_draft.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    org_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = created_at()


class Decision(Base):
    """Record one stage decision on a draft, with the leaf hash of its ledger entry."""

    __tablename__ = "standards_decision"

    id: Mapped[uuid.UUID] = uuid_pk()
    draft_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standards_draft.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    org_name: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    region: Mapped[str] = mapped_column(String(2), default="")
    decision: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    leaf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = created_at()


class DraftNumber(Base):
    """Hold one region's number for a joint draft: proposed from the shared sequence, then confirmed by that region."""

    __tablename__ = "standards_draft_number"
    __table_args__ = (UniqueConstraint("draft_id", "region"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    draft_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standards_draft.id", ondelete="CASCADE"), index=True)
    region: Mapped[str] = mapped_column(String(2))
    number: Mapped[str] = mapped_column(String(40))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    published_on: Mapped[dt.date | None] = mapped_column(Date)


class Comment(Base):
    """Record a participant's comment on a draft during public comment, and the drafting group's answer."""

    __tablename__ = "standards_comment"

    id: Mapped[uuid.UUID] = uuid_pk()
    draft_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standards_draft.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    org_name: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    clause: Mapped[str] = mapped_column(String(100), default="")
    text: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[str] = mapped_column(String(200), default="")
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = created_at()


class Feedback(Base):
    """Record implementation feedback (实施反馈) on a published joint standard."""

    __tablename__ = "standards_feedback"

    id: Mapped[uuid.UUID] = uuid_pk()
    draft_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standards_draft.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    org_name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = created_at()


class Notice(Base):
    """Record a plan, work point, policy document or notice that one region's regulator shares with the others."""

    __tablename__ = "standards_notice"

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[str] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    region: Mapped[str] = mapped_column(String(2))
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    org_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Receipt(Base):
    """Record that a person of a receiving regulator has read a shared notice."""

    __tablename__ = "standards_receipt"
    __table_args__ = (UniqueConstraint("notice_id", "person_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    notice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standards_notice.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    read_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
