"""The admin PIN: a salted scrypt hash, a lockout that grows, and state that survives restarts.

The PIN itself is never stored or logged. The hash comes from the database (set at the kiosk
on first start) or, until then, from config `[admin] pin_hash` (made with `kiosk admin
hash-pin`, so a technician can preset it on the boot partition). After `max_attempts` wrong
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


@dataclass(frozen=True)
class Attempt:
    ok: bool
    locked_for_s: int = 0  # > 0: refused without checking, try again after this
    remaining: int = 0  # wrong PINs left before the lock


class AdminAuth:
    def __init__(self, store, config_hash: str = "", max_attempts: int = 5, lockout_s: int = 30,
                 now=time.time):
        self.store, self.max_attempts, self.lockout_s, self.now = store, max_attempts, lockout_s, now
        self.config_hash = config_hash

    def _row(self) -> dict | None:
        rows = list(self.store.db.query("select * from admin_pin where id = 1"))
        return rows[0] if rows else None

    def has_pin(self) -> bool:
        return self._row() is not None or bool(self.config_hash)

    def set_pin(self, pin: str, actor: str = "admin") -> None:
        h = hash_pin(pin)
        with self.store.transaction("set the admin PIN") as db:
            db["admin_pin"].upsert({"id": 1, "hash": h, "failed": 0, "locked_until": None,
                                    "updated_at": _iso(self.now())}, pk="id")
            self.store.audit("admin_pin_set", {}, actor, db=db)

    def attempt(self, pin: str) -> Attempt:
        row = self._row()
        if row is None:
            if not self.config_hash:
                return Attempt(False)
            row = {"id": 1, "hash": self.config_hash, "failed": 0, "locked_until": None}
        now = self.now()
        if row.get("locked_until"):
            wait = dt.datetime.fromisoformat(row["locked_until"]).timestamp() - now
            if wait > 0:
                return Attempt(False, locked_for_s=int(wait) + 1)
        if pin_matches(pin, row["hash"]):
            with self.store.transaction("record an admin login") as db:
                db["admin_pin"].upsert({**row, "failed": 0, "locked_until": None, "updated_at": _iso(now)}, pk="id")
                self.store.audit("admin_login", {"result": "ok"}, "admin", db=db)
            return Attempt(True)
        failed = row["failed"] + 1
        locked_for = 0
        if failed >= self.max_attempts:
            locked_for = min(3600, self.lockout_s * 2 ** (failed - self.max_attempts))
        with self.store.transaction("record a wrong admin PIN") as db:
            db["admin_pin"].upsert({**row, "failed": failed,
                                    "locked_until": _iso(now + locked_for) if locked_for else None,
                                    "updated_at": _iso(now)}, pk="id")
            self.store.audit("admin_login", {"result": "wrong_pin", "failed_in_a_row": failed,
                                             "locked_for_s": locked_for}, "admin", db=db)
        return Attempt(False, locked_for_s=locked_for, remaining=max(0, self.max_attempts - failed))


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds")
