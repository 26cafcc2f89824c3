"""trade_vault: blobs, documents, shipment dossiers and their keys, grants to banks, bank pulls, profile reports

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import openzone.db

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('trade_vault_blob',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_trade_vault_blob'))
    )
    op.create_table('trade_vault_dossier',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('updated_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trade_vault_dossier'))
    )
    with op.batch_alter_table('trade_vault_dossier', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trade_vault_dossier_org_id'), ['org_id'], unique=False)

    op.create_table('trade_vault_pull',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('bank_org_id', sa.Uuid(), nullable=False),
    sa.Column('grant_id', sa.Uuid(), nullable=False),
    sa.Column('resource_kind', sa.String(length=32), nullable=False),
    sa.Column('resource_id', sa.String(length=64), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('documents', sa.Integer(), nullable=False),
    sa.Column('leaf_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trade_vault_pull'))
    )
    with op.batch_alter_table('trade_vault_pull', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trade_vault_pull_bank_org_id'), ['bank_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trade_vault_pull_org_id'), ['org_id'], unique=False)

    op.create_table('trade_vault_report',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('leaf_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trade_vault_report'))
    )
    with op.batch_alter_table('trade_vault_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trade_vault_report_org_id'), ['org_id'], unique=False)

    op.create_table('trade_vault_share',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('grant_id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('bank_org_id', sa.Uuid(), nullable=False),
    sa.Column('resource_kind', sa.String(length=32), nullable=False),
    sa.Column('resource_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trade_vault_share')),
    sa.UniqueConstraint('grant_id', name=op.f('uq_trade_vault_share_grant_id'))
    )
    with op.batch_alter_table('trade_vault_share', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trade_vault_share_bank_org_id'), ['bank_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trade_vault_share_org_id'), ['org_id'], unique=False)

    op.create_table('trade_vault_document',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('file_kind', sa.String(length=8), nullable=False),
    sa.Column('doc_type', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=100), nullable=False),
    sa.Column('category', sa.String(length=24), nullable=False),
    sa.Column('category_manual', sa.Boolean(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total', sa.String(length=40), nullable=False),
    sa.Column('counterparty', sa.String(length=200), nullable=False),
    sa.Column('country', sa.String(length=8), nullable=False),
    sa.Column('dossier_id', sa.Uuid(), nullable=True),
    sa.Column('retention_start_on', sa.Date(), nullable=False),
    sa.Column('retain_until', sa.Date(), nullable=False),
    sa.Column('retention_rule', sa.String(length=32), nullable=False),
    sa.Column('rebate_set', sa.Boolean(), nullable=False),
    sa.Column('sample', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('uploaded_by', sa.Uuid(), nullable=True),
    sa.Column('leaf_hash', sa.String(length=64), nullable=False),
    sa.Column('withdrawn_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_reason', sa.Text(), nullable=False),
    sa.Column('withdrawn_leaf', sa.String(length=64), nullable=True),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['trade_vault_dossier.id'], name=op.f('fk_trade_vault_document_dossier_id_trade_vault_dossier'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sha256'], ['trade_vault_blob.sha256'], name=op.f('fk_trade_vault_document_sha256_trade_vault_blob')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trade_vault_document')),
    sa.UniqueConstraint('org_id', 'sha256', name=op.f('uq_trade_vault_document_org_id_sha256'))
    )
    with op.batch_alter_table('trade_vault_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trade_vault_document_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_trade_vault_document_counterparty'), ['counterparty'], unique=False)
        batch_op.create_index(batch_op.f('ix_trade_vault_document_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_trade_vault_document_dossier_id'), ['dossier_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trade_vault_document_number'), ['number'], unique=False)
        batch_op.create_index(batch_op.f('ix_trade_vault_document_org_id'), ['org_id'], unique=False)

    op.create_table('trade_vault_dossier_key',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('dossier_id', sa.Uuid(), nullable=False),
    sa.Column('key_type', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['trade_vault_dossier.id'], name=op.f('fk_trade_vault_dossier_key_dossier_id_trade_vault_dossier'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trade_vault_dossier_key')),
    sa.UniqueConstraint('org_id', 'key_type', 'value', name=op.f('uq_trade_vault_dossier_key_org_id_key_type_value'))
    )
    with op.batch_alter_table('trade_vault_dossier_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trade_vault_dossier_key_dossier_id'), ['dossier_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('trade_vault_dossier_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trade_vault_dossier_key_dossier_id'))

    op.drop_table('trade_vault_dossier_key')
    with op.batch_alter_table('trade_vault_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trade_vault_document_org_id'))
        batch_op.drop_index(batch_op.f('ix_trade_vault_document_number'))
        batch_op.drop_index(batch_op.f('ix_trade_vault_document_dossier_id'))
        batch_op.drop_index(batch_op.f('ix_trade_vault_document_created_at'))
        batch_op.drop_index(batch_op.f('ix_trade_vault_document_counterparty'))
        batch_op.drop_index(batch_op.f('ix_trade_vault_document_category'))

    op.drop_table('trade_vault_document')
    with op.batch_alter_table('trade_vault_share', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trade_vault_share_org_id'))
        batch_op.drop_index(batch_op.f('ix_trade_vault_share_bank_org_id'))

    op.drop_table('trade_vault_share')
    with op.batch_alter_table('trade_vault_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trade_vault_report_org_id'))

    op.drop_table('trade_vault_report')
    with op.batch_alter_table('trade_vault_pull', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trade_vault_pull_org_id'))
        batch_op.drop_index(batch_op.f('ix_trade_vault_pull_bank_org_id'))

    op.drop_table('trade_vault_pull')
    with op.batch_alter_table('trade_vault_dossier', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trade_vault_dossier_org_id'))

    op.drop_table('trade_vault_dossier')
    op.drop_table('trade_vault_blob')
