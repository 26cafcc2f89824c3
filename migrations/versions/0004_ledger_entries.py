"""ledger pending entries and salts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import openzone.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ledger_entry',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('actor_org_id', sa.Uuid(), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('leaf_index', sa.BigInteger(), nullable=True),
    sa.Column('integrated_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entry')),
    sa.UniqueConstraint('leaf_index', name=op.f('uq_ledger_entry_leaf_index'))
    )
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entry_actor_org_id'), ['actor_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entry_body_sha256'), ['body_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entry_event_type'), ['event_type'], unique=False)

    op.create_table('ledger_salt',
    sa.Column('commitment', sa.String(length=67), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('salt', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('commitment', name=op.f('pk_ledger_salt'))
    )


def downgrade() -> None:
    op.drop_table('ledger_salt')
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entry_event_type'))
        batch_op.drop_index(batch_op.f('ix_ledger_entry_body_sha256'))
        batch_op.drop_index(batch_op.f('ix_ledger_entry_actor_org_id'))

    op.drop_table('ledger_entry')
