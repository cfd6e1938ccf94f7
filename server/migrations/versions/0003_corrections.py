"""Corrections: an event may name the earlier event of the same device it corrects.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("corrects", sa.String(36)))
    op.add_column("events", sa.Column("correction_source", sa.String(24)))


def downgrade() -> None:
    op.drop_column("events", "correction_source")
    op.drop_column("events", "corrects")
