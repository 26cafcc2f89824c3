"""idempotency: stored responses of POST requests made with an Idempotency-Key

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import openzone.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idempotency_response',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('principal', sa.String(length=80), nullable=False),
    sa.Column('scope', sa.String(length=100), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_sha256', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_response')),
    sa.UniqueConstraint('principal', 'scope', 'key', name=op.f('uq_idempotency_response_principal_scope_key'))
    )
    with op.batch_alter_table('idempotency_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_response_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('idempotency_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_response_expires_at'))
    op.drop_table('idempotency_response')
