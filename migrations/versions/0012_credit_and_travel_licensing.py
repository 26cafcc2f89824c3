"""credit: dishonesty records, repairs, objections; travel licensing: applications, licences, obligations, inspections

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import openzone.db

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('credit_record',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_org_id', sa.Uuid(), nullable=True),
    sa.Column('subject_person_id', sa.Uuid(), nullable=True),
    sa.Column('subject_name', sa.String(length=200), nullable=False),
    sa.Column('subject_code', sa.String(length=18), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('record_class', sa.String(length=16), nullable=False),
    sa.Column('rulebook', sa.String(length=20), nullable=False),
    sa.Column('legal_basis', sa.String(length=300), nullable=False),
    sa.Column('legal_basis_en', sa.String(length=300), nullable=False),
    sa.Column('facts', sa.Text(), nullable=False),
    sa.Column('facts_en', sa.Text(), nullable=False),
    sa.Column('finding_on', sa.Date(), nullable=False),
    sa.Column('decided_by_org_id', sa.Uuid(), nullable=True),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('publish_from', sa.Date(), nullable=False),
    sa.Column('publish_until', sa.Date(), nullable=False),
    sa.Column('repair_from', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('disputed', sa.Boolean(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('leaf_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_record'))
    )
    with op.batch_alter_table('credit_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_record_publish_until'), ['publish_until'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_record_record_class'), ['record_class'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_record_source'), ['source'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_record_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_record_subject_org_id'), ['subject_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_record_subject_person_id'), ['subject_person_id'], unique=False)

    op.create_table('credit_objection',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('record_id', sa.Uuid(), nullable=False),
    sa.Column('applicant_org_id', sa.Uuid(), nullable=True),
    sa.Column('grounds', sa.Text(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['credit_record.id'], name=op.f('fk_credit_objection_record_id_credit_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_objection'))
    )
    with op.batch_alter_table('credit_objection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_objection_record_id'), ['record_id'], unique=False)

    op.create_table('credit_repair',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('record_id', sa.Uuid(), nullable=False),
    sa.Column('applicant_org_id', sa.Uuid(), nullable=True),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('commitment_text', sa.Text(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['credit_record.id'], name=op.f('fk_credit_repair_record_id_credit_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_repair'))
    )
    with op.batch_alter_table('credit_repair', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_repair_record_id'), ['record_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('credit_repair', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_repair_record_id'))

    op.drop_table('credit_repair')
    with op.batch_alter_table('credit_objection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_objection_record_id'))

    op.drop_table('credit_objection')
    with op.batch_alter_table('credit_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_record_subject_person_id'))
        batch_op.drop_index(batch_op.f('ix_credit_record_subject_org_id'))
        batch_op.drop_index(batch_op.f('ix_credit_record_status'))
        batch_op.drop_index(batch_op.f('ix_credit_record_source'))
        batch_op.drop_index(batch_op.f('ix_credit_record_record_class'))
        batch_op.drop_index(batch_op.f('ix_credit_record_publish_until'))

    op.drop_table('credit_record')
