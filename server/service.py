"""What the collector does, independent of HTTP: devices, their units and tokens, storing each
event once, heartbeats, and the roster (employees and templates with versions).

Each public function takes a SQLAlchemy Connection inside a transaction (``engine.begin()``).
Input arrives validated (server.schemas); what is decided here is who may do what:
`may_access` and `unit_scope` are the one rule that a device reads and writes only the
employees and templates of its own units.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import math
import re
import secrets
import struct
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, IntegrityError

from kiosk.fields import field_problem
from server.db import (counters, departures, device_units, devices, dialect_insert, employees, events,
                       lookalike_holds, now, templates)
from server.schemas import MAX_ROSTER_ITEMS, EmployeeIn, Event, HoldIn, TemplateIn

log = logging.getLogger("server")
DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


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


@dataclass(frozen=True)
class Device:
    """An authenticated kiosk and the units it serves."""

    id: str
    name: str
    units: frozenset[str]


# --- who may do what ------------------------------------------------------------------------

def may_access(device: Device, unit: str) -> bool:
    """Whether `device` may read and write an employee of `unit` (and that employee's templates):
    only the units it was registered for. An employee's unit itself changes only through HR."""
    return bool(unit) and unit in device.units


def unit_scope(device: Device):
    """`may_access` as a condition on the employees table, for queries."""
    return employees.c.unit.in_(sorted(device.units))


# --- devices --------------------------------------------------------------------------------

def _check_units(units: list[str]) -> list[str]:
    units = sorted({u.strip() for u in units if u and u.strip()})
    if not units:
        raise ServiceError("a kiosk needs at least one unit (--unit \"Dinas Kominfo\"; repeat --unit for a kiosk "
                           "serving several units): it reads and writes only its units' employees")
    for u in units:
        problem = field_problem("unit", u)
        if problem:
            raise ServiceError(problem)
    return units


def _set_units(conn: Connection, device_id: str, units: list[str]) -> None:
    conn.execute(delete(device_units).where(device_units.c.device_id == device_id))
    conn.execute(insert(device_units), [{"device_id": device_id, "unit": u} for u in units])


def register_device(conn: Connection, device_id: str, name: str = "", units: list[str] | None = None,
                    replace: bool = False) -> Token:
    """Create a device serving `units` (or give an existing one a new token with `replace`, and
    new units when given); returns the token, which is shown once and stored only as its hash."""
    if not DEVICE_ID.fullmatch(device_id or ""):
        raise ServiceError(f"device id {device_id!r} must be 1-64 letters, digits, '.', '_' or '-' "
                           "(the kiosk's [device] id)")
    problem = field_problem("name", name)
    if problem:
        raise ServiceError(f"device {problem}")
    token = secrets.token_urlsafe(32)
    existing = conn.execute(select(devices.c.id).where(devices.c.id == device_id)).first()
    if existing and not replace:
        raise ServiceError(f"device {device_id} is already registered; use --replace to give it a new "
                           "token (the old one stops working)")
    if existing:
        values = {"token_hash": hash_token(token), "revoked_at": None}
        if name:
            values["name"] = name
        conn.execute(update(devices).where(devices.c.id == device_id).values(**values))
        if units:
            _set_units(conn, device_id, _check_units(units))
        elif not device_units_of(conn, device_id):
            _check_units([])
    else:
        checked = _check_units(units or [])
        conn.execute(insert(devices).values(id=device_id, name=name, unit="", token_hash=hash_token(token),
                                            created_at=now()))
        _set_units(conn, device_id, checked)
    return Token(token)


def set_device_units(conn: Connection, device_id: str, units: list[str]) -> list[str]:
    """IT changes which units a kiosk serves (its token stays)."""
    if conn.execute(select(devices.c.id).where(devices.c.id == device_id)).first() is None:
        raise ServiceError(f"device {device_id} is not registered")
    checked = _check_units(units)
    _set_units(conn, device_id, checked)
    return checked


def device_units_of(conn: Connection, device_id: str) -> list[str]:
    return [u for (u,) in conn.execute(select(device_units.c.unit).where(device_units.c.device_id == device_id)
                                       .order_by(device_units.c.unit))]


def revoke_device(conn: Connection, device_id: str) -> None:
    r = conn.execute(update(devices).where(devices.c.id == device_id).values(revoked_at=now()))
    if r.rowcount == 0:
        raise ServiceError(f"device {device_id} is not registered")


def authenticate(conn: Connection, token: str) -> tuple[Device | None, str]:
    """(device, "") or (None, why): "missing", "unknown" or "revoked"."""
    if not token:
        return None, "missing"
    row = conn.execute(select(devices.c.id, devices.c.name, devices.c.revoked_at)
                       .where(devices.c.token_hash == hash_token(token))).first()
    if row is None:
        return None, "unknown"
    if row.revoked_at is not None:
        return None, "revoked"
    return Device(row.id, row.name, frozenset(device_units_of(conn, row.id))), ""


def list_devices(conn: Connection) -> list[dict]:
    units: dict[str, list[str]] = {}
    for d, u in conn.execute(select(device_units.c.device_id, device_units.c.unit).order_by(device_units.c.unit)):
        units.setdefault(d, []).append(u)
    rows = [{**dict(r), "units": units.get(r["id"], [])}
            for r in conn.execute(select(devices).order_by(devices.c.id)).mappings()]
    for r in rows:
        r["unit"] = ", ".join(r["units"])
    return sorted(rows, key=lambda r: (r["unit"], r["id"]))


# --- events ---------------------------------------------------------------------------------

def event_row(e: Event, batch_id: str | None, received: dt.datetime) -> dict:
    return {"id": e.id, "device_id": e.device_id, "nip": e.nip, "kind": e.kind, "local_time": e.local_time,
            "utc_at": e.utc_at, "local_date": e.local_date, "work_date": e.work_date,
            "in_window": bool(e.in_window), "monotonic_ns": e.monotonic_ns, "boot_id": e.boot_id,
            "clock_synced": bool(e.clock_synced), "distance": e.distance, "margin": e.margin,
            "batch_id": batch_id, "received_at": received,
            "corrects": e.corrects, "correction_source": e.correction_source}


def _insert_ignore(conn: Connection, table, rows: list[dict], key: str) -> set:
    """Insert rows whose key is new (ON CONFLICT DO NOTHING); returns the keys inserted."""
    if not rows:
        return set()
    # executemany with RETURNING: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues")
    # from one cached statement; rows skipped by the conflict return nothing
    stmt = dialect_insert(conn, table).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key])
    return {v for (v,) in conn.execute(stmt, rows)}


