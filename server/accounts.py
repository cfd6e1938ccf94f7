"""HR accounts: roles, units, passwords (argon2id), sign-in with throttling and lockout.

Roles:

* administrator (BKPSDM) - every unit; accounts, kiosks, periods, imports of kiosk databases;
* operator - the units given to the account: their employees, leave, corrections, reports;
* viewer (leadership) - every unit, read only.

`Actor` is the one place that says who may read or change what (`can_read`, `can_write`,
`scope`); every page and every service function asks it.

Passwords are hashed with argon2id (argon2-cffi) at OWASP's recommended minimum for it: 19 MiB
of memory, 2 passes, 1 lane (about 40 ms per check here), so that a stolen database does not
give the passwords away cheaply. The hash is checked outside any transaction (SQLite would
hold its write lock meanwhile). After `login_max_failed` wrong passwords in a row an account is
locked for `login_lock_s`, doubling with each further wrong one (at most an hour); every client
address gets `login_per_minute` attempts a minute, whatever the account. Counts and locks are in
the database, so they hold across restarts and across server processes.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import case, delete, false, func, insert, select, true, update
from sqlalchemy.engine import Connection, Engine

from kiosk.fields import field_problem
from server import audit
from server.db import account_units, accounts, aware, device_units, dialect_insert, employees, login_throttle, now

ROLES = {"admin": "Administrator (BKPSDM)", "operator": "Operator unit", "viewer": "Pimpinan (lihat saja)"}
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
MAX_PASSWORD = 256
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


class AccountError(ValueError):
    """A request about an account that cannot be done; the message (Indonesian) says why."""


@dataclass(frozen=True)
class Actor:
    """A signed-in account and what it may do."""

    id: int
    username: str
    full_name: str
    role: str
    units: frozenset[str]
    must_change_password: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def all_units(self) -> bool:
        """Administrators and viewers see every unit."""
        return self.role in ("admin", "viewer")

    @property
    def writer(self) -> bool:
        return self.role in ("admin", "operator")

    def can_read(self, unit: str) -> bool:
        return self.all_units or unit in self.units

    def can_write(self, unit: str) -> bool:
        return self.is_admin or (self.role == "operator" and unit in self.units)

    def scope(self, column):
        """`can_read` as a condition on a unit column."""
        return true() if self.all_units else column.in_(sorted(self.units)) if self.units else false()

    def who(self, ip: str | None = None) -> audit.Who:
        return audit.Who(self.id, self.username, ip)

    def label(self) -> str:
        return self.full_name or self.username


CLI_ACTOR = Actor(0, "cli", "baris perintah", "admin", frozenset())  # IT on the server: every unit


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("not a password: evens out the time of an unknown username")


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_problem(password: str, min_length: int, username: str = "") -> str | None:
    if len(password) < min_length:
        return f"kata sandi minimal {min_length} karakter"
    if len(password) > MAX_PASSWORD:
        return f"kata sandi maksimal {MAX_PASSWORD} karakter"
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in password):
        return "kata sandi tidak boleh berisi karakter kontrol"
    if username and password.strip().lower() == username.lower():
        return "kata sandi tidak boleh sama dengan nama pengguna"
    return None


def _check_units(role: str, units: list[str]) -> list[str]:
    units = sorted({u.strip() for u in units if u and u.strip()})
    for u in units:
        problem = field_problem("unit", u)
        if problem:
            raise AccountError(f"unit tidak sah: {problem}")
    if role == "operator" and not units:
        raise AccountError("operator unit perlu paling sedikit satu unit")
    return units if role == "operator" else []


def _row(conn: Connection, account_id: int) -> dict:
    row = conn.execute(select(accounts).where(accounts.c.id == account_id)).mappings().first()
    if row is None:
        raise AccountError(f"akun {account_id} tidak ada")
    out = dict(row)
    out["units"] = [u for (u,) in conn.execute(select(account_units.c.unit).where(
        account_units.c.account_id == account_id).order_by(account_units.c.unit))]
    return out


def get(conn: Connection, account_id: int) -> dict:
    return _row(conn, account_id)


def by_username(conn: Connection, username: str) -> dict | None:
    aid = conn.execute(select(accounts.c.id).where(accounts.c.username == username.strip().lower())).scalar()
    return _row(conn, aid) if aid is not None else None


def actor_of(row: dict) -> Actor:
    return Actor(row["id"], row["username"], row["full_name"], row["role"], frozenset(row["units"]),
                 bool(row["must_change_password"]))


def _public(row: dict) -> dict:
    """An account as the audit log keeps it (no hash, no counters)."""
    return {"username": row["username"], "full_name": row["full_name"], "role": row["role"],
            "units": list(row["units"]), "active": bool(row["active"])}


def list_all(conn: Connection) -> list[dict]:
    units: dict[int, list[str]] = {}
    for aid, u in conn.execute(select(account_units.c.account_id, account_units.c.unit).order_by(account_units.c.unit)):
        units.setdefault(aid, []).append(u)
    return [{**dict(r), "units": units.get(r["id"], [])}
            for r in conn.execute(select(accounts).order_by(accounts.c.username)).mappings()]


def known_units(conn: Connection) -> list[str]:
    """Every unit the server knows of: employees', kiosks' and accounts'."""
    found = set()
    for table in (employees, device_units, account_units):
        found |= {u for (u,) in conn.execute(select(table.c.unit).distinct()) if u}
    return sorted(found)


