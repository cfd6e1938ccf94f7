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
                        LargeBinary, MetaData, String, Table, Text, create_engine, event, false, true)
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
    # the server time of the last heartbeat that reported nothing pending: every event the kiosk
    # recorded before then has arrived (a period closes when every kiosk is past its end)
    Column("synced_until", DateTime(timezone=True)),
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
    Column("jabatan", String(200)),  # from the personnel system's roster (the recap form shows them)
    Column("golongan", String(40)),
    Column("deactivated_at", DateTime(timezone=True)),  # the recap counts them until that day
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

lookalike_holds = Table(
    # photos a kiosk's `kiosk enroll` refused as an employee's duplicate, of a person it did not
    # enroll: every kiosk of that employee's unit refuses the face instead of recording it
    "lookalike_holds", metadata,
    Column("uid", String(36), primary_key=True),  # UUID given by the kiosk
    Column("nip", String(40), nullable=False),  # the refused person (need not be an employee here)
    Column("resembles", String(40), ForeignKey("employees.nip"), nullable=False),
    Column("encoding", LargeBinary, nullable=False),  # 128 little-endian float32 (emptied when deleted)
    Column("model_version", String(80), nullable=False),
    Column("source", Text),
    Column("origin_device", String(64)),
    Column("created_at", String(40)),
    Column("deleted", Boolean, nullable=False, server_default="0"),
    Column("version", BigInteger, nullable=False),
    Index("ix_lookalike_holds_version", "version"),
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

accounts = Table(
    # HR accounts of the web pages: administrator (all units, accounts, kiosks), operator (their
    # units: employees, leave, corrections, reports) or viewer (all units, read only)
    "accounts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("full_name", String(200), nullable=False, server_default=""),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),  # argon2id
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("must_change_password", Boolean, nullable=False, server_default=false()),
    Column("failed", Integer, nullable=False, server_default="0"),  # wrong passwords in a row
    Column("locked_until", DateTime(timezone=True)),
    Column("last_login_at", DateTime(timezone=True)),
    Column("password_changed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

account_units = Table(
    # the units an operator manages (administrators and viewers see every unit)
    "account_units", metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("unit", String(200), primary_key=True),
)

sessions = Table(
    # a signed-in browser: the cookie holds a random token, the database only its SHA-256;
    # every server process reads sessions from here
    "sessions", metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("csrf", String(64), nullable=False),  # the token every form of this session carries
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("ip", String(64), nullable=False, server_default=""),
    Column("user_agent", String(200), nullable=False, server_default=""),
    Column("flash", Text),  # a message for the next page (after a redirect)
    Index("ix_sessions_account", "account_id"),
)

login_throttle = Table(
    # sign-in attempts per client address in the current minute
    "login_throttle", metadata,
    Column("key", String(100), primary_key=True),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("count", Integer, nullable=False),
)

audit_log = Table(
    # every HR action: who, when, what, and the record before and after (JSON)
    "audit_log", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("account_id", Integer),
    Column("actor", String(100), nullable=False),  # username, or "cli" for the command line
    Column("action", String(40), nullable=False),
    Column("target", String(250), nullable=False, server_default=""),  # e.g. employee:NIP
    Column("unit", String(200)),
    Column("before", Text),
    Column("after", Text),
    Column("ip", String(64)),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_target", "target"),
)

staged_imports = Table(
    # a CSV HR uploaded, kept between its preview and the confirmation (any server process may
    # serve the confirmation); deleted once applied, or a day later
    "staged_imports", metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # roster | leave
    Column("filename", String(200), nullable=False, server_default=""),
    Column("content", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

leaves = Table(
    # leave, permits and official travel: the days they cover are excused (attendance.day)
    "leaves", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("nip", String(40), ForeignKey("employees.nip"), nullable=False),
    Column("type", String(16), nullable=False),  # a [leave_types] code: CT, CS, DL, ITL ...
    Column("first_date", String(10), nullable=False),
    Column("last_date", String(10), nullable=False),
    Column("document_no", String(100), nullable=False, server_default=""),
    Column("note", String(500), nullable=False, server_default=""),
    Column("status", String(12), nullable=False),  # approved | pending | rejected | cancelled
    Column("created_by", Integer, ForeignKey("accounts.id")),  # null: the command line
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", Integer, ForeignKey("accounts.id")),
    Column("decided_at", DateTime(timezone=True)),
    Index("ix_leaves_nip_first", "nip", "first_date"),
    Index("ix_leaves_dates", "first_date", "last_date"),
)

corrections = Table(
    # HR corrects a punch without touching the kiosk's event: `add` a masuk/pulang at local_time,
    # or `relabel` the event event_id as `kind` (the employee's own switch at the kiosk is an
    # event naming the one it corrects: events.corrects)
    "corrections", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("nip", String(40), ForeignKey("employees.nip"), nullable=False),
    Column("work_date", String(10), nullable=False),
    Column("action", String(8), nullable=False),  # add | relabel
    Column("kind", String(24), nullable=False),  # masuk | pulang
    Column("local_time", String(40)),  # add: RFC 3339 with the offset
    Column("event_id", String(36)),  # relabel: the kiosk's event (no foreign key: it may arrive later)
    Column("reason", String(500), nullable=False),
    Column("status", String(12), nullable=False),  # approved | pending | rejected | cancelled
    Column("created_by", Integer, ForeignKey("accounts.id")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", Integer, ForeignKey("accounts.id")),
    Column("decided_at", DateTime(timezone=True)),
    Index("ix_corrections_date_nip", "work_date", "nip"),
    Index("ix_corrections_event", "event_id"),
)

kiosk_imports = Table(
    # a kiosk's database file imported as its events (a replaced kiosk's SD card): once per file
    "kiosk_imports", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("filename", String(200), nullable=False, server_default=""),
    Column("devices", String(500), nullable=False, server_default=""),
    Column("events_total", Integer, nullable=False),
    Column("events_new", Integer, nullable=False),
    Column("first_date", String(10)),
    Column("last_date", String(10)),
    Column("imported_by", Integer, ForeignKey("accounts.id")),
    Column("imported_at", DateTime(timezone=True), nullable=False),
)

periods = Table(
    # a month HR closed (every kiosk had reported past its end): its leave and corrections are
    # frozen and its recap is the snapshot taken when it was closed, until it is reopened
    "periods", metadata,
    Column("month", String(7), primary_key=True),  # YYYY-MM
    Column("status", String(8), nullable=False),  # closed | open (reopened)
    Column("closed_at", DateTime(timezone=True)),
    Column("closed_by", Integer, ForeignKey("accounts.id")),
    Column("reopened_at", DateTime(timezone=True)),
    Column("reopened_by", Integer, ForeignKey("accounts.id")),
    Column("note", String(500), nullable=False, server_default=""),  # why it was reopened
    Column("snapshot", Text),  # the recap rows as JSON, taken at closing
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


def dialect_insert(conn, table):
    """INSERT with ON CONFLICT clauses, for the connection's database (SQLite or PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect
    else:  # pragma: no cover
        raise ValueError(f"database {conn.dialect.name} is not supported (SQLite or PostgreSQL)")
    return dialect(table)


def redact(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(database_url(url)).render_as_string(hide_password=True)
