"""Tables of the collector (SQLAlchemy Core) and how to open the database.

Every change of the schema is an Alembic migration in server/migrations/versions; this module
describes the current schema for queries (a test checks the two agree).

Times are UTC ISO-8601 strings as the kiosk sends them (`utc_at`), or timezone-aware
timestamps for what the server itself records.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from sqlalchemy import (BigInteger, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer,
                        LargeBinary, MetaData, String, Table, Text, create_engine, event)
from sqlalchemy.engine import Engine

metadata = MetaData()

devices = Table(
    "devices", metadata,
    Column("id", String(64), primary_key=True),  # the kiosk's [device] id
    Column("name", String(200), nullable=False, server_default=""),
    # unused since revision 0002 (a kiosk's units are in device_units); kept so that SQLite
    # does not have to rebuild a table other tables point at
    Column("unit", String(200), nullable=False, server_default=""),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex of the token
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_seen_at", DateTime(timezone=True)),
    Column("last_upload_at", DateTime(timezone=True)),
    Column("last_heartbeat_at", DateTime(timezone=True)),
    Column("software_version", String(64)),
    Column("pending", Integer),
    Column("rejected", Integer),
    Column("newest_recorded_at", String(40)),
    Column("newest_acked_at", String(40)),
    Column("clock_synced", Boolean),
    Column("clock_offset_s", Float),  # server time minus the kiosk's clock at the heartbeat
    Column("free_disk_bytes", BigInteger),
    Column("roster_version", BigInteger),
)

events = Table(
    "events", metadata,
    Column("id", String(36), primary_key=True),  # the kiosk's UUID: the idempotency key
    Column("device_id", String(64), ForeignKey("devices.id"), nullable=False),
    Column("nip", String(40), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("local_time", String(40), nullable=False),
    Column("utc_at", String(40), nullable=False),
    Column("local_date", String(10), nullable=False),
    Column("work_date", String(10), nullable=False),
    Column("in_window", Boolean, nullable=False),
    Column("monotonic_ns", BigInteger),
    Column("boot_id", String(64)),
    Column("clock_synced", Boolean, nullable=False),
    Column("distance", Float),
    Column("margin", Float),
    Column("batch_id", String(36)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("corrects", String(36)),  # the event this one corrects (an employee's MASUK <-> PULANG switch)
    Column("correction_source", String(24)),
    Index("ix_events_work_date_nip", "work_date", "nip"),
    Index("ix_events_device_utc", "device_id", "utc_at"),
)

employees = Table(
    "employees", metadata,
    Column("nip", String(40), primary_key=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("unit", String(200), nullable=False, server_default=""),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("schedule", String(40)),
    Column("version", BigInteger, nullable=False),  # roster version of the last change
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_employees_version", "version"),
)

templates = Table(
    "templates", metadata,
    Column("uid", String(36), primary_key=True),  # UUID given by the kiosk that enrolled it
    Column("nip", String(40), ForeignKey("employees.nip"), nullable=False),
    Column("encoding", LargeBinary, nullable=False),  # 128 little-endian float32
    Column("model_version", String(80), nullable=False),
    Column("quality", Float),
    Column("source", Text),
    Column("origin_device", String(64)),
    Column("created_at", String(40)),
    Column("deleted", Boolean, nullable=False, server_default="0"),
    Column("version", BigInteger, nullable=False),
    Index("ix_templates_version", "version"),
    Index("ix_templates_nip", "nip"),
)

device_units = Table(
    # the units a kiosk serves: it reads and writes only their employees and templates
    "device_units", metadata,
    Column("device_id", String(64), ForeignKey("devices.id"), primary_key=True),
    Column("unit", String(200), primary_key=True),
)

departures = Table(
    # an employee who left a unit (HR moved them): the unit's kiosks get a removal at their
    # next roster pull, with the version of the move
    "departures", metadata,
    Column("version", BigInteger, primary_key=True),
    Column("nip", String(40), ForeignKey("employees.nip"), nullable=False),
    Column("unit", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_departures_unit_version", "unit", "version"),
)

hr_logins = Table(
    # the HR login of the dashboard and exports until the back-office accounts exist: a scrypt
    # hash, and the count of wrong passwords with the lock they caused
    "hr_logins", metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("failed", Integer, nullable=False, server_default="0"),
    Column("locked_until", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

counters = Table(
    "counters", metadata,
    Column("name", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

holidays = Table(
    "holidays", metadata,
    Column("date", String(10), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False, server_default="libur"),
)

DEFAULT_URL_ENV = "KIOSK_SERVER_DB"


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def aware(t: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands timezone-aware columns back naive (they were stored as UTC)."""
    if t is not None and t.tzinfo is None:
        return t.replace(tzinfo=dt.timezone.utc)
    return t


def database_url(url: str | None) -> str:
    """The --database option, else $KIOSK_SERVER_DB, else ./collector.db (SQLite)."""
    url = url or os.environ.get(DEFAULT_URL_ENV) or "sqlite:///collector.db"
    if "://" not in url:  # a plain path means a SQLite file
        url = f"sqlite:///{Path(url).resolve()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def open_engine(url: str | None = None) -> Engine:
    url = database_url(url)
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        from kiosk.fileio import private_sqlite

        path = make_url(url).database
        if path and path != ":memory:" and not path.startswith("file:"):
            private_sqlite(path)  # attendance and faces: owner-only, with its -wal and -shm
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # an acknowledged event survives a power cut
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn):
            # writers queue on the lock at BEGIN instead of failing at COMMIT
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        # let SQLAlchemy's "begin" event drive BEGIN (pysqlite would otherwise defer it)
        @event.listens_for(engine, "connect")
        def _no_autobegin(conn, _record):
            conn.isolation_level = None

        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def redact(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(database_url(url)).render_as_string(hide_password=True)
