"""The admin PIN: a salted scrypt hash, a lockout that grows, and state that survives restarts.

The PIN itself is never stored or logged. HR has accounts, each a name and a PIN (the PIN says
who logs in, so the audit log names the person); the first one is made at the kiosk on first
start, or preset by a technician on the boot partition (`[admin] pin = "..."`, which
kiosk-firstboot turns into `pin_hash` and removes, or `[admin] pin_hash` from `kiosk admin
hash-pin`): until HR makes accounts, that PIN is the account "HR". `kiosk admin reset-pin`
(a technician, audited) removes an account's PIN or all of them. After `max_attempts` wrong
PINs in a row the kiosk refuses PINs for `lockout_s`, doubling with every further wrong PIN
(30 s, 1 min, 2 min ... at most an hour); the count and the lock are in the database, so
pulling the plug does not reset them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # 16 MiB, about 50 ms on a laptop core
PIN_RE = re.compile(r"[0-9]{6,12}")


class PinError(ValueError):
    """A PIN that cannot be used (too short, not digits)."""


def hash_pin(pin: str) -> str:
    check_pin_format(pin)
    return hash_secret(pin)


def hash_secret(secret: str) -> str:
    """A salted scrypt hash of a PIN or password (also the collector's HR password)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **SCRYPT)
    params = ",".join(f"{k}={v}" for k, v in SCRYPT.items())
    return f"scrypt${params}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def pin_matches(pin: str, stored: str) -> bool:
    try:
        scheme, params, salt, digest = stored.split("$")
        kw = {k: int(v) for k, v in (p.split("=") for p in params.split(","))}
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(pin.encode(), salt=base64.b64decode(salt), dklen=32, **kw)
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


def check_pin_format(pin: str) -> None:
    if not PIN_RE.fullmatch(pin or ""):
        raise PinError("the PIN must be 6 to 12 digits")


def valid_hash(stored: str) -> bool:
    return bool(re.fullmatch(r"scrypt\$n=\d+,r=\d+,p=\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+", stored or ""))


NAME_RE = re.compile(r"[^\x00-\x1f]{1,40}")
PRESET = "HR"  # the account name of a PIN preset as [admin] pin_hash (or set before accounts existed)


class AccountError(ValueError):
    """An account that cannot be made (no name, a name or PIN already in use)."""


@dataclass(frozen=True)
class Attempt:
    ok: bool
    locked_for_s: int = 0  # > 0: refused without checking, try again after this
    remaining: int = 0  # wrong PINs left before the lock
    name: str = ""  # the account whose PIN it was


class AdminAuth:
    """HR accounts (a name and a PIN each; the PIN says who is logging in, so no two accounts
    share one) and the kiosk's lockout after wrong PINs. Every change is audited with who."""

    def __init__(self, store, config_hash: str = "", max_attempts: int = 5, lockout_s: int = 30,
                 now=time.time):
        self.store, self.max_attempts, self.lockout_s, self.now = store, max_attempts, lockout_s, now
        self.config_hash = config_hash

    def _accounts(self) -> list[dict]:
        rows = list(self.store.db.query("select name, hash from admin_accounts order by name"))
        if not rows and self.config_hash:  # preset on the boot partition, until HR makes accounts
            rows = [{"name": PRESET, "hash": self.config_hash}]
        return rows

    def accounts(self) -> list[str]:
        return [r["name"] for r in self._accounts()]

    def has_pin(self) -> bool:
        return bool(self._accounts())

    def add_account(self, name: str, pin: str, actor: str) -> None:
        """A new HR account (or the first one); refuses a name or a PIN already in use."""
        name = (name or "").strip()
        if not NAME_RE.fullmatch(name):
            raise AccountError("the account needs a name (at most 40 characters)")
        check_pin_format(pin)
        existing = self._accounts()
        if any(r["name"].casefold() == name.casefold() for r in existing):
            raise AccountError(f"there is already an account named {name!r}")
        if any(pin_matches(pin, r["hash"]) for r in existing):
            raise AccountError("another account has this PIN: choose a different one")
        h = hash_pin(pin)
        now = _iso(self.now())
        with self.store.transaction(f"add the admin account {name}") as db:
            db["admin_accounts"].insert({"name": name, "hash": h, "created_at": now, "updated_at": now})
            self.store.audit("admin_account_added", {"account": name}, actor, db=db)

    def set_pin(self, pin: str, actor: str = "admin", name: str = PRESET) -> None:
        """Set (or replace) the PIN of one account."""
        check_pin_format(pin)
        if any(pin_matches(pin, r["hash"]) for r in self._accounts() if r["name"] != name):
            raise AccountError("another account has this PIN: choose a different one")
        h, now = hash_pin(pin), _iso(self.now())
        with self.store.transaction("set an admin PIN") as db:
            db["admin_accounts"].upsert({"name": name, "hash": h, "created_at": now, "updated_at": now}, pk="name")
            self.store.audit("admin_pin_set", {"account": name}, actor, db=db)

    def reset(self, actor: str, name: str | None = None) -> list[str]:
        """A technician's reset: the named account (all when None) is removed and the lock
        cleared; the next time admin mode opens, HR chooses a new PIN. Returns the removed names."""
        with self.store.transaction("reset admin PINs") as db:
            names = [r[0] for r in db.execute("select name from admin_accounts order by name").fetchall()]
            gone = names if name is None else [n for n in names if n == name]
            if name is not None and not gone:
                raise AccountError(f"no admin account named {name!r} (accounts: {', '.join(names) or 'none'})")
            for n in gone:
                db.execute("delete from admin_accounts where name = ?", [n])
            db.execute("delete from admin_lock")
            self.store.audit("admin_pin_reset", {"accounts": gone, "all": name is None}, actor, db=db)
        return gone

    def _lock(self) -> dict:
        rows = list(self.store.db.query("select * from admin_lock where id = 1"))
        return rows[0] if rows else {"id": 1, "failed": 0, "locked_until": None}

    def attempt(self, pin: str) -> Attempt:
        accounts = self._accounts()
        if not accounts:
            return Attempt(False)
        lock, now = self._lock(), self.now()
        if lock.get("locked_until"):
            wait = dt.datetime.fromisoformat(lock["locked_until"]).timestamp() - now
            if wait > 0:
                return Attempt(False, locked_for_s=int(wait) + 1)
        who = next((r["name"] for r in accounts if pin_matches(pin, r["hash"])), None)
        if who is not None:
            with self.store.transaction("record an admin login") as db:
                db["admin_lock"].upsert({"id": 1, "failed": 0, "locked_until": None, "updated_at": _iso(now)}, pk="id")
                self.store.audit("admin_login", {"result": "ok", "account": who}, f"admin:{who}", db=db)
            return Attempt(True, name=who)
        failed = lock["failed"] + 1
        locked_for = 0
        if failed >= self.max_attempts:
            locked_for = min(3600, self.lockout_s * 2 ** (failed - self.max_attempts))
        with self.store.transaction("record a wrong admin PIN") as db:
            db["admin_lock"].upsert({"id": 1, "failed": failed,
                                     "locked_until": _iso(now + locked_for) if locked_for else None,
                                     "updated_at": _iso(now)}, pk="id")
            self.store.audit("admin_login", {"result": "wrong_pin", "failed_in_a_row": failed,
                                             "locked_for_s": locked_for}, "admin", db=db)
        return Attempt(False, locked_for_s=locked_for, remaining=max(0, self.max_attempts - failed))


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds")
