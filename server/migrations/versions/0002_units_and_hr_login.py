"""Units: a kiosk serves the units listed in device_units (none means none, no longer every
unit); departures tell a unit's kiosks that HR moved an employee away; hr_logins holds the HR
login of the dashboard and exports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "device_units",
        sa.Column("device_id", sa.String(64), sa.ForeignKey("devices.id"), primary_key=True),
        sa.Column("unit", sa.String(200), primary_key=True),
    )
    # a kiosk registered with a unit keeps it; one registered without serves no unit until IT
    # gives it one (`python -m server device-units ID --unit ...`)
    op.execute("insert into device_units (device_id, unit) select id, unit from devices where unit <> ''")
    op.execute("update devices set unit = ''")
    op.create_table(
        "departures",
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("nip", sa.String(40), sa.ForeignKey("employees.nip"), nullable=False),
        sa.Column("unit", sa.String(200), nullable=False),
        sa.Column("at", TZ, nullable=False),
    )
    op.create_index("ix_departures_unit_version", "departures", ["unit", "version"])
    op.create_table(
        "hr_logins",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", TZ),
        sa.Column("updated_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hr_logins")
    op.drop_index("ix_departures_unit_version", "departures")
    op.drop_table("departures")
    op.execute("update devices set unit = coalesce((select min(unit) from device_units u "
               "where u.device_id = devices.id), '')")
    op.drop_table("device_units")
