"""Signed-in browsers. The cookie holds 256 random bits; the database keeps only their SHA-256
with the account, the form token (CSRF) of the session and a message for the next page. Every
server process reads them from the database, so any process can serve any request.

A session ends on sign-out, after `session_idle_minutes` unused, `session_max_hours` after
sign-in, when its account is deactivated or its rights change, and when its owner (or an
administrator) changes the password.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from server.accounts import Actor, actor_of, get
from server.db import accounts, aware, now, sessions

TOUCH_EVERY = dt.timedelta(seconds=60)  # last_seen is written at most this often (a write per page is costly)


@dataclass(frozen=True)
class Session:
    id: str  # the SHA-256 of the cookie's token
    actor: Actor
    csrf: str
    flash: str | None = None

    def csrf_ok(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(sent.encode(), self.csrf.encode())


def _id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(conn: Connection, account_id: int, ip: str, user_agent: str) -> str:
    """A new session; returns the token for the cookie (shown nowhere else)."""
    token = secrets.token_urlsafe(32)
    t = now()
    conn.execute(sessions.insert().values(id=_id(token), account_id=account_id, csrf=secrets.token_urlsafe(32),
                                          created_at=t, last_seen_at=t, ip=ip[:64], user_agent=user_agent[:200]))
    return token


def load(conn: Connection, token: str | None, idle_minutes: int, max_hours: int) -> Session | None:
    """The live session of `token` (its flash message taken), or None; an expired one is
    deleted."""
    if not token or len(token) > 100:
        return None
    sid = _id(token)
    row = conn.execute(select(sessions, accounts.c.active).join(accounts, accounts.c.id == sessions.c.account_id)
                       .where(sessions.c.id == sid)).mappings().first()
    if row is None:
        return None
    t = now()
    seen, created = aware(row["last_seen_at"]), aware(row["created_at"])
    if (not row["active"] or t - seen > dt.timedelta(minutes=idle_minutes)
            or t - created > dt.timedelta(hours=max_hours)):
        conn.execute(delete(sessions).where(sessions.c.id == sid))
        return None
    values = {}
    if t - seen > TOUCH_EVERY:
        values["last_seen_at"] = t
    if row["flash"]:
        values["flash"] = None
    if values:
        conn.execute(update(sessions).where(sessions.c.id == sid).values(**values))
    return Session(sid, actor_of(get(conn, row["account_id"])), row["csrf"], row["flash"])


def flash(conn: Connection, session_id: str, message: str) -> None:
    """A message shown once, on the next page of this session."""
    conn.execute(update(sessions).where(sessions.c.id == session_id).values(flash=message[:2000]))


def end(conn: Connection, session_id: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.id == session_id))


def end_for_account(conn: Connection, account_id: int, keep: str | None = None) -> None:
    q = delete(sessions).where(sessions.c.account_id == account_id)
    if keep:
        q = q.where(sessions.c.id != keep)
    conn.execute(q)


def purge(conn: Connection, idle_minutes: int, max_hours: int) -> int:
    """Delete sessions that can no longer be used (at each sign-in)."""
    t = now()
    return conn.execute(delete(sessions).where(
        (sessions.c.last_seen_at < t - dt.timedelta(minutes=idle_minutes))
        | (sessions.c.created_at < t - dt.timedelta(hours=max_hours)))).rowcount
