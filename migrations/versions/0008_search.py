"""search documents, filter values and the SQLite FTS5 table

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import openzone.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# One column per weight class (code, title, keywords, scope, body) plus pinyin; search_document.fts_rowid links
# a document to its row. Tokens are made in Python (core/search/domain.py) and stored space-separated, so
# unicode61 only splits on the spaces; diacritics are kept as the analyser left them.
FTS5 = ("CREATE VIRTUAL TABLE search_fts USING fts5("
        "code, title, keywords, scope, body, pinyin, tokenize = 'unicode61 remove_diacritics 0')")


def upgrade() -> None:
    op.create_table('search_document',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('index_name', sa.String(length=40), nullable=False),
    sa.Column('doc_key', sa.String(length=200), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('folded', sa.Text(), nullable=False),
    sa.Column('fts_rowid', sa.Integer(), nullable=True),
    sa.Column('tsv', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'), nullable=True),
    sa.Column('updated_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', openzone.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_document')),
    sa.UniqueConstraint('fts_rowid', name=op.f('uq_search_document_fts_rowid')),
    sa.UniqueConstraint('index_name', 'doc_key', name=op.f('uq_search_document_index_name_doc_key'))
    )
    with op.batch_alter_table('search_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_document_tsv'), ['tsv'], unique=False, postgresql_using='gin')

    op.create_table('search_filter_value',
    sa.Column('document_id', sa.Uuid(), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['search_document.id'], name=op.f('fk_search_filter_value_document_id_search_document'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('document_id', 'field', 'value', name=op.f('pk_search_filter_value'))
    )
    with op.batch_alter_table('search_filter_value', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_filter_value_field_value'), ['field', 'value'], unique=False)

    if op.get_bind().dialect.name == "sqlite":
        op.execute(FTS5)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE search_fts")
    with op.batch_alter_table('search_filter_value', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_filter_value_field_value'))

    op.drop_table('search_filter_value')
    with op.batch_alter_table('search_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_document_tsv'), postgresql_using='gin')

    op.drop_table('search_document')