def insert_events(conn: Connection, rows: list[dict]) -> tuple[set, dict[str, str]]:
    """(ids inserted, id -> why the database refused it). The batch goes in as one statement;
    should the database refuse it although every event passed the schema, each event is tried
    on its own so that one refusal costs only that event."""
    try:
        with conn.begin_nested():
            return _insert_ignore(conn, events, rows, "id"), {}
    except (DataError, IntegrityError) as e:
        log.error("the database refused a batch of %d checked events (%s); storing them one by one",
                  len(rows), type(e.orig).__name__ if e.orig is not None else type(e).__name__)
    inserted, refused = set(), {}
    for row in rows:
        try:
            with conn.begin_nested():
                inserted |= _insert_ignore(conn, events, [row], "id")
        except (DataError, IntegrityError) as e:
            refused[row["id"]] = f"the database refused this event ({type(e.orig or e).__name__})"
    return inserted, refused


def ingest(conn: Connection, device: Device, batch_id: str | None, checked: list, echo: list[str]) -> dict:
    """Store a batch: each event accepted (new), duplicate (its id is already stored) or rejected
    (with the reason). `checked[i]` is the i-th event or why it is not one (schemas.check_events),
    `echo[i]` the id to answer a rejected one with. The same batch sent again answers duplicate
    for every stored event."""
    results: list[dict] = []
    valid: dict[str, dict] = {}
    received = now()
    for i, e in enumerate(checked):
        if isinstance(e, str):
            results.append({"index": i, "id": echo[i], "status": "rejected", "reason": e})
        elif e.device_id != device.id:
            results.append({"index": i, "id": e.id, "status": "rejected",
                            "reason": f"device_id {e.device_id!r} is not the device this token belongs to "
                                      f"({device.id})"})
        elif e.id in valid:
            results.append({"index": i, "id": e.id, "status": "duplicate", "reason": "repeated in this batch"})
        else:
            valid[e.id] = event_row(e, batch_id, received)
            results.append({"index": i, "id": e.id, "status": None})
    inserted, refused = insert_events(conn, list(valid.values()))
    for r in results:
        if r["status"] is None:
            if r["id"] in refused:
                r["status"], r["reason"] = "rejected", refused[r["id"]]
            else:
                r["status"] = "accepted" if r["id"] in inserted else "duplicate"
    conn.execute(update(devices).where(devices.c.id == device.id)
                 .values(last_seen_at=received, last_upload_at=received))
    counts = {s: sum(1 for r in results if r["status"] == s) for s in ("accepted", "duplicate", "rejected")}
    return {"batch_id": batch_id, "results": results, **counts,
            "server_time": received.isoformat(timespec="milliseconds")}


