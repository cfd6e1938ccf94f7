"""How far each kiosk has synced (the server time of its last heartbeat with nothing pending:
everything it recorded before then has arrived), and the kiosk database files imported from
replaced kiosks' SD cards (each file once).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("devices") as t:
        t.add_column(sa.Column("synced_until", TZ))
    op.create_table(
        "kiosk_imports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("filename", sa.String(200), nullable=False, server_default=""),
        sa.Column("devices", sa.String(500), nullable=False, server_default=""),
        sa.Column("events_total", sa.Integer, nullable=False),
        sa.Column("events_new", sa.Integer, nullable=False),
        sa.Column("first_date", sa.String(10)),
        sa.Column("last_date", sa.String(10)),
        sa.Column("imported_by", sa.Integer, sa.ForeignKey("accounts.id")),
        sa.Column("imported_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kiosk_imports")
    with op.batch_alter_table("devices") as t:
        t.drop_column("synced_until")
