"""standards: library, numbers, replacements, amendments, changes, regulators, joint drafts, shared notices

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import openzone.db

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('standards_notice',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('region', sa.String(length=2), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('org_name', sa.String(length=200), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards_notice'))
    )
    with op.batch_alter_table('standards_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standards_notice_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_standards_notice_kind'), ['kind'], unique=False)

    op.create_table('standards_regulator',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('region', sa.String(length=2), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('contact_person_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards_regulator')),
    sa.UniqueConstraint('org_id', name=op.f('uq_standards_regulator_org_id')),
    sa.UniqueConstraint('region', name=op.f('uq_standards_regulator_region'))
    )
    op.create_table('standards_standard',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('title_zh', sa.String(length=300), nullable=False),
    sa.Column('title_en', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('effective_on', sa.Date(), nullable=True),
    sa.Column('withdrawn_on', sa.Date(), nullable=True),
    sa.Column('ics', sa.String(length=20), nullable=False),
    sa.Column('ccs', sa.String(length=10), nullable=False),
    sa.Column('department', sa.String(length=200), nullable=False),
    sa.Column('drafters', sa.JSON(), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_source', sa.String(length=300), nullable=False),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('joint', sa.Boolean(), nullable=False),
    sa.Column('sample', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('updated_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards_standard'))
    )
    with op.batch_alter_table('standards_standard', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standards_standard_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_standards_standard_updated_at'), ['updated_at'], unique=False)

    op.create_table('standards_amendment',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('standard_id', sa.Uuid(), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['standard_id'], ['standards_standard.id'], name=op.f('fk_standards_amendment_standard_id_standards_standard'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards_amendment'))
    )
    with op.batch_alter_table('standards_amendment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standards_amendment_standard_id'), ['standard_id'], unique=False)

    op.create_table('standards_change',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('standard_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['standard_id'], ['standards_standard.id'], name=op.f('fk_standards_change_standard_id_standards_standard'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards_change'))
    )
    with op.batch_alter_table('standards_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standards_change_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_standards_change_standard_id'), ['standard_id'], unique=False)

    op.create_table('standards_draft',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('title_zh', sa.String(length=300), nullable=False),
    sa.Column('title_en', sa.String(length=500), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('proposer_org_id', sa.Uuid(), nullable=False),
    sa.Column('proposer_name', sa.String(length=200), nullable=False),
    sa.Column('drafters', sa.JSON(), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('due_provisional', sa.Boolean(), nullable=False),
    sa.Column('comment_start_on', sa.Date(), nullable=True),
    sa.Column('comment_end_on', sa.Date(), nullable=True),
    sa.Column('shared_sequence', sa.Integer(), nullable=True),
    sa.Column('approved_on', sa.Date(), nullable=True),
    sa.Column('standard_id', sa.Uuid(), nullable=True),
    sa.Column('updated_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['standard_id'], ['standards_standard.id'], name=op.f('fk_standards_draft_standard_id_standards_standard'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards_draft'))
    )
    with op.batch_alter_table('standards_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standards_draft_proposer_org_id'), ['proposer_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_standards_draft_stage'), ['stage'], unique=False)

    op.create_table('standards_number',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('standard_id', sa.Uuid(), nullable=False),
    sa.Column('text', sa.String(length=40), nullable=False),
    sa.Column('issuer', sa.String(length=8), nullable=False),
    sa.Column('region', sa.String(length=2), nullable=False),
    sa.Column('sequence', sa.String(length=12), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('recommended', sa.Boolean(), nullable=False),
    sa.Column('engineering', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['standard_id'], ['standards_standard.id'], name=op.f('fk_standards_number_standard_id_standards_standard'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards_number')),
    sa.UniqueConstraint('text', name=op.f('uq_standards_number_text'))
    )
    with op.batch_alter_table('standards_number', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standards_number_region'), ['region'], unique=False)
        batch_op.create_index(batch_op.f('ix_standards_number_standard_id'), ['standard_id'], unique=False)

    op.create_table('standards_receipt',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('notice_id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('read_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['standards_notice.id'], name=op.f('fk_standards_receipt_notice_id_standards_notice'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards_receipt')),
    sa.UniqueConstraint('notice_id', 'person_id', name=op.f('uq_standards_receipt_notice_id_person_id'))
    )
    with op.batch_alter_table('standards_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standards_receipt_notice_id'), ['notice_id'], unique=False)

    op.create_table('standards_replacement',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('standard_id', sa.Uuid(), nullable=False),
    sa.Column('replaces_number', sa.String(length=40), nullable=False),
    sa.Column('replaces_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['replaces_id'], ['standards_standard.id'], name=op.f('fk_standards_replacement_replaces_id_standards_standard'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['standard_id'], ['standards_standard.id'], name=op.f('fk_standards_replacement_standard_id_standards_standard'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards_replacement')),
    sa.UniqueConstraint('standard_id', 'replaces_number', name=op.f('uq_standards_replacement_standard_id_replaces_number'))
    )
    with op.batch_alter_table('standards_replacement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standards_replacement_replaces_id'), ['replaces_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_standards_replacement_replaces_number'), ['replaces_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_standards_replacement_standard_id'), ['standard_id'], unique=False)

    op.create_table('standards_comment',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('draft_id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('org_name', sa.String(length=200), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('clause', sa.String(length=100), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('answered_by', sa.String(length=200), nullable=False),
    sa.Column('answered_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['draft_id'], ['standards_draft.id'], name=op.f('fk_standards_comment_draft_id_standards_draft'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards_comment'))
    )
    with op.batch_alter_table('standards_comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standards_comment_draft_id'), ['draft_id'], unique=False)

    op.create_table('standards_decision',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('draft_id', sa.Uuid(), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('org_name', sa.String(length=200), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('region', sa.String(length=2), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('leaf_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['draft_id'], ['standards_draft.id'], name=op.f('fk_standards_decision_draft_id_standards_draft'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards_decision'))
    )
    with op.batch_alter_table('standards_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standards_decision_draft_id'), ['draft_id'], unique=False)

    op.create_table('standards_draft_number',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('draft_id', sa.Uuid(), nullable=False),
    sa.Column('region', sa.String(length=2), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('confirmed_at', openzone.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['draft_id'], ['standards_draft.id'], name=op.f('fk_standards_draft_number_draft_id_standards_draft'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards_draft_number')),
    sa.UniqueConstraint('draft_id', 'region', name=op.f('uq_standards_draft_number_draft_id_region'))
    )
    with op.batch_alter_table('standards_draft_number', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standards_draft_number_draft_id'), ['draft_id'], unique=False)

    op.create_table('standards_feedback',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('draft_id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('org_name', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['draft_id'], ['standards_draft.id'], name=op.f('fk_standards_feedback_draft_id_standards_draft'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards_feedback'))
    )
    with op.batch_alter_table('standards_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standards_feedback_draft_id'), ['draft_id'], unique=False)

    op.create_table('standards_participant',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('draft_id', sa.Uuid(), nullable=False),
    sa.Column('org_id', sa.Uuid(), nullable=False),
    sa.Column('org_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['draft_id'], ['standards_draft.id'], name=op.f('fk_standards_participant_draft_id_standards_draft'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards_participant')),
    sa.UniqueConstraint('draft_id', 'org_id', name=op.f('uq_standards_participant_draft_id_org_id'))
    )
    with op.batch_alter_table('standards_participant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standards_participant_draft_id'), ['draft_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('standards_participant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standards_participant_draft_id'))

    op.drop_table('standards_participant')
    with op.batch_alter_table('standards_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standards_feedback_draft_id'))

    op.drop_table('standards_feedback')
    with op.batch_alter_table('standards_draft_number', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standards_draft_number_draft_id'))

    op.drop_table('standards_draft_number')
    with op.batch_alter_table('standards_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standards_decision_draft_id'))

    op.drop_table('standards_decision')
    with op.batch_alter_table('standards_comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standards_comment_draft_id'))

    op.drop_table('standards_comment')
    with op.batch_alter_table('standards_replacement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standards_replacement_standard_id'))
        batch_op.drop_index(batch_op.f('ix_standards_replacement_replaces_number'))
        batch_op.drop_index(batch_op.f('ix_standards_replacement_replaces_id'))

    op.drop_table('standards_replacement')
    with op.batch_alter_table('standards_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standards_receipt_notice_id'))

    op.drop_table('standards_receipt')
    with op.batch_alter_table('standards_number', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standards_number_standard_id'))
        batch_op.drop_index(batch_op.f('ix_standards_number_region'))

    op.drop_table('standards_number')
    with op.batch_alter_table('standards_draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standards_draft_stage'))
        batch_op.drop_index(batch_op.f('ix_standards_draft_proposer_org_id'))

    op.drop_table('standards_draft')
    with op.batch_alter_table('standards_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standards_change_standard_id'))
        batch_op.drop_index(batch_op.f('ix_standards_change_created_at'))

    op.drop_table('standards_change')
    with op.batch_alter_table('standards_amendment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standards_amendment_standard_id'))

    op.drop_table('standards_amendment')
    with op.batch_alter_table('standards_standard', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standards_standard_updated_at'))
        batch_op.drop_index(batch_op.f('ix_standards_standard_status'))

    op.drop_table('standards_standard')
    op.drop_table('standards_regulator')
    with op.batch_alter_table('standards_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standards_notice_kind'))
        batch_op.drop_index(batch_op.f('ix_standards_notice_created_at'))

    op.drop_table('standards_notice')