def create(conn: Connection, who: audit.Who, username: str, full_name: str, role: str, units: list[str],
           password: str, min_length: int, must_change: bool = False) -> int:
    username = username.strip().lower()
    if not USERNAME.fullmatch(username):
        raise AccountError("nama pengguna: 3-64 huruf kecil, angka, '.', '_' atau '-', diawali huruf atau angka")
    if role not in ROLES:
        raise AccountError(f"peran {role!r} tidak dikenal (admin, operator, viewer)")
    problem = field_problem("name", full_name) or password_problem(password, min_length, username)
    if problem:
        raise AccountError(problem)
    units = _check_units(role, units)
    if conn.execute(select(accounts.c.id).where(accounts.c.username == username)).first():
        raise AccountError(f"nama pengguna {username} sudah dipakai")
    t = now()
    aid = conn.execute(insert(accounts).values(
        username=username, full_name=full_name.strip(), role=role, password_hash=hash_password(password), active=True,
        must_change_password=must_change, failed=0, created_at=t, updated_at=t, password_changed_at=t)
    ).inserted_primary_key[0]
    if units:
        conn.execute(insert(account_units), [{"account_id": aid, "unit": u} for u in units])
    audit.record(conn, who, "account_created", f"account:{username}", after=_public(_row(conn, aid)))
    return aid


def update_account(conn: Connection, who: audit.Who, account_id: int, full_name: str, role: str, units: list[str],
                   active: bool) -> bool:
    """Change name, role, units, active; False when nothing changed. An administrator cannot
    take away their own administrator role or deactivate themselves (someone must remain)."""
    before = _row(conn, account_id)
    if role not in ROLES:
        raise AccountError(f"peran {role!r} tidak dikenal (admin, operator, viewer)")
    problem = field_problem("name", full_name)
    if problem:
        raise AccountError(problem)
    units = _check_units(role, units)
    if who.account_id == account_id and (role != "admin" or not active) and before["role"] == "admin":
        raise AccountError("Anda tidak dapat mencabut peran administrator atau menonaktifkan akun Anda sendiri")
    values = {"full_name": full_name.strip(), "role": role, "active": active}
    after = {**_public(before), **values, "units": units}
    b, a = audit.changes(_public(before), after)
    if not a:
        return False
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values, updated_at=now()))
    conn.execute(delete(account_units).where(account_units.c.account_id == account_id))
    if units:
        conn.execute(insert(account_units), [{"account_id": account_id, "unit": u} for u in units])
    if not active or role != before["role"] or units != before["units"]:
        from server import sessions

        sessions.end_for_account(conn, account_id)  # signed in with the old rights: sign in again
    audit.record(conn, who, "account_changed", f"account:{before['username']}", before=b, after=a)
    return True


def reset_password(conn: Connection, who: audit.Who, account_id: int, password: str, min_length: int) -> None:
    """An administrator (or the command line) sets a new password; the owner must change it
    at the next sign-in, and every session of the account ends."""
    row = _row(conn, account_id)
    problem = password_problem(password, min_length, row["username"])
    if problem:
        raise AccountError(problem)
    from server import sessions

    conn.execute(update(accounts).where(accounts.c.id == account_id).values(
        password_hash=hash_password(password), must_change_password=who.account_id != account_id, failed=0,
        locked_until=None, password_changed_at=now(), updated_at=now()))
    sessions.end_for_account(conn, account_id)
    audit.record(conn, who, "password_reset", f"account:{row['username']}")


