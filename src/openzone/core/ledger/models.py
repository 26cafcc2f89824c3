"""Tables owned by the ledger: entries, commitment salts, and the integrated log (tiles, checkpoints, state)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Index, Integer, LargeBinary, String, Text, Uuid, select, text
from sqlalchemy.orm import Mapped, column_property, mapped_column

from openzone.db import Base, UTCDateTime, created_at


class Leaf(Base):
    """Give an integrated entry its place in the log: leaf index, the entry's seq, and a key to find it by leaf hash."""

    __tablename__ = "ledger_leaf"
    # Written only by the integrator, one INSERT … SELECT per batch: appending narrow rows in leaf-index order cost a
    # fifth of the UPDATE that used to mark every entry row (a row rewrite, the whole table again in SQLite's WAL;
    # docs/performance.md, 2026-11-29). The random leaf-key inserts stay in the integrator's large transaction.
    __table_args__ = (
        Index("uq_ledger_leaf_seq", "seq", unique=True),
        Index("ix_ledger_leaf_leaf_key", "leaf_key"),
    )

    # On SQLite the rowid itself, so the log index costs no index of its own.
    leaf_index: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                            autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    # The first 8 bytes of the entry's leaf hash as a signed big-endian integer: a receipt names the hash.
    leaf_key: Mapped[int] = mapped_column(BigInteger)


class Queued(Base):
    """Mark an entry recorded but not yet integrated (PostgreSQL only; on SQLite the seq order is the commit order).

    A trigger on ledger_entry inserts the row (migration 0020): PostgreSQL hands out seq values before commit, so a
    transaction may commit an entry below one already integrated, and only a per-entry mark finds it.
    """

    __tablename__ = "ledger_queue"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                     autoincrement=False)


class Entry(Base):
    """Hold one ledger entry's canonical bytes, written in the recording transaction and never changed."""

    __tablename__ = "ledger_entry"
    # AUTOINCREMENT: a rowid is never handed out twice, even after the largest row is deleted.
    __table_args__ = ({"sqlite_autoincrement": True},)

    # Insertion order; on SQLite the rowid itself, and the order in which entries commit (writers serialise on
    # BEGIN IMMEDIATE and a new rowid is above every one handed out before), which is how the integrator finds new
    # entries there. Not the log index: on PostgreSQL seq values commit out of order.
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                     autoincrement=True)
    # No created_at: the entry's own "time" member is the record time (and the signed one).
    event_type: Mapped[str] = mapped_column(String(64))
    # An id column, not a foreign key: entries outlive any row they mention.
    actor_org_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Invariant: body is the RFC 8785 form of the entry and is never rewritten.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # RFC 9162 leaf hash SHA-256(0x00 || body), computed when recorded; leaf_key is its first 8 bytes as a signed
    # big-endian integer, copied to ledger_leaf when integrated.
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_key: Mapped[int] = mapped_column(BigInteger)
    # The log index once integrated, else None: read from ledger_leaf.
    leaf_index: Mapped[int | None] = column_property(
        select(Leaf.leaf_index).where(Leaf.seq == seq).correlate_except(Leaf).scalar_subquery())


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
    # Receipts lead to the newest final checkpoint; most are not final (migration 0021).
    __table_args__ = (Index("ix_ledger_checkpoint_final", "size", postgresql_where=text("final"),
                            sqlite_where=text("final = 1")),)

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
