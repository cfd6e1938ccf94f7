"""What the collector does, independent of HTTP: devices and tokens, storing each event once,
heartbeats, and the roster (employees and templates with versions).

Each public function takes a SQLAlchemy Connection inside a transaction (``engine.begin()``):
a batch is stored completely or not at all.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import secrets
import uuid

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from server.db import counters, devices, employees, events, now, templates

KINDS = ("masuk", "pulang", "istirahat_keluar", "istirahat_kembali")
MAX_BATCH = 5000
MAX_ROSTER_PAGE = 2000
DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class ServiceError(ValueError):
    """Bad input from an operator or a device; the message names the problem."""


class Token:
    """A device token in memory: its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Token(<hidden>)"

    __str__ = __repr__


def hash_token(token: str) -> str:
    """Tokens are 256 random bits, so one SHA-256 is enough (no dictionary to guess from)."""
    return hashlib.sha256(token.encode()).hexdigest()


# --- devices --------------------------------------------------------------------------------

def register_device(conn: Connection, device_id: str, name: str = "", unit: str = "",
                    replace: bool = False) -> Token:
    """Create a device (or give an existing one a new token with `replace`); returns the token,
    which is shown once and stored only as its hash."""
    if not DEVICE_ID.fullmatch(device_id or ""):
        raise ServiceError(f"device id {device_id!r} must be 1-64 letters, digits, '.', '_' or '-' "
                           "(the kiosk's [device] id)")
    token = secrets.token_urlsafe(32)
    existing = conn.execute(select(devices.c.id).where(devices.c.id == device_id)).first()
    if existing and not replace:
        raise ServiceError(f"device {device_id} is already registered; use --replace to give it a new "
                           "token (the old one stops working)")
    if existing:
        values = {"token_hash": hash_token(token), "revoked_at": None}
        if name:
            values["name"] = name
        if unit:
            values["unit"] = unit
        conn.execute(update(devices).where(devices.c.id == device_id).values(**values))
    else:
        conn.execute(insert(devices).values(id=device_id, name=name, unit=unit, token_hash=hash_token(token),
                                            created_at=now()))
    return Token(token)


def revoke_device(conn: Connection, device_id: str) -> None:
    r = conn.execute(update(devices).where(devices.c.id == device_id).values(revoked_at=now()))
    if r.rowcount == 0:
        raise ServiceError(f"device {device_id} is not registered")


def authenticate(conn: Connection, token: str) -> tuple[dict | None, str]:
    """(device row, "") or (None, why): "unknown" or "revoked"."""
    if not token:
        return None, "missing"
    row = conn.execute(select(devices).where(devices.c.token_hash == hash_token(token))).mappings().first()
    if row is None:
        return None, "unknown"
    if row["revoked_at"] is not None:
        return None, "revoked"
    return dict(row), ""


def list_devices(conn: Connection) -> list[dict]:
    return [dict(r) for r in conn.execute(select(devices).order_by(devices.c.unit, devices.c.id)).mappings()]


# --- events ---------------------------------------------------------------------------------

def _iso_aware(value, field: str) -> str | None:
    if not isinstance(value, str):
        return f"{field} must be a string"
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        return f"{field} {value[:40]!r} is not an ISO-8601 time"
    if t.tzinfo is None:
        return f"{field} {value[:40]!r} has no UTC offset"
    return None


def check_event(e, device_id: str) -> str | None:
    """Why this event cannot be stored, or None."""
    if not isinstance(e, dict):
        return "an event must be a JSON object"
    for key in ("nip", "kind", "local_time", "utc_at", "local_date", "work_date", "device_id"):
        if not isinstance(e.get(key), str) or not e.get(key):
            return f"{key} is missing or not a string"
    if e["device_id"] != device_id:
        return f"device_id {e['device_id'][:64]!r} is not the device this token belongs to ({device_id})"
    if e["kind"] not in KINDS:
        return f"kind {e['kind'][:30]!r} is not one of {', '.join(KINDS)}"
    if len(e["nip"]) > 40:
        return "nip is longer than 40 characters"
    for key in ("local_time", "utc_at"):
        problem = _iso_aware(e[key], key)
        if problem:
            return problem
    for key in ("local_date", "work_date"):
        if not DATE.fullmatch(e[key]):
            return f"{key} {e[key][:20]!r} is not YYYY-MM-DD"
    if e.get("clock_synced") not in (0, 1, True, False):
        return "clock_synced must be 0 or 1"
    if e.get("in_window", 1) not in (0, 1, True, False):
        return "in_window must be 0 or 1"
    for key in ("distance", "margin"):
        v = e.get(key)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)):
            return f"{key} must be a number or null"
    mono = e.get("monotonic_ns")
    if mono is not None and (not isinstance(mono, int) or isinstance(mono, bool) or not 0 <= mono < 2**63):
        return "monotonic_ns must be a non-negative integer"
    if e.get("boot_id") is not None and (not isinstance(e["boot_id"], str) or len(e["boot_id"]) > 64):
        return "boot_id must be a string of at most 64 characters"
    return _check_correction(e)


