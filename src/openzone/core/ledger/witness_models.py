"""Table owned by the ledger's witness registry: the consortium members' witnesses the log asks to cosign."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from openzone.db import Base, UTCDateTime, created_at, uuid_pk


class RegisteredWitness(Base):
    """Hold one witness: its cosignature key, where it listens, and how the last request to it went."""

    __tablename__ = "ledger_witness"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The C2SP vkey of type 0x04 (tlog-cosignature); its name is the witness name.
    vkey: Mapped[str] = mapped_column(String(400))
    # cosignature/v1 does not commit to the key name, so one key under two names would count twice towards a quorum.
    public_key: Mapped[str] = mapped_column(String(64), unique=True)
    # The tlog-witness submission prefix; requests go to <url>/add-checkpoint.
    url: Mapped[str] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The size of the latest checkpoint this witness cosigned, as far as the log knows (0 before the first).
    last_size: Mapped[int] = mapped_column(BigInteger, default=0)
    last_cosigned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Why the last request failed or was refused, in Chinese and English; NULL after a cosignature.
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_en: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = created_at()
