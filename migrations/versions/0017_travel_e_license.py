"""travel_licensing: the id of the e-license issued for a licence through the e-license issuer API

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('travel_licensing_licence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('e_license_id', sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('travel_licensing_licence', schema=None) as batch_op:
        batch_op.drop_column('e_license_id')