CORRECTION_SOURCES = ("employee",)


def _check_correction(e: dict) -> str | None:
    """`corrects` (the UUID of the event this one replaces) and `correction_source` come
    together or not at all; the original event stays stored, reports use the newest."""
    corrects, source = e.get("corrects"), e.get("correction_source")
    if corrects is None and source is None:
        return None
    try:
        ok = isinstance(corrects, str) and len(corrects) == 36 and str(uuid.UUID(corrects)) == corrects
    except ValueError:
        ok = False
    if not ok:
        return "corrects must be the UUID of the corrected event"
    if corrects == e.get("id"):
        return "an event cannot correct itself"
    if source not in CORRECTION_SOURCES:
        return f"correction_source must be one of {', '.join(CORRECTION_SOURCES)}"
    if e["kind"] not in ("masuk", "pulang"):
        return "only a masuk or a pulang can be a correction"
    return None


def _event_row(e: dict, batch_id: str | None, received: dt.datetime) -> dict:
    return {"id": e["id"], "device_id": e["device_id"], "nip": e["nip"], "kind": e["kind"],
            "local_time": e["local_time"], "utc_at": e["utc_at"], "local_date": e["local_date"],
            "work_date": e["work_date"], "in_window": bool(e.get("in_window", 1)),
            "monotonic_ns": e.get("monotonic_ns"), "boot_id": e.get("boot_id"),
            "clock_synced": bool(e["clock_synced"]), "distance": e.get("distance"), "margin": e.get("margin"),
            "batch_id": batch_id, "received_at": received,
            "corrects": e.get("corrects"), "correction_source": e.get("correction_source")}


def _insert_ignore(conn: Connection, table, rows: list[dict], key: str) -> set:
    """Insert rows whose key is new (ON CONFLICT DO NOTHING); returns the keys inserted."""
    if not rows:
        return set()
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover
        raise ServiceError(f"database {dialect} is not supported (SQLite or PostgreSQL)")
    # executemany with RETURNING: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues")
    # from one cached statement; rows skipped by the conflict return nothing
    stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key])
    return {v for (v,) in conn.execute(stmt, rows)}


def ingest(conn: Connection, device: dict, body) -> dict:
    """Store a batch: each event accepted (new), duplicate (its id is already stored) or rejected
    (with the reason). The same batch sent again answers duplicate for every stored event."""
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise ServiceError('the body must be a JSON object with a list "events"')
    batch = body["events"]
    if len(batch) > MAX_BATCH:
        raise ServiceError(f"a batch holds at most {MAX_BATCH} events, got {len(batch)}")
    batch_id = body.get("batch_id") if isinstance(body.get("batch_id"), str) else None
    results: list[dict] = []
    valid: dict[str, dict] = {}
    received = now()
    for i, e in enumerate(batch):
        eid = e.get("id") if isinstance(e, dict) else None
        try:
            eid = str(uuid.UUID(eid)) if isinstance(eid, str) and len(eid) == 36 else None
        except ValueError:
            eid = None
        if eid is None:
            results.append({"index": i, "id": e.get("id") if isinstance(e, dict) else None,
                            "status": "rejected", "reason": "id is missing or not a UUID"})
            continue
        problem = check_event(e, device["id"])
        if problem:
            results.append({"index": i, "id": eid, "status": "rejected", "reason": problem})
        elif eid in valid:
            results.append({"index": i, "id": eid, "status": "duplicate", "reason": "repeated in this batch"})
        else:
            valid[eid] = _event_row({**e, "id": eid}, batch_id, received)
            results.append({"index": i, "id": eid, "status": None})
    inserted = _insert_ignore(conn, events, list(valid.values()), "id")
    for r in results:
        if r["status"] is None:
            r["status"] = "accepted" if r["id"] in inserted else "duplicate"
            r.pop("reason", None)
    conn.execute(update(devices).where(devices.c.id == device["id"])
                 .values(last_seen_at=received, last_upload_at=received))
    counts = {s: sum(1 for r in results if r["status"] == s) for s in ("accepted", "duplicate", "rejected")}
    return {"batch_id": batch_id, "results": results, **counts,
            "server_time": received.isoformat(timespec="milliseconds")}


