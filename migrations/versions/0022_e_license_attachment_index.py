"""e_license: drop the attachment index on application_id alone

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30

The unique index on (application_id, license_id) starts with application_id, so it finds an application's attachments
as well; the single-column index cost every retrieval one more index insert and bought nothing.
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_e_license_attachment_application_id", table_name="e_license_attachment")


def downgrade() -> None:
    op.create_index("ix_e_license_attachment_application_id", "e_license_attachment", ["application_id"])
