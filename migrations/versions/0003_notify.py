"""notification outbox and inbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import openzone.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notify_message',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('address_enc', sa.LargeBinary(), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('subject_en', sa.String(length=200), nullable=False),
    sa.Column('body_en', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=200), nullable=True),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('read_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("channel IN ('inbox', 'email', 'sms', 'console')", name=op.f('ck_notify_message_channel')),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f('ck_notify_message_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_message')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_notify_message_dedupe_key'))
    )
    with op.batch_alter_table('notify_message', schema=None) as batch_op:
        batch_op.create_index('ix_notify_message_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_notify_message_inbox', ['person_id', 'channel', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notify_message', schema=None) as batch_op:
        batch_op.drop_index('ix_notify_message_inbox')
        batch_op.drop_index('ix_notify_message_due')

    op.drop_table('notify_message')
