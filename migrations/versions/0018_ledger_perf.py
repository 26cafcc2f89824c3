"""ledger: the leaf-key index holds integrated entries only

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-28

ix_ledger_entry_leaf_key becomes partial (WHERE leaf_index IS NOT NULL), like uq_ledger_entry_leaf_index: an entry
enters it when the integrator assigns its index, in the integrator's large transaction, instead of when it is
recorded. Random inserts into a 64-bit key index dirtied one page per appended row, and SQLite's WAL wrote every such
page again at each commit of 1,000 records (docs/performance.md, "Ledger", 2026-11-28). Look-up by leaf hash only ever
wanted integrated entries (ledger.entry_by_leaf_hash filters leaf_index IS NOT NULL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entry_leaf_key'))
        batch_op.create_index(batch_op.f('ix_ledger_entry_leaf_key'), ['leaf_key'], unique=False,
                              sqlite_where=sa.text('leaf_index IS NOT NULL'),
                              postgresql_where=sa.text('leaf_index IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entry_leaf_key'))
        batch_op.create_index(batch_op.f('ix_ledger_entry_leaf_key'), ['leaf_key'], unique=False)
