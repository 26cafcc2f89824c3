"""Request and response bodies of the inbox API."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict


class InboxMessage(BaseModel):
    """Describe one in-app message."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    subject: str
    body: str
    subject_en: str
    body_en: str
    created_at: dt.datetime
    read_at: dt.datetime | None


class InboxPage(BaseModel):
    """Return one page of the caller's in-app messages, newest first, with the unread count."""

    items: list[InboxMessage]
    next_cursor: str | None
    unread_count: int


class MarkedRead(BaseModel):
    """Say how many messages were marked read."""

    marked: int
