"""Tables owned by the ledger: entries, commitment salts, and the integrated log (tiles, checkpoints, state)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Index, Integer, LargeBinary, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from openzone.db import Base, UTCDateTime, created_at


class Entry(Base):
    """Hold one ledger entry's canonical bytes; leaf_index stays NULL until the integrator sequences it."""

    __tablename__ = "ledger_entry"
    # Few indexes, because every one costs each append (docs/performance.md): the integrator's queue of pending
    # entries in seq order, the unique leaf index of integrated ones, and the first 8 bytes of the leaf hash for
    # lookup by receipt (a 64-bit key indexes at a fraction of the cost of the 32-byte hash). Only the queue is
    # written when an entry is recorded, at the end of its B-tree; the other two are partial on leaf_index, so their
    # entries, random ones for the leaf key, are added by the integrator's one UPDATE per batch (migration 0018).
    __table_args__ = (
        Index("ix_ledger_entry_pending", "seq", sqlite_where=text("leaf_index IS NULL"),
              postgresql_where=text("leaf_index IS NULL")),
        Index("uq_ledger_entry_leaf_index", "leaf_index", unique=True, sqlite_where=text("leaf_index IS NOT NULL"),
              postgresql_where=text("leaf_index IS NOT NULL")),
        Index("ix_ledger_entry_leaf_key", "leaf_key", sqlite_where=text("leaf_index IS NOT NULL"),
              postgresql_where=text("leaf_index IS NOT NULL")),
    )

    # Insertion order; on SQLite the rowid itself. Not the log index: on PostgreSQL seq values commit out of order.
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                     autoincrement=True)
    # No created_at: the entry's own "time" member is the record time (and the signed one).
    event_type: Mapped[str] = mapped_column(String(64))
    # An id column, not a foreign key: entries outlive any row they mention.
    actor_org_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Invariant: body is the RFC 8785 form of the entry and is never rewritten.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # RFC 9162 leaf hash SHA-256(0x00 || body), computed when recorded; leaf_key is its first 8 bytes as a signed
    # big-endian integer, so an entry is found by the hash a receipt names.
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_key: Mapped[int] = mapped_column(BigInteger)
    leaf_index: Mapped[int | None] = mapped_column(BigInteger)
    integrated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Salt(Base):
    """Keep the random salt that opens one commitment; deleting the row makes the commitment unopenable."""

    __tablename__ = "ledger_salt"

    commitment: Mapped[str] = mapped_column(String(67), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = created_at()


class Tile(Base):
    """Hold the current bytes of one C2SP hash tile: width hashes of 32 bytes, full at width 256."""

    __tablename__ = "ledger_tile"

    # tlog-tiles: level 0 holds leaf hashes; hash i of tile n at level l >= 1 is the root of full tile n*256+i below.
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    width: Mapped[int] = mapped_column(Integer)
    # Invariant: a full tile (width 256) is never rewritten; a partial one only grows by appending hashes.
    data: Mapped[bytes] = mapped_column(LargeBinary)


class PublishedCheckpoint(Base):
    """Keep every checkpoint the log signed, with the cosignature lines witnesses returned for it."""

    __tablename__ = "ledger_checkpoint"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    # The C2SP tlog-checkpoint note text, and the signed note (text, blank line, the log's signature line).
    body: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text)
    # C2SP tlog-cosignature lines, each ending in a newline, appended to the note when served.
    cosignatures: Mapped[str] = mapped_column(Text, default="")
    # Set once a quorum of witnesses has cosigned this checkpoint.
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = created_at()


class LogState(Base):
    """Hold the one row the integrator locks: the integrated tree size and its root."""

    __tablename__ = "ledger_state"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Invariant: size and root equal those of the newest ledger_checkpoint row and of the tiles.
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
