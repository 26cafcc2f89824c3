"""ledger entries keyed by insertion order, with the leaf hash stored when recorded

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

Rebuilds ledger_entry for speed (docs/performance.md, "Ledger"): an integer key in insertion order instead of a
UUIDv7, the leaf hash computed when an entry is recorded, a 64-bit leaf key instead of an index on the 32-byte hash,
a partial unique index on leaf_index, no indexes on event_type, actor and body SHA-256, which nothing queries, and no
created_at, since every entry states its record time in its own "time" member.
Rows are copied in their log order, so integrated entries keep their index and pending ones their queue order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import sqlalchemy as sa
from alembic import op

import openzone.db
from openzone.kit.ids import new_id

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COPY_CHUNK = 5000


def _create_new() -> None:
    op.create_table('ledger_entry',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('actor_org_id', sa.Uuid(), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(), nullable=False),
    sa.Column('leaf_key', sa.BigInteger(), nullable=False),
    sa.Column('leaf_index', sa.BigInteger(), nullable=True),
    sa.Column('integrated_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_ledger_entry'))
    )
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entry_leaf_key'), ['leaf_key'], unique=False)
        batch_op.create_index('ix_ledger_entry_pending', ['seq'], unique=False,
                              sqlite_where=sa.text('leaf_index IS NULL'), postgresql_where=sa.text('leaf_index IS NULL'))
        batch_op.create_index('uq_ledger_entry_leaf_index', ['leaf_index'], unique=True,
                              sqlite_where=sa.text('leaf_index IS NOT NULL'),
                              postgresql_where=sa.text('leaf_index IS NOT NULL'))


def _rename_old(drop_indexes: list[str], constraints: list[str]) -> None:
    # Index and (on PostgreSQL) constraint names are global: free them before the new table takes them.
    for name in drop_indexes:
        op.drop_index(name, table_name='ledger_entry')
    op.rename_table('ledger_entry', 'ledger_entry_old')
    if op.get_bind().dialect.name == 'postgresql':
        for name in constraints:
            op.execute(f'ALTER TABLE ledger_entry_old RENAME CONSTRAINT {name} TO {name}_old')


def upgrade() -> None:
    _rename_old(['ix_ledger_entry_actor_org_id', 'ix_ledger_entry_body_sha256', 'ix_ledger_entry_event_type',
                 'ix_ledger_entry_leaf_hash', 'ix_ledger_entry_pending'],
                ['pk_ledger_entry', 'uq_ledger_entry_leaf_index'])
    _create_new()
    bind = op.get_bind()
    old = sa.table('ledger_entry_old', sa.column('id', sa.Uuid()), sa.column('created_at', openzone.db.UTCDateTime()),
                   sa.column('event_type', sa.String()), sa.column('actor_org_id', sa.Uuid()),
                   sa.column('body', sa.LargeBinary()), sa.column('leaf_index', sa.BigInteger()),
                   sa.column('integrated_at', openzone.db.UTCDateTime()))
    new = sa.table('ledger_entry', sa.column('event_type', sa.String()), sa.column('actor_org_id', sa.Uuid()),
                   sa.column('body', sa.LargeBinary()), sa.column('leaf_hash', sa.LargeBinary()),
                   sa.column('leaf_key', sa.BigInteger()), sa.column('leaf_index', sa.BigInteger()),
                   sa.column('integrated_at', openzone.db.UTCDateTime()))
    # Integrated entries in index order, then pending ones in the order the integrator would have taken them.
    rows = bind.execute(sa.select(old.c.event_type, old.c.actor_org_id, old.c.body, old.c.leaf_index,
                                  old.c.integrated_at)
                        .order_by(old.c.leaf_index.is_(None), old.c.leaf_index, old.c.created_at, old.c.id))
    while chunk := rows.fetchmany(COPY_CHUNK):
        values = []
        for event_type, actor, body, leaf_index, integrated_at in chunk:
            leaf = hashlib.sha256(b"\x00" + bytes(body)).digest()
            values.append({"event_type": event_type, "actor_org_id": actor,
                           "body": bytes(body), "leaf_hash": leaf, "leaf_key": int.from_bytes(leaf[:8], "big", signed=True),
                           "leaf_index": leaf_index, "integrated_at": integrated_at})
        bind.execute(new.insert(), values)
    op.drop_table('ledger_entry_old')


def _entry_time(body: bytes) -> dt.datetime:
    # Version-1 entries carry their record time as "time", RFC 3339 UTC with milliseconds.
    return dt.datetime.strptime(json.loads(bytes(body))["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def downgrade() -> None:
    _rename_old(['ix_ledger_entry_leaf_key', 'ix_ledger_entry_pending', 'uq_ledger_entry_leaf_index'],
                ['pk_ledger_entry'])
    op.create_table('ledger_entry',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('actor_org_id', sa.Uuid(), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('leaf_index', sa.BigInteger(), nullable=True),
    sa.Column('integrated_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('leaf_hash', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entry')),
    sa.UniqueConstraint('leaf_index', name=op.f('uq_ledger_entry_leaf_index'))
    )
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entry_actor_org_id'), ['actor_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entry_body_sha256'), ['body_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entry_event_type'), ['event_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entry_leaf_hash'), ['leaf_hash'], unique=False)
        batch_op.create_index('ix_ledger_entry_pending', ['created_at', 'id'], unique=False,
                              sqlite_where=sa.text('leaf_index IS NULL'), postgresql_where=sa.text('leaf_index IS NULL'))
    bind = op.get_bind()
    old = sa.table('ledger_entry_old', sa.column('seq', sa.BigInteger()), sa.column('event_type', sa.String()), sa.column('actor_org_id', sa.Uuid()),
                   sa.column('body', sa.LargeBinary()), sa.column('leaf_hash', sa.LargeBinary()),
                   sa.column('leaf_index', sa.BigInteger()), sa.column('integrated_at', openzone.db.UTCDateTime()))
    new = sa.table('ledger_entry', sa.column('id', sa.Uuid()), sa.column('created_at', openzone.db.UTCDateTime()),
                   sa.column('event_type', sa.String()), sa.column('actor_org_id', sa.Uuid()),
                   sa.column('body', sa.LargeBinary()), sa.column('body_sha256', sa.String()),
                   sa.column('leaf_index', sa.BigInteger()), sa.column('integrated_at', openzone.db.UTCDateTime()),
                   sa.column('leaf_hash', sa.LargeBinary()))
    rows = bind.execute(sa.select(old.c.event_type, old.c.actor_org_id, old.c.body, old.c.leaf_hash, old.c.leaf_index,
                                  old.c.integrated_at).order_by(old.c.seq))
    while chunk := rows.fetchmany(COPY_CHUNK):
        bind.execute(new.insert(), [
            {"id": new_id(), "created_at": _entry_time(body), "event_type": event_type, "actor_org_id": actor,
             "body": bytes(body), "body_sha256": hashlib.sha256(bytes(body)).hexdigest(), "leaf_index": leaf_index,
             "integrated_at": integrated_at, "leaf_hash": bytes(leaf) if leaf_index is not None else None}
            for event_type, actor, body, leaf, leaf_index, integrated_at in chunk])
    op.drop_table('ledger_entry_old')
