"""HR's corrections of punches, separate from the kiosks' events (which never change): a masuk
or pulang added with its time and reason, or a kiosk event re-labelled masuk <-> pulang; pending
until approved when the configuration asks for four eyes. (The employee's own switch at the
kiosk is an event naming the one it corrects: revision 0003.)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("nip", sa.String(40), sa.ForeignKey("employees.nip"), nullable=False),
        sa.Column("work_date", sa.String(10), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("local_time", sa.String(40)),
        sa.Column("event_id", sa.String(36)),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("accounts.id")),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("decided_by", sa.Integer, sa.ForeignKey("accounts.id")),
        sa.Column("decided_at", TZ),
    )
    op.create_index("ix_corrections_date_nip", "corrections", ["work_date", "nip"])
    op.create_index("ix_corrections_event", "corrections", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_corrections_event", "corrections")
    op.drop_index("ix_corrections_date_nip", "corrections")
    op.drop_table("corrections")