# --- heartbeat ------------------------------------------------------------------------------

HEARTBEAT_FIELDS = {"software_version": str, "pending": int, "rejected": int, "newest_recorded_at": str,
                    "newest_acked_at": str, "clock_synced": bool, "free_disk_bytes": int,
                    "roster_version": int, "sent_at": str}


def heartbeat(conn: Connection, device: dict, body) -> dict:
    if not isinstance(body, dict):
        raise ServiceError("the body must be a JSON object")
    values = {}
    for key, typ in HEARTBEAT_FIELDS.items():
        v = body.get(key)
        if v is None:
            continue
        if typ is int and (not isinstance(v, int) or isinstance(v, bool)):
            raise ServiceError(f"{key} must be an integer")
        if typ is bool and v not in (True, False, 0, 1):
            raise ServiceError(f"{key} must be true or false")
        if typ is str and not isinstance(v, str):
            raise ServiceError(f"{key} must be a string")
        values[key] = bool(v) if typ is bool else (v[:64] if typ is str else v)
    t = now()
    sent_at = values.pop("sent_at", None)
    offset = None
    if sent_at and not _iso_aware(sent_at, "sent_at"):
        offset = (t - dt.datetime.fromisoformat(sent_at)).total_seconds()
    conn.execute(update(devices).where(devices.c.id == device["id"])
                 .values(**values, clock_offset_s=offset, last_heartbeat_at=t, last_seen_at=t))
    return {"server_time": t.isoformat(timespec="milliseconds"), "roster_version": roster_version(conn)}


# --- roster ---------------------------------------------------------------------------------

def roster_version(conn: Connection) -> int:
    return conn.execute(select(counters.c.value).where(counters.c.name == "roster")).scalar_one()


def _next_version(conn: Connection) -> int:
    """Bump the roster counter; the row lock orders concurrent writers (PostgreSQL), so a
    kiosk reading `since=N` never misses a change committed later with a smaller version."""
    conn.execute(update(counters).where(counters.c.name == "roster").values(value=counters.c.value + 1))
    return roster_version(conn)


def _scope(device: dict | None, table):
    unit = (device or {}).get("unit") or ""
    return None if not unit else (employees.c.unit == unit)


def roster_page(conn: Connection, device: dict | None, since: int, limit: int = MAX_ROSTER_PAGE) -> dict:
    """Changes after version `since`, oldest first: employees (active false = removed) and
    templates (deleted true = removed), at most `limit` rows of each; `more` when cut."""
    limit = max(1, min(limit, MAX_ROSTER_PAGE))
    current = roster_version(conn)
    scope = _scope(device, employees)
    q = select(employees).where(employees.c.version > since).order_by(employees.c.version).limit(limit + 1)
    if scope is not None:
        q = q.where(scope)
    emps = [dict(r) for r in conn.execute(q).mappings()]
    tq = (select(templates).join(employees, employees.c.nip == templates.c.nip)
          .where(templates.c.version > since).order_by(templates.c.version).limit(limit + 1))
    if scope is not None:
        tq = tq.where(scope)
    tmps = [dict(r) for r in conn.execute(tq).mappings()]
    more = len(emps) > limit or len(tmps) > limit
    emps, tmps = emps[:limit], tmps[:limit]
    # the version the kiosk may store: everything up to it is included
    upto = current
    if more:
        upto = min([emps[-1]["version"]] * (len(emps) == limit) + [tmps[-1]["version"]] * (len(tmps) == limit)
                   or [current])
        emps = [e for e in emps if e["version"] <= upto]
        tmps = [t for t in tmps if t["version"] <= upto]
    return {
        "version": upto, "more": more,
        "employees": [{"nip": e["nip"], "name": e["name"], "unit": e["unit"], "active": bool(e["active"]),
                       "schedule": e["schedule"], "version": e["version"]} for e in emps],
        "templates": [{"uid": t["uid"], "nip": t["nip"], "deleted": bool(t["deleted"]), "version": t["version"],
                       **({} if t["deleted"] else {
                           "encoding": base64.b64encode(t["encoding"]).decode(),
                           "model_version": t["model_version"], "quality": t["quality"],
                           "created_at": t["created_at"]})} for t in tmps],
    }


