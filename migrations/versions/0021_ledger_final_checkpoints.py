"""ledger: a partial index on the sizes of final checkpoints

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-29

A receipt leads to the newest final checkpoint covering its entry. Without witnesses (or before a quorum) no
checkpoint is final, and finding none walked every checkpoint the log ever signed, one a second while entries come in.
The index holds only the final ones. Its SQLite predicate is "final = 1", the form SQLite matches a query's
"final = 1" against (it does not match a bare "final"); PostgreSQL matches "final = true" to "WHERE final".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ledger_checkpoint_final", "ledger_checkpoint", ["size"],
                    postgresql_where=sa.text("final"), sqlite_where=sa.text("final = 1"))


def downgrade() -> None:
    op.drop_index("ix_ledger_checkpoint_final", table_name="ledger_checkpoint")
