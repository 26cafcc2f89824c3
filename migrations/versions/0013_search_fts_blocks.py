"""search: each index in its own FTS5 rowid block, filter values as FTS5 tokens, facets keyed by FTS rowid

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28
"""

from __future__ import annotations

import zlib

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# The same as core/search/domain.py at this revision (a migration must not change when the code does).
ROWID_BLOCK_BITS = 40
FTS5_COLUMNS = "code, title, keywords, scope, body, pinyin"
NEW_FTS5 = (f"CREATE VIRTUAL TABLE search_fts USING fts5({FTS5_COLUMNS}, filters, "
            "tokenize = 'unicode61 remove_diacritics 0')")
OLD_FTS5 = f"CREATE VIRTUAL TABLE search_fts USING fts5({FTS5_COLUMNS}, tokenize = 'unicode61 remove_diacritics 0')"


def _block(index_name: str) -> int:
    return (zlib.crc32(index_name.encode()) & ((1 << 22) - 1)) << ROWID_BLOCK_BITS


def upgrade() -> None:
    with op.batch_alter_table('search_document', schema=None) as batch_op:
        batch_op.alter_column('fts_rowid', existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=True)
    with op.batch_alter_table('search_filter_value', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fts_rowid', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_search_filter_value_fts', ['fts_rowid', 'field', 'value'], unique=False)
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    # Move every indexed row into its index's block (old rowids are small) and add its filter tokens.
    op.execute("ALTER TABLE search_fts RENAME TO search_fts_old")
    op.execute(NEW_FTS5)
    names = [r[0] for r in bind.execute(sa.text("SELECT DISTINCT index_name FROM search_document"))]
    for name in names:
        params = {"name": name, "block": _block(name)}
        bind.execute(sa.text(
            "INSERT INTO search_fts(rowid, code, title, keywords, scope, body, pinyin, filters) "
            "SELECT :block + o.rowid, o.code, o.title, o.keywords, o.scope, o.body, o.pinyin, "
            "coalesce((SELECT group_concat('f' || lower(hex(v.field || '=' || v.value)), ' ') "
            "          FROM search_filter_value v WHERE v.document_id = d.id), '') "
            "FROM search_document d JOIN search_fts_old o ON o.rowid = d.fts_rowid WHERE d.index_name = :name"), params)
        bind.execute(sa.text("UPDATE search_document SET fts_rowid = :block + fts_rowid "
                             "WHERE index_name = :name AND fts_rowid IS NOT NULL"), params)
    op.execute("UPDATE search_filter_value SET fts_rowid = (SELECT d.fts_rowid FROM search_document d "
               "WHERE d.id = search_filter_value.document_id)")
    op.execute("DROP TABLE search_fts_old")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Rowids stay in their blocks (the old code accepts any rowid); the filter tokens go.
        op.execute("ALTER TABLE search_fts RENAME TO search_fts_new")
        op.execute(OLD_FTS5)
        op.execute("INSERT INTO search_fts(rowid, code, title, keywords, scope, body, pinyin) "
                   "SELECT rowid, code, title, keywords, scope, body, pinyin FROM search_fts_new")
        op.execute("DROP TABLE search_fts_new")
    with op.batch_alter_table('search_filter_value', schema=None) as batch_op:
        batch_op.drop_index('ix_search_filter_value_fts')
        batch_op.drop_column('fts_rowid')
    with op.batch_alter_table('search_document', schema=None) as batch_op:
        batch_op.alter_column('fts_rowid', existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=True)
