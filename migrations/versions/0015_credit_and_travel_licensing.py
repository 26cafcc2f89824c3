"""credit: dishonesty records, repairs, objections; travel licensing: applications, licences, obligations, inspections

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import openzone.db

revision = '0015'
down_revision = '0014'
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

    op.create_table('travel_licensing_application',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('applicant_person_id', sa.Uuid(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('legal_rep_id_enc', sa.LargeBinary(), nullable=True),
    sa.Column('legal_rep_index', sa.String(length=64), nullable=True),
    sa.Column('route', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('checks', sa.JSON(), nullable=False),
    sa.Column('notice_sha256', sa.String(length=64), nullable=True),
    sa.Column('commitment_sha256', sa.String(length=64), nullable=True),
    sa.Column('signed_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_due_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.Uuid(), nullable=True),
    sa.Column('automatic', sa.Boolean(), nullable=False),
    sa.Column('refusal_reason', sa.Text(), nullable=False),
    sa.Column('responsible_person_id', sa.Uuid(), nullable=True),
    sa.Column('leaf_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_travel_licensing_application'))
    )
    with op.batch_alter_table('travel_licensing_application', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_travel_licensing_application_legal_rep_index'), ['legal_rep_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_travel_licensing_application_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_travel_licensing_application_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_travel_licensing_application_submitted_at'), ['submitted_at'], unique=False)

    op.create_table('travel_licensing_draw',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('weights', sa.JSON(), nullable=False),
    sa.Column('candidates', sa.JSON(), nullable=False),
    sa.Column('inspectors', sa.JSON(), nullable=False),
    sa.Column('selections', sa.JSON(), nullable=False),
    sa.Column('drawn_by', sa.Uuid(), nullable=True),
    sa.Column('leaf_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_travel_licensing_draw'))
    )
    op.create_table('travel_licensing_officer',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('duty', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_travel_licensing_officer')),
    sa.UniqueConstraint('person_id', 'duty', name=op.f('uq_travel_licensing_officer_person_id_duty'))
    )
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

    op.create_table('travel_licensing_licence',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('route', sa.String(length=16), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('revoked_on', sa.Date(), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.Column('responsible_person_id', sa.Uuid(), nullable=True),
    sa.Column('leaf_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['travel_licensing_application.id'], name=op.f('fk_travel_licensing_licence_application_id_travel_licensing_application')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_travel_licensing_licence')),
    sa.UniqueConstraint('application_id', name=op.f('uq_travel_licensing_licence_application_id')),
    sa.UniqueConstraint('number', name=op.f('uq_travel_licensing_licence_number'))
    )
    with op.batch_alter_table('travel_licensing_licence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_travel_licensing_licence_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_travel_licensing_licence_status'), ['status'], unique=False)

    op.create_table('travel_licensing_bar',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('person_index', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('from_on', sa.Date(), nullable=False),
    sa.Column('until_on', sa.Date(), nullable=False),
    sa.Column('licence_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['licence_id'], ['travel_licensing_licence.id'], name=op.f('fk_travel_licensing_bar_licence_id_travel_licensing_licence')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_travel_licensing_bar'))
    )
    with op.batch_alter_table('travel_licensing_bar', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_travel_licensing_bar_person_index'), ['person_index'], unique=False)

    op.create_table('travel_licensing_breach',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('licence_id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('record_class', sa.String(length=16), nullable=False),
    sa.Column('consequence', sa.String(length=16), nullable=False),
    sa.Column('legal_basis', sa.String(length=200), nullable=False),
    sa.Column('found_on', sa.Date(), nullable=False),
    sa.Column('credit_record_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['licence_id'], ['travel_licensing_licence.id'], name=op.f('fk_travel_licensing_breach_licence_id_travel_licensing_licence')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_travel_licensing_breach'))
    )
    with op.batch_alter_table('travel_licensing_breach', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_travel_licensing_breach_licence_id'), ['licence_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_travel_licensing_breach_org_id'), ['org_id'], unique=False)

    op.create_table('travel_licensing_inspection',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('licence_id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('draw_id', sa.Uuid(), nullable=True),
    sa.Column('inspector_ids', sa.JSON(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('due_adjusted', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=True),
    sa.Column('breach_id', sa.Uuid(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.Uuid(), nullable=True),
    sa.Column('recorded_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['licence_id'], ['travel_licensing_licence.id'], name=op.f('fk_travel_licensing_inspection_licence_id_travel_licensing_licence')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_travel_licensing_inspection'))
    )
    with op.batch_alter_table('travel_licensing_inspection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_travel_licensing_inspection_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_travel_licensing_inspection_licence_id'), ['licence_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_travel_licensing_inspection_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_travel_licensing_inspection_status'), ['status'], unique=False)

    op.create_table('travel_licensing_obligation',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('licence_id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('start_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('rectify_due_on', sa.Date(), nullable=True),
    sa.Column('met_on', sa.Date(), nullable=True),
    sa.Column('on_time', sa.Boolean(), nullable=True),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('bank', sa.String(length=100), nullable=False),
    sa.Column('paid_fen', sa.BigInteger(), nullable=False),
    sa.Column('evidence_name', sa.String(length=200), nullable=False),
    sa.Column('evidence_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['licence_id'], ['travel_licensing_licence.id'], name=op.f('fk_travel_licensing_obligation_licence_id_travel_licensing_licence')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_travel_licensing_obligation'))
    )
    with op.batch_alter_table('travel_licensing_obligation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_travel_licensing_obligation_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_travel_licensing_obligation_licence_id'), ['licence_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_travel_licensing_obligation_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_travel_licensing_obligation_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('travel_licensing_obligation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_travel_licensing_obligation_status'))
        batch_op.drop_index(batch_op.f('ix_travel_licensing_obligation_org_id'))
        batch_op.drop_index(batch_op.f('ix_travel_licensing_obligation_licence_id'))
        batch_op.drop_index(batch_op.f('ix_travel_licensing_obligation_due_on'))

    op.drop_table('travel_licensing_obligation')
    with op.batch_alter_table('travel_licensing_inspection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_travel_licensing_inspection_status'))
        batch_op.drop_index(batch_op.f('ix_travel_licensing_inspection_org_id'))
        batch_op.drop_index(batch_op.f('ix_travel_licensing_inspection_licence_id'))
        batch_op.drop_index(batch_op.f('ix_travel_licensing_inspection_due_on'))

    op.drop_table('travel_licensing_inspection')
    with op.batch_alter_table('travel_licensing_breach', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_travel_licensing_breach_org_id'))
        batch_op.drop_index(batch_op.f('ix_travel_licensing_breach_licence_id'))

    op.drop_table('travel_licensing_breach')
    with op.batch_alter_table('travel_licensing_bar', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_travel_licensing_bar_person_index'))

    op.drop_table('travel_licensing_bar')
    with op.batch_alter_table('travel_licensing_licence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_travel_licensing_licence_status'))
        batch_op.drop_index(batch_op.f('ix_travel_licensing_licence_org_id'))

    op.drop_table('travel_licensing_licence')
    with op.batch_alter_table('credit_repair', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_repair_record_id'))

    op.drop_table('credit_repair')
    with op.batch_alter_table('credit_objection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_objection_record_id'))

    op.drop_table('credit_objection')
    op.drop_table('travel_licensing_officer')
    op.drop_table('travel_licensing_draw')
    with op.batch_alter_table('travel_licensing_application', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_travel_licensing_application_submitted_at'))
        batch_op.drop_index(batch_op.f('ix_travel_licensing_application_status'))
        batch_op.drop_index(batch_op.f('ix_travel_licensing_application_org_id'))
        batch_op.drop_index(batch_op.f('ix_travel_licensing_application_legal_rep_index'))

    op.drop_table('travel_licensing_application')
    with op.batch_alter_table('credit_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_record_subject_person_id'))
        batch_op.drop_index(batch_op.f('ix_credit_record_subject_org_id'))
        batch_op.drop_index(batch_op.f('ix_credit_record_status'))
        batch_op.drop_index(batch_op.f('ix_credit_record_source'))
        batch_op.drop_index(batch_op.f('ix_credit_record_record_class'))
        batch_op.drop_index(batch_op.f('ix_credit_record_publish_until'))

    op.drop_table('credit_record')
