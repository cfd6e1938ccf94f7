"""Employees' jabatan and golongan (from the personnel system's roster CSV) and when they were
deactivated (their recap stops that day, instead of the whole month disappearing); imports
staged between their preview and their confirmation.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("employees") as t:
        t.add_column(sa.Column("jabatan", sa.String(200)))
        t.add_column(sa.Column("golongan", sa.String(40)))
        t.add_column(sa.Column("deactivated_at", TZ))
    op.create_table(
        "staged_imports",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False, server_default=""),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("staged_imports")
    with op.batch_alter_table("employees") as t:
        t.drop_column("deactivated_at")
        t.drop_column("golongan")
        t.drop_column("jabatan")