# --- heartbeat ------------------------------------------------------------------------------

def heartbeat(conn: Connection, device: Device, values: dict) -> dict:
    """`values`: the fields of a schemas.Heartbeat that were sent."""
    t = now()
    sent_at = values.pop("sent_at", None)
    offset = None
    if sent_at:
        from server.schemas import parse_time

        offset = (t - parse_time(sent_at)).total_seconds()
    if values.get("pending") == 0:  # everything recorded before now has arrived
        values["synced_until"] = t
    conn.execute(update(devices).where(devices.c.id == device.id)
                 .values(**values, clock_offset_s=offset, last_heartbeat_at=t, last_seen_at=t))
    return {"server_time": t.isoformat(timespec="milliseconds"), "roster_version": roster_version(conn)}


# --- roster ---------------------------------------------------------------------------------

def roster_version(conn: Connection) -> int:
    return conn.execute(select(counters.c.value).where(counters.c.name == "roster")).scalar_one()


def next_version(conn: Connection) -> int:
    """Bump the roster counter; the row lock orders concurrent writers (PostgreSQL), so a
    kiosk reading `since=N` never misses a change committed later with a smaller version."""
    conn.execute(update(counters).where(counters.c.name == "roster").values(value=counters.c.value + 1))
    return roster_version(conn)


