"""Leave, permits and official travel: date ranges per employee with a type from the
configuration ([leave_types]), a document number and a note; pending until approved when the
configuration asks for a second account's approval; cancelled records are kept. Monthly
periods, closed with a snapshot of their recap.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "leaves",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("nip", sa.String(40), sa.ForeignKey("employees.nip"), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("first_date", sa.String(10), nullable=False),
        sa.Column("last_date", sa.String(10), nullable=False),
        sa.Column("document_no", sa.String(100), nullable=False, server_default=""),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("accounts.id")),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("decided_by", sa.Integer, sa.ForeignKey("accounts.id")),
        sa.Column("decided_at", TZ),
    )
    op.create_index("ix_leaves_nip_first", "leaves", ["nip", "first_date"])
    op.create_index("ix_leaves_dates", "leaves", ["first_date", "last_date"])
    op.create_table(
        "periods",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("closed_at", TZ),
        sa.Column("closed_by", sa.Integer, sa.ForeignKey("accounts.id")),
        sa.Column("reopened_at", TZ),
        sa.Column("reopened_by", sa.Integer, sa.ForeignKey("accounts.id")),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.Column("snapshot", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("periods")
    op.drop_index("ix_leaves_dates", "leaves")
    op.drop_index("ix_leaves_nip_first", "leaves")
    op.drop_table("leaves")
