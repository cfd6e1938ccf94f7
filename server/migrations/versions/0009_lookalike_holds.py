"""Look-alike holds enrolled at kiosks: the photos `kiosk enroll` refused as an employee's
duplicate, of a person it did not enroll, shared with the other kiosks of that employee's unit
(so none of them records the refused person's face as the employee's).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lookalike_holds",
        sa.Column("uid", sa.String(36), primary_key=True),
        sa.Column("nip", sa.String(40), nullable=False),
        sa.Column("resembles", sa.String(40), sa.ForeignKey("employees.nip"), nullable=False),
        sa.Column("encoding", sa.LargeBinary, nullable=False),
        sa.Column("model_version", sa.String(80), nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("origin_device", sa.String(64)),
        sa.Column("created_at", sa.String(40)),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_lookalike_holds_version", "lookalike_holds", ["version"])


def downgrade() -> None:
    op.drop_index("ix_lookalike_holds_version", "lookalike_holds")
    op.drop_table("lookalike_holds")