def roster_page(conn: Connection, device: Device, since: int, limit: int = MAX_ROSTER_ITEMS) -> dict:
    """Changes after version `since` for the device's units, oldest first: employees (active
    false = removed, also when HR moved them to another unit) and templates (deleted true =
    removed), at most `limit` of each; `more` when cut."""
    limit = max(1, min(limit, MAX_ROSTER_ITEMS))
    current = roster_version(conn)
    units = sorted(device.units)
    emps = [dict(r) for r in conn.execute(
        select(employees).where(employees.c.version > since, unit_scope(device))
        .order_by(employees.c.version).limit(limit + 1)).mappings()]
    # who left one of these units: removed on the unit's kiosks (name and new unit not told)
    gone = [{"nip": r.nip, "name": "", "unit": r.unit, "active": False, "schedule": None, "version": r.version,
             "departure": True}
            for r in conn.execute(select(departures).where(departures.c.unit.in_(units), departures.c.version > since)
                                  .order_by(departures.c.version).limit(limit + 1))]
    people = sorted(emps + gone, key=lambda e: e["version"])[:limit + 1]
    tmps = [dict(r) for r in conn.execute(
        select(templates).join(employees, employees.c.nip == templates.c.nip)
        .where(templates.c.version > since, unit_scope(device))
        .order_by(templates.c.version).limit(limit + 1)).mappings()]
    holds = [dict(r) for r in conn.execute(
        select(lookalike_holds).join(employees, employees.c.nip == lookalike_holds.c.resembles)
        .where(lookalike_holds.c.version > since, unit_scope(device))
        .order_by(lookalike_holds.c.version).limit(limit + 1)).mappings()]
    more = len(people) > limit or len(tmps) > limit or len(holds) > limit
    people, tmps, holds = people[:limit], tmps[:limit], holds[:limit]
    # the version the kiosk may store: everything up to it is included
    upto = current
    if more:  # up to the last version of each list that was cut
        upto = min(rows[-1]["version"] for rows in (people, tmps, holds) if len(rows) == limit)
        people = [e for e in people if e["version"] <= upto]
        tmps = [t for t in tmps if t["version"] <= upto]
        holds = [h for h in holds if h["version"] <= upto]
    out_tmps = [{"uid": t["uid"], "nip": t["nip"], "deleted": bool(t["deleted"]), "version": t["version"],
                 **({} if t["deleted"] else {
                     "encoding": base64.b64encode(t["encoding"]).decode(), "model_version": t["model_version"],
                     "quality": t["quality"], "created_at": t["created_at"]})} for t in tmps]
    gone_nips = {e["nip"]: e["version"] for e in people if e.get("departure")}
    if gone_nips:  # their faces go too
        for uid, nip in conn.execute(select(templates.c.uid, templates.c.nip)
                                     .where(templates.c.nip.in_(sorted(gone_nips)))):
            out_tmps.append({"uid": uid, "nip": nip, "deleted": True, "version": gone_nips[nip]})
        out_tmps.sort(key=lambda t: t["version"])
    return {
        "version": upto, "more": more,
        "employees": [{"nip": e["nip"], "name": e["name"], "unit": e["unit"], "active": bool(e["active"]),
                       "schedule": e["schedule"], "version": e["version"]} for e in people],
        "templates": out_tmps,
        "holds": [{"uid": h["uid"], "nip": h["nip"], "resembles": h["resembles"], "deleted": bool(h["deleted"]),
                   "version": h["version"],
                   **({} if h["deleted"] else {"encoding": base64.b64encode(h["encoding"]).decode(),
                                               "model_version": h["model_version"], "created_at": h["created_at"]})}
                  for h in holds],
    }


def _push_employee(conn: Connection, device: Device, e: EmployeeIn, schedules: set[str]) -> tuple[str, str | None]:
    """(status, reason) of one employee pushed by a kiosk."""
    if e.schedule and e.schedule not in schedules:  # the dashboard could not apply it
        return "refused", (f"schedule {e.schedule!r} of employee {e.nip} is not defined on the server "
                           f"(defined: {', '.join(sorted(schedules))})")
    row = conn.execute(select(employees).where(employees.c.nip == e.nip)).mappings().first()
    t = now()
    if row is None:
        unit = e.unit or (next(iter(device.units)) if len(device.units) == 1 else "")
        if not unit:
            return "refused", (f"employee {e.nip} has no unit and this kiosk serves several "
                               f"({', '.join(sorted(device.units)) or 'none'}): say which")
        if not may_access(device, unit):
            return "refused", f"unit {unit!r} of employee {e.nip} is not one of this kiosk's units"
        conn.execute(insert(employees).values(
            nip=e.nip, name=e.name, unit=unit, active=True if e.active is None else e.active,
            schedule=e.schedule or None, version=next_version(conn), created_at=t, updated_at=t))
        return "accepted", None
    if not may_access(device, row["unit"]):
        return "refused", (f"employee {e.nip} belongs to another unit on the server; only HR on the server "
                           "changes an employee's unit")
    if e.unit and e.unit != row["unit"]:
        return "refused", (f"employee {e.nip} is in unit {row['unit']!r} on the server, not {e.unit!r}; only HR "
                           "on the server changes an employee's unit")
    # a kiosk renames and reschedules; it never (re)activates or deactivates (HR on the server does)
    changes = {k: v for k, v in (("name", e.name), ("schedule", e.schedule)) if v and row[k] != v}
    if not changes:
        return "unchanged", None
    conn.execute(update(employees).where(employees.c.nip == e.nip)
                 .values(**changes, version=next_version(conn), updated_at=t))
    return "accepted", None


