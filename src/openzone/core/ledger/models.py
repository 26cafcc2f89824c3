"""Tables owned by the ledger: entries waiting for (or done with) integration, and commitment salts."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from openzone.db import Base, UTCDateTime, created_at, uuid_pk


class Entry(Base):
    """Hold one ledger entry's canonical bytes; leaf_index stays NULL until the integrator sequences it."""

    __tablename__ = "ledger_entry"

    id: Mapped[uuid.UUID] = uuid_pk()
    created_at: Mapped[dt.datetime] = created_at()
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    # An id column, not a foreign key: entries outlive any row they mention.
    actor_org_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    # Invariant: body is the RFC 8785 form of the entry and is never rewritten; body_sha256 is its hex SHA-256.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    body_sha256: Mapped[str] = mapped_column(String(64), index=True)
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    integrated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Salt(Base):
    """Keep the random salt that opens one commitment; deleting the row makes the commitment unopenable."""

    __tablename__ = "ledger_salt"

    commitment: Mapped[str] = mapped_column(String(67), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = created_at()
