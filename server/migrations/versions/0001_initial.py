"""Protocol v1: devices, events (once each), roster (employees, templates), counters, holidays.

Revision ID: 0001
Revises:
Create Date: 2026-05-20
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("unit", sa.String(200), nullable=False, server_default=""),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ),
        sa.Column("last_seen_at", TZ),
        sa.Column("last_upload_at", TZ),
        sa.Column("last_heartbeat_at", TZ),
        sa.Column("software_version", sa.String(64)),
        sa.Column("pending", sa.Integer),
        sa.Column("rejected", sa.Integer),
        sa.Column("newest_recorded_at", sa.String(40)),
        sa.Column("newest_acked_at", sa.String(40)),
        sa.Column("clock_synced", sa.Boolean),
        sa.Column("clock_offset_s", sa.Float),
        sa.Column("free_disk_bytes", sa.BigInteger),
        sa.Column("roster_version", sa.BigInteger),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("device_id", sa.String(64), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("nip", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("local_time", sa.String(40), nullable=False),
        sa.Column("utc_at", sa.String(40), nullable=False),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("work_date", sa.String(10), nullable=False),
        sa.Column("in_window", sa.Boolean, nullable=False),
        sa.Column("monotonic_ns", sa.BigInteger),
        sa.Column("boot_id", sa.String(64)),
        sa.Column("clock_synced", sa.Boolean, nullable=False),
        sa.Column("distance", sa.Float),
        sa.Column("margin", sa.Float),
        sa.Column("batch_id", sa.String(36)),
        sa.Column("received_at", TZ, nullable=False),
    )
    op.create_index("ix_events_work_date_nip", "events", ["work_date", "nip"])
    op.create_index("ix_events_device_utc", "events", ["device_id", "utc_at"])
    op.create_table(
        "employees",
        sa.Column("nip", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("unit", sa.String(200), nullable=False, server_default=""),
        sa.Column("active", sa.Boolean, nullable=False, server_default="1"),
        sa.Column("schedule", sa.String(40)),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_employees_version", "employees", ["version"])
    op.create_table(
        "templates",
        sa.Column("uid", sa.String(36), primary_key=True),
        sa.Column("nip", sa.String(40), sa.ForeignKey("employees.nip"), nullable=False),
        sa.Column("encoding", sa.LargeBinary, nullable=False),
        sa.Column("model_version", sa.String(80), nullable=False),
        sa.Column("quality", sa.Float),
        sa.Column("source", sa.Text),
        sa.Column("origin_device", sa.String(64)),
        sa.Column("created_at", sa.String(40)),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_templates_version", "templates", ["version"])
    op.create_index("ix_templates_nip", "templates", ["nip"])
    op.create_table(
        "counters",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger)),
                   [{"name": "roster", "value": 0}])
    op.create_table(
        "holidays",
        sa.Column("date", sa.String(10), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False, server_default="libur"),
    )


def downgrade() -> None:
    for table in ("holidays", "counters", "templates", "employees", "events", "devices"):
        op.drop_table(table)
