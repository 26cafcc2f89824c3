"""consent: grants, presentations, access records and copies kept under a grant

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import openzone.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consent_grant',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('holder_kind', sa.String(length=16), nullable=False),
    sa.Column('holder_id', sa.Uuid(), nullable=True),
    sa.Column('holder_commitment', sa.String(length=67), nullable=False),
    sa.Column('requester_org_id', sa.Uuid(), nullable=False),
    sa.Column('requester_name', sa.String(length=200), nullable=False),
    sa.Column('requester_hall', sa.String(length=64), nullable=True),
    sa.Column('requester_window', sa.String(length=64), nullable=True),
    sa.Column('requester_clerk_id', sa.Uuid(), nullable=True),
    sa.Column('requester_client_id', sa.Uuid(), nullable=True),
    sa.Column('scope', sa.JSON(), nullable=False),
    sa.Column('purpose_code', sa.String(length=64), nullable=False),
    sa.Column('purpose_text', sa.String(length=500), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('valid_from', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_until', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('use_mode', sa.String(length=16), nullable=False),
    sa.Column('max_uses', sa.Integer(), nullable=False),
    sa.Column('uses', sa.Integer(), nullable=False),
    sa.Column('frequency', sa.String(length=16), nullable=True),
    sa.Column('frequency_uses', sa.Integer(), nullable=True),
    sa.Column('data_life_days', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('approved_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('erased_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_leaf', sa.LargeBinary(length=32), nullable=False),
    sa.Column('ended_leaf', sa.LargeBinary(length=32), nullable=True),
    sa.CheckConstraint("holder_kind IN ('person', 'organisation')", name=op.f('ck_consent_grant_holder_kind')),
    sa.CheckConstraint("status IN ('pending', 'active', 'used', 'expired', 'revoked', 'declined')", name=op.f('ck_consent_grant_status')),
    sa.CheckConstraint("use_mode IN ('single', 'count', 'periodic')", name=op.f('ck_consent_grant_use_mode')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_grant'))
    )
    with op.batch_alter_table('consent_grant', schema=None) as batch_op:
        batch_op.create_index('ix_consent_grant_holder', ['holder_kind', 'holder_id', 'created_at'], unique=False)
        batch_op.create_index('ix_consent_grant_requester', ['requester_org_id', 'status'], unique=False)

    op.create_table('consent_access',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('grant_id', sa.Uuid(), nullable=True),
    sa.Column('presentation_id', sa.Uuid(), nullable=True),
    sa.Column('holder_kind', sa.String(length=16), nullable=True),
    sa.Column('holder_id', sa.Uuid(), nullable=True),
    sa.Column('requester_org_id', sa.Uuid(), nullable=False),
    sa.Column('hall', sa.String(length=64), nullable=True),
    sa.Column('window', sa.String(length=64), nullable=True),
    sa.Column('clerk_id', sa.Uuid(), nullable=True),
    sa.Column('client_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('resource_kind', sa.String(length=64), nullable=True),
    sa.Column('resource_id', sa.String(length=128), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('purpose_code', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('holder_commitment', sa.String(length=67), nullable=True),
    sa.Column('resource_commitment', sa.String(length=67), nullable=True),
    sa.CheckConstraint("action IN ('use', 'redeem')", name=op.f('ck_consent_access_action')),
    sa.CheckConstraint("outcome IN ('allowed', 'refused')", name=op.f('ck_consent_access_outcome')),
    sa.ForeignKeyConstraint(['grant_id'], ['consent_grant.id'], name=op.f('fk_consent_access_grant_id_consent_grant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_access'))
    )
    with op.batch_alter_table('consent_access', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_access_grant_id'), ['grant_id'], unique=False)
        batch_op.create_index('ix_consent_access_holder', ['holder_kind', 'holder_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_access_leaf_hash'), ['leaf_hash'], unique=False)

    op.create_table('consent_presentation',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('grant_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('requester_org_id', sa.Uuid(), nullable=False),
    sa.Column('hall', sa.String(length=64), nullable=True),
    sa.Column('window', sa.String(length=64), nullable=True),
    sa.Column('expires_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('locked_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('redeemed_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('qr', 'code', 'sms')", name=op.f('ck_consent_presentation_kind')),
    sa.ForeignKeyConstraint(['grant_id'], ['consent_grant.id'], name=op.f('fk_consent_presentation_grant_id_consent_grant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_presentation'))
    )
    with op.batch_alter_table('consent_presentation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_presentation_grant_id'), ['grant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_presentation_secret_hash'), ['secret_hash'], unique=False)
        batch_op.create_index('ix_consent_presentation_window', ['requester_org_id', 'window', 'expires_at'], unique=False)

    op.create_table('consent_copy',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('grant_id', sa.Uuid(), nullable=False),
    sa.Column('access_id', sa.Uuid(), nullable=False),
    sa.Column('requester_org_id', sa.Uuid(), nullable=False),
    sa.Column('resource_kind', sa.String(length=64), nullable=False),
    sa.Column('payload_enc', sa.LargeBinary(), nullable=True),
    sa.Column('delete_after', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_leaf', sa.LargeBinary(length=32), nullable=True),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['access_id'], ['consent_access.id'], name=op.f('fk_consent_copy_access_id_consent_access')),
    sa.ForeignKeyConstraint(['grant_id'], ['consent_grant.id'], name=op.f('fk_consent_copy_grant_id_consent_grant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_copy'))
    )
    with op.batch_alter_table('consent_copy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_copy_delete_after'), ['delete_after'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_copy_grant_id'), ['grant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('consent_copy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_copy_grant_id'))
        batch_op.drop_index(batch_op.f('ix_consent_copy_delete_after'))

    op.drop_table('consent_copy')
    with op.batch_alter_table('consent_presentation', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_presentation_window')
        batch_op.drop_index(batch_op.f('ix_consent_presentation_secret_hash'))
        batch_op.drop_index(batch_op.f('ix_consent_presentation_grant_id'))

    op.drop_table('consent_presentation')
    with op.batch_alter_table('consent_access', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_access_leaf_hash'))
        batch_op.drop_index('ix_consent_access_holder')
        batch_op.drop_index(batch_op.f('ix_consent_access_grant_id'))

    op.drop_table('consent_access')
    with op.batch_alter_table('consent_grant', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_grant_requester')
        batch_op.drop_index('ix_consent_grant_holder')

    op.drop_table('consent_grant')
