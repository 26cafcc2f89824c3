"""Tables owned by notify: one outbox of messages, which is also the in-app inbox."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, Index, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from openzone.db import Base, UTCDateTime, created_at, uuid_pk


class Message(Base):
    """Hold one notice from the moment its business change commits until it is delivered or given up."""

    __tablename__ = "notify_message"
    __table_args__ = (
        CheckConstraint("channel IN ('inbox', 'email', 'sms', 'console')", name="channel"),
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        Index("ix_notify_message_due", "status", "next_attempt_at"),
        Index("ix_notify_message_inbox", "person_id", "channel", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # An identity person id; no foreign key, as modules refer to each other by id only.
    person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    channel: Mapped[str] = mapped_column(String(16))
    # Set only for a message to an address that is not a person's; AES-GCM, as phone numbers are personal data.
    # A person's address is looked up when the message is sent, so it follows changes and is not copied.
    address_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    subject_en: Mapped[str] = mapped_column(String(200), default="")
    body_en: Mapped[str] = mapped_column(Text, default="")
    # A sensitive message (a one-time code) keeps its texts only here, AES-GCM, until delivery ends; body and body_en
    # then hold a placeholder, so the code never rests in clear.
    content_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # An inbox message is delivered by existing, so it is stored sent; the others wait pending for the worker.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = created_at()
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
