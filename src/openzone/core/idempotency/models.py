"""The stored responses of requests made with an Idempotency-Key."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openzone.db import Base, UTCDateTime, created_at, uuid_pk


class StoredResponse(Base):
    """Keep the response to one key of one principal in one scope until it expires."""

    __tablename__ = "idempotency_response"
    __table_args__ = (UniqueConstraint("principal", "scope", "key"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    principal: Mapped[str] = mapped_column(String(80))
    scope: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(255))
    request_sha256: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = created_at()
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