def upsert_employee(conn: Connection, e: dict, default_unit: str = "") -> bool:
    """Insert or update one employee; bumps the version only when something changed."""
    nip = e["nip"]
    row = conn.execute(select(employees).where(employees.c.nip == nip)).mappings().first()
    fields = {"name": e.get("name") or "", "unit": e.get("unit") or default_unit,
              "active": bool(e.get("active", True)), "schedule": e.get("schedule") or None}
    t = now()
    if row is None:
        conn.execute(insert(employees).values(nip=nip, **fields, version=_next_version(conn), created_at=t,
                                              updated_at=t))
        return True
    changes = {k: v for k, v in fields.items() if v not in ("", None) and row[k] != v}
    if "active" in changes and not e.get("active_explicit", True):
        changes.pop("active")
    if not changes:
        return False
    conn.execute(update(employees).where(employees.c.nip == nip)
                 .values(**changes, version=_next_version(conn), updated_at=t))
    return True


def push_roster(conn: Connection, device: dict, body) -> dict:
    """Employees and templates enrolled at a kiosk, so every kiosk of the unit gets them."""
    if not isinstance(body, dict):
        raise ServiceError("the body must be a JSON object")
    emps, tmps = body.get("employees", []), body.get("templates", [])
    if not isinstance(emps, list) or not isinstance(tmps, list):
        raise ServiceError('"employees" and "templates" must be lists')
    if len(emps) > MAX_ROSTER_PAGE or len(tmps) > MAX_ROSTER_PAGE:
        raise ServiceError(f"at most {MAX_ROSTER_PAGE} employees and templates per request")
    for i, e in enumerate(emps):
        if not isinstance(e, dict) or not isinstance(e.get("nip"), str) or not e["nip"] or len(e["nip"]) > 40:
            raise ServiceError(f"employees[{i}]: nip is missing or not a string of at most 40 characters")
    known = {e["nip"] for e in emps}
    rows = []
    for i, t in enumerate(tmps):
        where = f"templates[{i}]"
        if not isinstance(t, dict):
            raise ServiceError(f"{where}: must be an object")
        try:
            uid = str(uuid.UUID(str(t.get("uid"))))
            blob = base64.b64decode(t.get("encoding") or "", validate=True)
        except ValueError as ex:
            raise ServiceError(f"{where}: uid or encoding is not valid ({ex})") from None
        if len(blob) != 512:
            raise ServiceError(f"{where}: an encoding is 512 bytes (128 float32), got {len(blob)}")
        if not isinstance(t.get("nip"), str) or t["nip"] not in known and conn.execute(
                select(employees.c.nip).where(employees.c.nip == t["nip"])).first() is None:
            raise ServiceError(f"{where}: employee {t.get('nip')!r} is neither in this request nor on the server")
        if not isinstance(t.get("model_version"), str) or not t["model_version"]:
            raise ServiceError(f"{where}: model_version is missing")
        rows.append({"uid": uid, "nip": t["nip"], "encoding": blob, "model_version": t["model_version"][:80],
                     "quality": t.get("quality") if isinstance(t.get("quality"), (int, float)) else None,
                     "source": str(t.get("source") or "")[:500], "origin_device": device["id"],
                     "created_at": str(t.get("created_at") or "")[:40], "deleted": False})
    changed = 0
    for e in emps:
        # a kiosk never re-activates someone HR deactivated on the server
        changed += upsert_employee(conn, {**e, "active_explicit": False}, default_unit=device.get("unit") or "")
    existing = set()
    if rows:
        existing = {u for (u,) in conn.execute(select(templates.c.uid).where(
            templates.c.uid.in_([r["uid"] for r in rows])))}
    new = [r for r in rows if r["uid"] not in existing]
    for r in new:
        r["version"] = _next_version(conn)
    inserted = _insert_ignore(conn, templates, new, "uid")
    return {"employees_changed": changed, "templates": [
        {"uid": r["uid"], "status": "accepted" if r["uid"] in inserted else "duplicate"} for r in rows],
        "version": roster_version(conn)}


def deactivate_employee(conn: Connection, nip: str) -> int:
    """HR removes someone: inactive everywhere, their templates deleted on every kiosk."""
    row = conn.execute(select(employees.c.nip).where(employees.c.nip == nip)).first()
    if row is None:
        raise ServiceError(f"employee {nip} is not on the server")
    conn.execute(update(employees).where(employees.c.nip == nip)
                 .values(active=False, version=_next_version(conn), updated_at=now()))
    uids = [u for (u,) in conn.execute(select(templates.c.uid).where(templates.c.nip == nip,
                                                                     templates.c.deleted.is_(False)))]
    for uid in uids:
        conn.execute(update(templates).where(templates.c.uid == uid)
                     .values(deleted=True, encoding=b"", version=_next_version(conn)))
    return len(uids)


def event_count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(events)).scalar_one()