def change_own_password(engine: Engine, actor: Actor, session_id: str, current: str, new: str, again: str,
                        min_length: int, ip: str | None = None) -> None:
    """The owner changes their password; their other sessions end."""
    with engine.connect() as conn:
        stored = conn.execute(select(accounts.c.password_hash).where(accounts.c.id == actor.id)).scalar_one()
    if not _verify(stored, current):
        raise AccountError("kata sandi sekarang salah")
    if new != again:
        raise AccountError("kedua kata sandi baru tidak sama")
    if new == current:
        raise AccountError("kata sandi baru harus berbeda dari yang sekarang")
    problem = password_problem(new, min_length, actor.username)
    if problem:
        raise AccountError(problem)
    from server import sessions

    with engine.begin() as conn:
        conn.execute(update(accounts).where(accounts.c.id == actor.id).values(
            password_hash=hash_password(new), must_change_password=False, password_changed_at=now(), updated_at=now()))
        sessions.end_for_account(conn, actor.id, keep=session_id)
        audit.record(conn, actor.who(ip), "password_changed", f"account:{actor.username}")


@dataclass(frozen=True)
class Login:
    actor: Actor | None
    message: str = ""  # why not, in Indonesian
    retry_after: int = 0  # seconds, when throttled or locked


def _throttled(conn: Connection, key: str, limit: int, t: dt.datetime) -> int:
    """Count an attempt from `key` in the current minute (one atomic statement, so that several
    server processes count together); the seconds to wait when over `limit`, else 0."""
    t0 = t - dt.timedelta(seconds=60)
    tbl = login_throttle
    stmt = dialect_insert(conn, tbl).values(key=key, window_start=t, count=1)
    stale = tbl.c.window_start <= t0
    stmt = stmt.on_conflict_do_update(index_elements=[tbl.c.key], set_={
        "window_start": case((stale, t), else_=tbl.c.window_start),
        "count": case((stale, 1), else_=tbl.c.count + 1)}).returning(tbl.c.count, tbl.c.window_start)
    count, start = conn.execute(stmt).one()
    if count <= limit:
        return 0
    return max(1, math.ceil(60 - (t - aware(start)).total_seconds()))


def login(engine: Engine, username: str, password: str, ip: str, settings: dict) -> Login:
    """Check a sign-in: throttle per address, lock per account, argon2 check; the audit log
    gets every failure and success."""
    username = username.strip().lower()[:64]
    t = now()
    who = audit.Who(None, username or "?", ip)
    with engine.begin() as conn:
        wait = _throttled(conn, f"ip:{ip}", settings["login_per_minute"], t)
        row = by_username(conn, username) if username else None
    if wait:
        return Login(None, f"Terlalu banyak percobaan masuk dari alamat ini; coba lagi dalam {wait} detik.", wait)
    wrong = Login(None, "Nama pengguna atau kata sandi salah.")
    if row is None or not row["active"]:
        _verify(_dummy_hash(), password)  # the same time as a wrong password
        with engine.begin() as conn:
            audit.record(conn, who, "login_failed", f"account:{username}",
                         after={"reason": "unknown" if row is None else "inactive"})
        return wrong
    locked = aware(row["locked_until"])
    if locked is not None and locked > t:
        wait = int((locked - t).total_seconds()) + 1
        return Login(None, f"Akun terkunci karena terlalu banyak kata sandi salah; coba lagi dalam {wait} detik.",
                     wait)
    ok = _verify(row["password_hash"], password)
    this = accounts.c.id == row["id"]
    with engine.begin() as conn:
        if ok:
            values = {"failed": 0, "locked_until": None, "last_login_at": t}
            if _hasher.check_needs_rehash(row["password_hash"]):
                values["password_hash"] = hash_password(password)
            conn.execute(update(accounts).where(this).values(**values))
            audit.record(conn, audit.Who(row["id"], row["username"], ip), "login", f"account:{row['username']}")
            return Login(actor_of(row))
        failed = conn.execute(update(accounts).where(this).values(failed=accounts.c.failed + 1)
                              .returning(accounts.c.failed)).scalar_one()
        lock = 0
        if failed >= settings["login_max_failed"]:
            lock = min(3600, settings["login_lock_s"] * 2 ** (failed - settings["login_max_failed"]))
            conn.execute(update(accounts).where(this).values(locked_until=t + dt.timedelta(seconds=lock)))
        audit.record(conn, who, "login_failed", f"account:{username}",
                     after={"reason": "wrong_password", "failed": failed, **({"locked_s": lock} if lock else {})})
    if lock:
        return Login(None, f"Kata sandi salah {failed} kali; akun dikunci {lock} detik.", lock)
    return wrong


def count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(accounts)).scalar_one()
