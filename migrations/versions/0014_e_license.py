"""e_license: issuers, licenses, status lists, windows, accredited clerks, applications and their attachments

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import openzone.db

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('e_license_issuer',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('public_multikey', sa.String(length=64), nullable=False),
    sa.Column('license_types', sa.JSON(), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_e_license_issuer')),
    sa.UniqueConstraint('org_id', name=op.f('uq_e_license_issuer_org_id'))
    )
    op.create_table('e_license_window',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('hall_org_id', sa.Uuid(), nullable=False),
    sa.Column('hall_code', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('online', sa.Boolean(), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_e_license_window')),
    sa.UniqueConstraint('hall_org_id', 'code', name=op.f('uq_e_license_window_hall_org_id_code'))
    )
    with op.batch_alter_table('e_license_window', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_e_license_window_hall_org_id'), ['hall_org_id'], unique=False)

    op.create_table('e_license_application',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('matter_code', sa.String(length=8), nullable=False),
    sa.Column('window_id', sa.Uuid(), nullable=False),
    sa.Column('hall_org_id', sa.Uuid(), nullable=False),
    sa.Column('clerk_person_id', sa.Uuid(), nullable=True),
    sa.Column('applicant_kind', sa.String(length=16), nullable=True),
    sa.Column('applicant_id', sa.Uuid(), nullable=True),
    sa.Column('grant_id', sa.Uuid(), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['window_id'], ['e_license_window.id'], name=op.f('fk_e_license_application_window_id_e_license_window')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_e_license_application'))
    )
    with op.batch_alter_table('e_license_application', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_e_license_application_hall_org_id'), ['hall_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_e_license_application_matter_code'), ['matter_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_e_license_application_window_id'), ['window_id'], unique=False)

    op.create_table('e_license_clerk',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('window_id', sa.Uuid(), nullable=False),
    sa.Column('accredited_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['window_id'], ['e_license_window.id'], name=op.f('fk_e_license_clerk_window_id_e_license_window')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_e_license_clerk')),
    sa.UniqueConstraint('person_id', name=op.f('uq_e_license_clerk_person_id'))
    )
    with op.batch_alter_table('e_license_clerk', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_e_license_clerk_window_id'), ['window_id'], unique=False)

    op.create_table('e_license_license',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('issuer_id', sa.Uuid(), nullable=False),
    sa.Column('type_code', sa.String(length=48), nullable=False),
    sa.Column('number', sa.String(length=100), nullable=False),
    sa.Column('holder_kind', sa.String(length=16), nullable=False),
    sa.Column('holder_id', sa.Uuid(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('valid_from_on', sa.Date(), nullable=False),
    sa.Column('valid_until_on', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=False),
    sa.Column('status_changed_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status_index', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('vc', sa.JSON(), nullable=False),
    sa.Column('vc_digest', sa.String(length=64), nullable=False),
    sa.Column('updated_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['issuer_id'], ['e_license_issuer.id'], name=op.f('fk_e_license_license_issuer_id_e_license_issuer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_e_license_license')),
    sa.UniqueConstraint('issuer_id', 'status_index', name=op.f('uq_e_license_license_issuer_id_status_index')),
    sa.UniqueConstraint('issuer_id', 'type_code', 'number', name=op.f('uq_e_license_license_issuer_id_type_code_number'))
    )
    with op.batch_alter_table('e_license_license', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_e_license_license_holder_id'), ['holder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_e_license_license_issuer_id'), ['issuer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_e_license_license_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_e_license_license_type_code'), ['type_code'], unique=False)

    op.create_table('e_license_status_list',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('issuer_id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('bits', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['issuer_id'], ['e_license_issuer.id'], name=op.f('fk_e_license_status_list_issuer_id_e_license_issuer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_e_license_status_list')),
    sa.UniqueConstraint('issuer_id', 'purpose', name=op.f('uq_e_license_status_list_issuer_id_purpose'))
    )
    op.create_table('e_license_attachment',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('license_id', sa.Uuid(), nullable=False),
    sa.Column('type_code', sa.String(length=48), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('materials', sa.JSON(), nullable=False),
    sa.Column('copy_id', sa.Uuid(), nullable=True),
    sa.Column('access_id', sa.Uuid(), nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('license_status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=False),
    sa.Column('retrieved_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['e_license_application.id'], name=op.f('fk_e_license_attachment_application_id_e_license_application')),
    sa.ForeignKeyConstraint(['license_id'], ['e_license_license.id'], name=op.f('fk_e_license_attachment_license_id_e_license_license')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_e_license_attachment')),
    sa.UniqueConstraint('application_id', 'license_id', name=op.f('uq_e_license_attachment_application_id_license_id'))
    )
    with op.batch_alter_table('e_license_attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_e_license_attachment_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_e_license_attachment_license_id'), ['license_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_e_license_attachment_retrieved_at'), ['retrieved_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('e_license_attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_e_license_attachment_retrieved_at'))
        batch_op.drop_index(batch_op.f('ix_e_license_attachment_license_id'))
        batch_op.drop_index(batch_op.f('ix_e_license_attachment_application_id'))

    op.drop_table('e_license_attachment')
    op.drop_table('e_license_status_list')
    with op.batch_alter_table('e_license_license', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_e_license_license_type_code'))
        batch_op.drop_index(batch_op.f('ix_e_license_license_status'))
        batch_op.drop_index(batch_op.f('ix_e_license_license_issuer_id'))
        batch_op.drop_index(batch_op.f('ix_e_license_license_holder_id'))

    op.drop_table('e_license_license')
    with op.batch_alter_table('e_license_clerk', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_e_license_clerk_window_id'))

    op.drop_table('e_license_clerk')
    with op.batch_alter_table('e_license_application', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_e_license_application_window_id'))
        batch_op.drop_index(batch_op.f('ix_e_license_application_matter_code'))
        batch_op.drop_index(batch_op.f('ix_e_license_application_hall_org_id'))

    op.drop_table('e_license_application')
    with op.batch_alter_table('e_license_window', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_e_license_window_hall_org_id'))

    op.drop_table('e_license_window')
    op.drop_table('e_license_issuer')
