"""ledger witness registry

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import openzone.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ledger_witness',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('vkey', sa.String(length=400), nullable=False),
    sa.Column('public_key', sa.String(length=64), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('last_size', sa.BigInteger(), nullable=False),
    sa.Column('last_cosigned_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_en', sa.Text(), nullable=True),
    sa.Column('last_error_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_witness')),
    sa.UniqueConstraint('name', name=op.f('uq_ledger_witness_name')),
    sa.UniqueConstraint('public_key', name=op.f('uq_ledger_witness_public_key'))
    )


def downgrade() -> None:
    op.drop_table('ledger_witness')
