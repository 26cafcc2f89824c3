"""search: SQLite facet values in a small table keyed by FTS rowid; search_filter_value loses its fts_rowid

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE TABLE search_fts_facets (rowid INTEGER PRIMARY KEY, facets TEXT NOT NULL)")
        # Every filter value of the documents indexed so far; the code reads only the facet fields of an index, and
        # a document indexed again keeps only those (core/search writes encode_facets of the index's facets).
        op.execute("INSERT INTO search_fts_facets (rowid, facets) "
                   "SELECT d.fts_rowid, json_group_array(json_array(v.field, v.value)) "
                   "FROM search_document d JOIN search_filter_value v ON v.document_id = d.id "
                   "WHERE d.fts_rowid IS NOT NULL GROUP BY d.fts_rowid")
    with op.batch_alter_table('search_filter_value', schema=None) as batch_op:
        batch_op.drop_index('ix_search_filter_value_fts')
        batch_op.drop_column('fts_rowid')


def downgrade() -> None:
    with op.batch_alter_table('search_filter_value', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fts_rowid', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_search_filter_value_fts', ['fts_rowid', 'field', 'value'], unique=False)
    op.execute("UPDATE search_filter_value SET fts_rowid = (SELECT d.fts_rowid FROM search_document d "
               "WHERE d.id = search_filter_value.document_id)")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE search_fts_facets")