NOT_A_FACE = "encoding holds NaN or infinite numbers (not a face template)"


def _finite(encoding: bytes) -> bool:
    """A template's or a hold's little-endian float32 values are all finite (the schema checked
    the length)."""
    return all(map(math.isfinite, struct.unpack(f"<{len(encoding) // 4}f", encoding)))


def _answer(key: str, value: str, status: str, reason: str | None) -> dict:
    """One item's answer in a roster push: its key, status and (when there is one) the reason."""
    return {key: value, "status": status, **({"reason": reason} if reason else {})}


def _hold_unit_problem(conn: Connection, device: Device, resembles: str) -> str | None:
    """Why this kiosk may not hold faces against employee `resembles` (None: it may)."""
    unit = conn.execute(select(employees.c.unit).where(employees.c.nip == resembles)).scalar()
    if unit is None:
        return f"employee {resembles} is not on the server (push the employee's templates first)"
    if not may_access(device, unit):
        return f"employee {resembles} belongs to another unit; this kiosk cannot hold faces against it"
    return None


def _push_hold(conn: Connection, device: Device, h: HoldIn) -> tuple[str, str | None]:
    """(status, reason) of one look-alike hold pushed by a kiosk: kept for the kiosks of the unit
    of the employee it resembles, which must be one of this kiosk's units."""
    problem = _hold_unit_problem(conn, device, h.resembles)
    if problem:
        return "refused", problem
    row = conn.execute(select(lookalike_holds).where(lookalike_holds.c.uid == h.uid)).mappings().first()
    if row is not None:
        return (("duplicate", None) if (row["nip"], row["resembles"]) == (h.nip, h.resembles) else
                ("refused", f"hold {h.uid} is stored already for another person"))
    blob = base64.b64decode(h.encoding)
    if not _finite(blob):
        return "refused", NOT_A_FACE
    conn.execute(insert(lookalike_holds).values(
        uid=h.uid, nip=h.nip, resembles=h.resembles, encoding=blob, model_version=h.model_version,
        source=h.source or "", origin_device=device.id, created_at=h.created_at or "", deleted=False,
        version=next_version(conn)))
    return "accepted", None


def _remove_hold(conn: Connection, device: Device, uid: str) -> tuple[str, str | None]:
    row = conn.execute(select(lookalike_holds).where(lookalike_holds.c.uid == uid)).mappings().first()
    if row is None or row["deleted"]:
        return "unchanged", None
    problem = _hold_unit_problem(conn, device, row["resembles"])
    if problem:
        return "refused", problem
    release_hold(conn, uid)
    return "accepted", None


def release_hold(conn: Connection, uid: str) -> None:
    """A look-alike hold ends: its photo's encoding is wiped and the kiosks of the unit hear of
    it at their next roster pull (a removal made at a kiosk, or by HR on the HR pages)."""
    conn.execute(update(lookalike_holds).where(lookalike_holds.c.uid == uid)
                 .values(deleted=True, encoding=b"", version=next_version(conn)))


