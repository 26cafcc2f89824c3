"""ledger: integrated entries get their index in ledger_leaf instead of an UPDATE of ledger_entry

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29

ledger_entry rows are written once and never changed. The integrator appends (leaf_index, seq, leaf_key) rows to
ledger_leaf; the UPDATE that set leaf_index and integrated_at on every entry rewrote each whole row and, on SQLite,
wrote the table again into the WAL (docs/performance.md, 2026-11-29). Entries waiting for the integrator are found on
SQLite as those with a seq above the largest integrated one, and on PostgreSQL, where seq values commit out of order,
through ledger_queue, filled by a trigger on ledger_entry. integrated_at is dropped: the checkpoint that first covers
an index carries the time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import openzone.db

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# A statement-level trigger with a transition table: one INSERT … SELECT per COPY or INSERT statement. A row-level one
# cost about 8 us of server time per entry (ledger_bench, PostgreSQL 15).
_TRIGGER = """
CREATE FUNCTION ledger_entry_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_queue (seq) SELECT seq FROM recorded;
    RETURN NULL;
END
$$;
CREATE TRIGGER ledger_entry_queue AFTER INSERT ON ledger_entry REFERENCING NEW TABLE AS recorded
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entry_queue();
"""


def _big_int_pk() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table("ledger_leaf",
                    sa.Column("leaf_index", _big_int_pk(), autoincrement=False, nullable=False),
                    sa.Column("seq", sa.BigInteger(), nullable=False),
                    sa.Column("leaf_key", sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_ledger_leaf")))
    op.execute("INSERT INTO ledger_leaf (leaf_index, seq, leaf_key) SELECT leaf_index, seq, leaf_key FROM ledger_entry "
               "WHERE leaf_index IS NOT NULL ORDER BY leaf_index")
    op.create_index("uq_ledger_leaf_seq", "ledger_leaf", ["seq"], unique=True)
    op.create_index("ix_ledger_leaf_leaf_key", "ledger_leaf", ["leaf_key"], unique=False)
    op.create_table("ledger_queue",
                    sa.Column("seq", _big_int_pk(), autoincrement=False, nullable=False),
                    sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_queue")))
    if postgres:
        op.execute("INSERT INTO ledger_queue (seq) SELECT seq FROM ledger_entry WHERE leaf_index IS NULL")
        op.execute(_TRIGGER)
    else:
        # The SQLite rule (pending = seq above the largest integrated one) holds only if no entry waits below it.
        stranded = op.get_bind().scalar(sa.text(
            "SELECT count(*) FROM ledger_entry WHERE leaf_index IS NULL AND seq < "
            "(SELECT coalesce(max(seq), 0) FROM ledger_entry WHERE leaf_index IS NOT NULL)"))
        if stranded:
            raise RuntimeError(f"{stranded} ledger entries wait below integrated ones; run `openzone ledger "
                               "integrate` on the previous version first")
    # On SQLite the table is rebuilt with AUTOINCREMENT, so that no seq is handed out twice (the pending rule above
    # relies on it); PostgreSQL's sequence never repeats.
    with op.batch_alter_table("ledger_entry", schema=None, recreate="auto" if postgres else "always",
                              table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.drop_index("ix_ledger_entry_pending")
        batch_op.drop_index("uq_ledger_entry_leaf_index")
        batch_op.drop_index("ix_ledger_entry_leaf_key")
        batch_op.drop_column("integrated_at")
        batch_op.drop_column("leaf_index")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leaf_index", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("integrated_at", openzone.db.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE ledger_entry SET leaf_index = (SELECT leaf_index FROM ledger_leaf "
               "WHERE ledger_leaf.seq = ledger_entry.seq)")
    # The time the index was first signed: the oldest checkpoint covering it.
    op.execute("UPDATE ledger_entry SET integrated_at = (SELECT min(created_at) FROM ledger_checkpoint "
               "WHERE ledger_checkpoint.size > ledger_entry.leaf_index) WHERE leaf_index IS NOT NULL")
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_entry_pending", ["seq"], unique=False,
                              sqlite_where=sa.text("leaf_index IS NULL"), postgresql_where=sa.text("leaf_index IS NULL"))
        batch_op.create_index("uq_ledger_entry_leaf_index", ["leaf_index"], unique=True,
                              sqlite_where=sa.text("leaf_index IS NOT NULL"),
                              postgresql_where=sa.text("leaf_index IS NOT NULL"))
        batch_op.create_index("ix_ledger_entry_leaf_key", ["leaf_key"], unique=False,
                              sqlite_where=sa.text("leaf_index IS NOT NULL"),
                              postgresql_where=sa.text("leaf_index IS NOT NULL"))
    if postgres:
        op.execute("DROP TRIGGER ledger_entry_queue ON ledger_entry")
        op.execute("DROP FUNCTION ledger_entry_queue()")
    op.drop_table("ledger_queue")
    op.drop_index("ix_ledger_leaf_leaf_key", table_name="ledger_leaf")
    op.drop_index("uq_ledger_leaf_seq", table_name="ledger_leaf")
    op.drop_table("ledger_leaf")
