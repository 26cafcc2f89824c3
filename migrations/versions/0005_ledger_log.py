"""ledger log: tiles, signed checkpoints, integrator state, entry leaf hashes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa
from alembic import op

import openzone.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leaf_hash', sa.LargeBinary(), nullable=True))
        batch_op.create_index(batch_op.f('ix_ledger_entry_leaf_hash'), ['leaf_hash'], unique=False)
        batch_op.create_index('ix_ledger_entry_pending', ['created_at', 'id'], unique=False,
                              sqlite_where=sa.text('leaf_index IS NULL'), postgresql_where=sa.text('leaf_index IS NULL'))

    op.create_table('ledger_tile',
    sa.Column('level', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_ledger_tile'))
    )
    op.create_table('ledger_checkpoint',
    sa.Column('size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root', sa.LargeBinary(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('cosignatures', sa.Text(), nullable=False),
    sa.Column('final', sa.Boolean(), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('size', name=op.f('pk_ledger_checkpoint'))
    )
    state = op.create_table('ledger_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('root', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_ledger_state_one_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_state'))
    )
    # The integrator locks this row; it exists from the start so that two first runs queue on it.
    # RFC 9162 §2.1.1: the root of the empty tree is SHA-256 of the empty string.
    op.bulk_insert(state, [{'id': 1, 'size': 0, 'root': hashlib.sha256(b'').digest(),
                            'updated_at': dt.datetime.now(dt.UTC)}])


def downgrade() -> None:
    op.drop_table('ledger_state')
    op.drop_table('ledger_checkpoint')
    op.drop_table('ledger_tile')
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entry_pending')
        batch_op.drop_index(batch_op.f('ix_ledger_entry_leaf_hash'))
        batch_op.drop_column('leaf_hash')