def push_roster(conn: Connection, device: Device, emps: list[EmployeeIn], tmps: list[TemplateIn],
                schedules: set[str], holds: list[HoldIn] = (), removed_holds: list[str] = ()) -> dict:
    """Employees and templates enrolled at a kiosk, so every kiosk of the unit gets them. Each
    item is answered on its own: one the kiosk may not write (or with a schedule not among
    `schedules`, the server's) is refused with the reason and the rest is stored."""
    emp_results = []
    for e in emps:
        status, reason = _push_employee(conn, device, e, schedules)
        emp_results.append(_answer("nip", e.nip, status, reason))
    emp_refused = {r["nip"]: r["reason"] for r in emp_results if r["status"] == "refused"}
    tmp_results = []
    uids = [t.uid for t in tmps]
    existing = {u: n for u, n in conn.execute(select(templates.c.uid, templates.c.nip)
                                              .where(templates.c.uid.in_(uids)))} if uids else {}
    units = {}
    for t in tmps:
        if t.nip not in units:
            units[t.nip] = conn.execute(select(employees.c.unit).where(employees.c.nip == t.nip)).scalar()
        unit = units[t.nip]
        if unit is None or not may_access(device, unit):
            status, reason = "refused", emp_refused.get(t.nip) or (
                f"employee {t.nip} is not on the server (push the employee with it)" if unit is None else
                f"employee {t.nip} belongs to another unit; this kiosk cannot add faces to it")
        elif not _finite(base64.b64decode(t.encoding)):
            status, reason = "refused", NOT_A_FACE
        elif t.uid in existing:
            status, reason = (("duplicate", None) if existing[t.uid] == t.nip else
                              ("refused", f"template {t.uid} is stored already for another employee"))
        else:
            conn.execute(insert(templates).values(
                uid=t.uid, nip=t.nip, encoding=base64.b64decode(t.encoding), model_version=t.model_version,
                quality=t.quality, source=t.source or "", origin_device=device.id, created_at=t.created_at or "",
                deleted=False, version=next_version(conn)))
            existing[t.uid] = t.nip
            status, reason = "accepted", None
        tmp_results.append(_answer("uid", t.uid, status, reason))
    # after the templates: the employee a hold names may have come with them
    hold_results = [_answer("uid", h.uid, *_push_hold(conn, device, h)) for h in holds]
    removed = [_answer("uid", uid, *_remove_hold(conn, device, uid)) for uid in removed_holds]
    return {"employees_changed": sum(r["status"] == "accepted" for r in emp_results), "employees": emp_results,
            "templates": tmp_results, "holds": hold_results, "removed_holds": removed, "version": roster_version(conn)}


# --- HR on the server -----------------------------------------------------------------------

def _employee(conn: Connection, nip: str):
    row = conn.execute(select(employees).where(employees.c.nip == nip)).mappings().first()
    if row is None:
        raise ServiceError(f"employee {nip} is not on the server")
    return row


def deactivate_employee(conn: Connection, nip: str) -> int:
    """HR removes someone: inactive everywhere, their templates deleted on every kiosk."""
    _employee(conn, nip)
    t = now()
    conn.execute(update(employees).where(employees.c.nip == nip)
                 .values(active=False, deactivated_at=t, version=next_version(conn), updated_at=t))
    uids = [u for (u,) in conn.execute(select(templates.c.uid).where(templates.c.nip == nip,
                                                                     templates.c.deleted.is_(False)))]
    for uid in uids:
        conn.execute(update(templates).where(templates.c.uid == uid)
                     .values(deleted=True, encoding=b"", version=next_version(conn)))
    return len(uids)


def move_employee(conn: Connection, nip: str, unit: str) -> bool:
    """HR moves an employee to another unit: the old unit's kiosks forget them (a departure),
    the new unit's kiosks get them with their faces. False when they are in `unit` already."""
    problem = field_problem("unit", unit.strip()) if unit.strip() else "the unit must not be empty"
    if problem:
        raise ServiceError(problem)
    unit = unit.strip()
    row = _employee(conn, nip)
    if row["unit"] == unit:
        return False
    t = now()
    if row["unit"]:
        conn.execute(insert(departures).values(version=next_version(conn), nip=nip, unit=row["unit"], at=t))
    conn.execute(update(employees).where(employees.c.nip == nip)
                 .values(unit=unit, version=next_version(conn), updated_at=t))
    for (uid,) in conn.execute(select(templates.c.uid).where(templates.c.nip == nip,
                                                             templates.c.deleted.is_(False))).all():
        conn.execute(update(templates).where(templates.c.uid == uid).values(version=next_version(conn)))
    return True


def event_count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(events)).scalar_one()
