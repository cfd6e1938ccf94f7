"""The HR login of the dashboard and the CSV exports, until the back-office accounts (issue 16)
replace it: one or a few usernames with a salted scrypt password hash in the database
(`python -m server hr-password`), checked over HTTP Basic behind the proxy's TLS. Without one
configured, the pages refuse everyone. After MAX_FAILED wrong passwords in a row a username is
locked for LOCK_S, doubling with each further wrong one (at most an hour); the count and the lock
are in the database, so they hold across restarts and server processes.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from kiosk.admin import hash_secret, pin_matches
from server.db import aware, hr_logins, now

MAX_FAILED = 5
LOCK_S = 60
MIN_PASSWORD = 12
USERNAME_MAX = 64


class PasswordError(ValueError):
    """A password or username that cannot be used; the message says why."""


@dataclass(frozen=True)
class Check:
    ok: bool
    configured: bool = True
    locked_for_s: int = 0


@functools.cache
def _dummy_hash() -> str:
    return hash_secret("not a password: evens out the time of an unknown username")


def configured(conn: Connection) -> bool:
    return conn.execute(select(func.count()).select_from(hr_logins)).scalar_one() > 0


def _printable_ascii(s: str) -> bool:
    return s.isascii() and s.isprintable()


def _valid_username(username: str) -> bool:
    return 0 < len(username) <= USERNAME_MAX and ":" not in username and _printable_ascii(username)


def set_password(conn: Connection, username: str, password: str) -> None:
    # HTTP Basic as browsers and FastAPI handle it carries ASCII only
    if not _valid_username(username):
        raise PasswordError(f"the username must be 1-{USERNAME_MAX} printable ASCII characters without ':'")
    if len(password) < MIN_PASSWORD or not _printable_ascii(password):
        raise PasswordError(f"the password must have at least {MIN_PASSWORD} characters, printable ASCII "
                            "(letters, digits, punctuation, spaces)")
    values = {"password_hash": hash_secret(password), "failed": 0, "locked_until": None, "updated_at": now()}
    if conn.execute(update(hr_logins).where(hr_logins.c.username == username).values(**values)).rowcount == 0:
        conn.execute(insert(hr_logins).values(username=username, **values))


def check(engine: Engine, username: str, password: str) -> Check:
    """Whether `username` and `password` log in; counts wrong passwords and locks. The hash is
    computed outside any transaction (it takes about 50 ms; SQLite would hold its write lock)."""
    with engine.connect() as conn:
        row = None
        if _valid_username(username):
            row = conn.execute(select(hr_logins).where(hr_logins.c.username == username)).mappings().first()
        known = row is not None or configured(conn)
    if row is None:
        if not known:
            return Check(False, configured=False)
        pin_matches(password, _dummy_hash())  # the same time as a wrong password
        return Check(False)
    t = now()
    locked = aware(row["locked_until"])
    if locked is not None and locked > t:
        return Check(False, locked_for_s=int((locked - t).total_seconds()) + 1)
    ok = pin_matches(password, row["password_hash"])
    this = hr_logins.c.username == username
    with engine.begin() as conn:
        if ok:
            conn.execute(update(hr_logins).where(this, hr_logins.c.failed > 0)
                         .values(failed=0, locked_until=None, updated_at=t))
            return Check(True)
        conn.execute(update(hr_logins).where(this).values(failed=hr_logins.c.failed + 1, updated_at=t))
        failed = conn.execute(select(hr_logins.c.failed).where(this)).scalar_one()
        lock = min(3600, LOCK_S * 2 ** (failed - MAX_FAILED)) if failed >= MAX_FAILED else 0
        if lock:
            conn.execute(update(hr_logins).where(this).values(locked_until=t + dt.timedelta(seconds=lock)))
    return Check(False, locked_for_s=lock)
