"""Employees on the server, as HR manages them: the list with search and filters, the roster CSV
import (a preview with every problem named by its line before anything is written), edits of
unit, schedule, jabatan and golongan, deactivation, and who has face templates from which kiosk.

Every change bumps the roster version when kiosks see it (name, unit, schedule, active), so the
units' kiosks get it at their next roster pull; a change of unit is a move (service.move_employee:
the old unit's kiosks forget the employee and their faces). Every change is audited with the
record before and after. An operator changes only employees of their units, and moves someone
only between units they both manage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from kiosk.fields import field_problem, plain_text_problem
from server import audit, service
from server.accounts import Actor
from server.csvin import read_table
from server.db import employees, lookalike_holds, now, templates

ROSTER_COLUMNS = {
    "nip": ("nip baru", "nomor induk pegawai"),
    "nama": ("name", "nama pegawai", "nama lengkap"),
    "unit": ("unit kerja", "opd", "satuan kerja", "unor", "perangkat daerah", "unit organisasi"),
    "jabatan": ("nama jabatan",),
    "golongan": ("gol", "gol ruang", "golongan ruang", "pangkat golongan"),
    "jadwal": ("schedule", "jadwal kerja"),
}
EXTRA_LENGTH = {"jabatan": 200, "golongan": 40}
KIOSK_FIELDS = ("name", "unit", "schedule", "active")  # what a roster pull carries to the kiosks
PAGE = 50


class EmployeeError(ValueError):
    """A change HR asked for that cannot be made; the message (Indonesian) says why."""


def _snapshot(row) -> dict:
    return {"nip": row["nip"], "name": row["name"], "unit": row["unit"], "schedule": row["schedule"],
            "jabatan": row["jabatan"], "golongan": row["golongan"], "active": bool(row["active"])}


def get(conn: Connection, actor: Actor, nip: str) -> dict:
    row = conn.execute(select(employees).where(employees.c.nip == nip)).mappings().first()
    if row is None or not actor.can_read(row["unit"]):
        raise EmployeeError(f"pegawai {nip} tidak ada" + ("" if actor.all_units else " di unit Anda"))
    return dict(row)


def _writable(actor: Actor, row: dict) -> None:
    if not actor.can_write(row["unit"]):
        raise EmployeeError(f"pegawai {row['nip']} ada di unit {row['unit']}, yang tidak dapat Anda ubah")


# --- the list ---------------------------------------------------------------------------------

@dataclass
class Listing:
    rows: list[dict]
    total: int
    units: list[str]


def listing(conn: Connection, actor: Actor, q: str = "", unit: str = "", status: str = "aktif",
            faces: str = "", page: int = 1, per_page: int = PAGE) -> Listing:
    """Employees the actor may see, filtered: `q` in NIP or name, `unit`, `status` aktif |
    nonaktif | semua, `faces` ada | belum. Each row with its templates per kiosk."""
    conds = [actor.scope(employees.c.unit)]
    if q:
        conds.append(or_(employees.c.nip.contains(q.strip(), autoescape=True),
                         func.lower(employees.c.name).contains(q.strip().lower(), autoescape=True)))
    if unit:
        conds.append(employees.c.unit == unit)
    if status == "aktif":
        conds.append(employees.c.active.is_(True))
    elif status == "nonaktif":
        conds.append(employees.c.active.is_(False))
    live = select(templates.c.nip).where(templates.c.deleted.is_(False))
    if faces == "ada":
        conds.append(employees.c.nip.in_(live))
    elif faces == "belum":
        conds.append(employees.c.nip.not_in(live))
    where = and_(*conds)
    total = conn.execute(select(func.count()).select_from(employees).where(where)).scalar_one()
    rows = [dict(r) for r in conn.execute(select(employees).where(where).order_by(employees.c.unit, employees.c.name,
                                                                                   employees.c.nip)
                                          .limit(per_page).offset((page - 1) * per_page)).mappings()]
    faces_of = templates_by_kiosk(conn, [r["nip"] for r in rows])
    for r in rows:
        r["templates"] = faces_of.get(r["nip"], [])
    units = sorted({u for (u,) in conn.execute(select(employees.c.unit).where(actor.scope(employees.c.unit))
                                                .distinct()) if u})
    return Listing(rows, total, units)


def templates_by_kiosk(conn: Connection, nips: list[str]) -> dict[str, list[dict]]:
    """{nip: [{kiosk, count, first, last}]} of the live face templates, per kiosk that enrolled them."""
    out: dict[str, list[dict]] = {}
    if not nips:
        return out
    q = (select(templates.c.nip, templates.c.origin_device, func.count(), func.min(templates.c.created_at),
                func.max(templates.c.created_at))
         .where(templates.c.nip.in_(nips), templates.c.deleted.is_(False))
         .group_by(templates.c.nip, templates.c.origin_device).order_by(templates.c.origin_device))
    for nip, kiosk, n, first, last in conn.execute(q):
        out.setdefault(nip, []).append({"kiosk": kiosk or "?", "count": n, "first": first, "last": last})
    return out


# --- look-alike holds ------------------------------------------------------------------------

def holds(conn: Connection, actor: Actor, nip: str | None = None, limit: int = 200) -> list[dict]:
    """Look-alike holds in force that the actor may see (the resembled employee's unit is one of
    theirs), newest first; with `nip`, those that concern that employee either way (faces held
    as their look-alike, or their own photos held as someone else's). Each row: uid, nip (the
    held person), resembles, their names where the actor may read them, kiosk, source, created_at,
    can_release."""
    held, like = employees.alias("held"), employees.alias("resembled")
    conds = [lookalike_holds.c.deleted.is_(False), actor.scope(like.c.unit)]
    if nip is not None:
        conds.append(or_(lookalike_holds.c.nip == nip, lookalike_holds.c.resembles == nip))
    q = (select(lookalike_holds.c.uid, lookalike_holds.c.nip, lookalike_holds.c.resembles,
                lookalike_holds.c.origin_device, lookalike_holds.c.source, lookalike_holds.c.created_at,
                held.c.name.label("held_name"), held.c.unit.label("held_unit"),
                like.c.name.label("resembles_name"), like.c.unit.label("resembles_unit"))
         .select_from(lookalike_holds.join(like, like.c.nip == lookalike_holds.c.resembles)
                      .outerjoin(held, held.c.nip == lookalike_holds.c.nip))
         .where(and_(*conds)).order_by(lookalike_holds.c.version.desc()).limit(limit))
    out = []
    for r in conn.execute(q).mappings():
        readable = r["held_unit"] is not None and actor.can_read(r["held_unit"])
        out.append({"uid": r["uid"], "nip": r["nip"], "name": r["held_name"] if readable else None,
                    "linked": readable, "resembles": r["resembles"], "resembles_name": r["resembles_name"],
                    "kiosk": r["origin_device"] or "?", "source": r["source"] or "",
                    "created_at": r["created_at"] or "", "can_release": actor.can_write(r["resembles_unit"])})
    return out


def release_hold(conn: Connection, who: audit.Who, actor: Actor, uid: str) -> dict:
    """HR ends a look-alike hold (the held photo was the resembled employee's own face, under a
    second NIP): the unit's kiosks stop refusing that face at their next roster pull. Only an
    account that may change the resembled employee's unit; audited. Returns the hold."""
    row = conn.execute(select(lookalike_holds.c.uid, lookalike_holds.c.nip, lookalike_holds.c.resembles,
                              lookalike_holds.c.deleted, lookalike_holds.c.origin_device, employees.c.unit)
                       .select_from(lookalike_holds.join(employees, employees.c.nip == lookalike_holds.c.resembles))
                       .where(lookalike_holds.c.uid == uid)).mappings().first()
    if row is None or not actor.can_read(row["unit"]):
        raise EmployeeError(f"penahanan wajah {uid} tidak ada" + ("" if actor.all_units else " di unit Anda"))
    if row["deleted"]:
        raise EmployeeError(f"penahanan wajah {row['nip']} (mirip {row['resembles']}) sudah dilepas")
    if not actor.can_write(row["unit"]):
        raise EmployeeError(f"pegawai {row['resembles']} ada di unit {row['unit']}, yang tidak dapat Anda ubah")
    service.release_hold(conn, uid)
    audit.record(conn, who, "lookalike_hold_released", f"employee:{row['resembles']}", row["unit"],
                 before={"hold": uid, "nip": row["nip"], "resembles": row["resembles"],
                         "kiosk": row["origin_device"]}, after={"released": True})
    return dict(row)


# --- the roster import ----------------------------------------------------------------------

@dataclass
class RosterLine:
    line: int
    nip: str
    values: dict  # name, unit, and the optional fields the file gives
    status: str  # baru | berubah | aktif lagi | sama
    changes: dict = field(default_factory=dict)  # field -> (before, after)


@dataclass
class RosterPreview:
    filename: str
    encoding: str
    lines: list[RosterLine]
    errors: list[str]
    ignored_columns: list[str]
    untouched: int = 0  # employees of the actor's units the file does not list (left as they are)

    def count(self, status: str) -> int:
        return sum(1 for x in self.lines if x.status == status)


def _check_line(n: int, raw: dict, actor: Actor, existing: dict | None, schedules: set[str],
                nip_re: re.Pattern) -> tuple[dict, list[str]]:
    problems = []
    nip, name, unit = raw["nip"], raw["nama"], raw["unit"]
    if not nip:
        problems.append("NIP kosong")
    elif not nip_re.fullmatch(nip):
        problems.append(f"NIP {nip!r} tidak sesuai pola {nip_re.pattern} (NIP ASN: 18 angka)")
    for label, key, value in (("nama", "name", name), ("unit", "unit", unit)):
        if not value:
            problems.append(f"{label} kosong")
        elif problem := field_problem(key, value):
            problems.append(problem)
    values = {"name": name, "unit": unit}
    for key, limit in EXTRA_LENGTH.items():
        value = raw.get(key, "")
        if value:
            problem = plain_text_problem(value)
            if problem or len(value) > limit:
                problems.append(f"{key} {problem or f'lebih dari {limit} karakter'}")
            values[key] = value
    schedule = raw.get("jadwal", "")
    if schedule:
        if schedule not in schedules:
            problems.append(f"jadwal {schedule!r} tidak dikenal (yang ada: {', '.join(sorted(schedules))})")
        values["schedule"] = schedule
    if unit and not actor.can_write(unit):
        problems.append(f"unit {unit!r} bukan unit Anda")
    if existing is not None and unit and existing["unit"] != unit and not actor.can_write(existing["unit"]):
        problems.append(f"pegawai {nip} terdaftar di unit {existing['unit']!r}; hanya operator unit itu atau "
                        "administrator yang dapat memindahkannya")
    return values, [f"baris {n}: {p}" for p in problems]


def preview_roster(conn: Connection, actor: Actor, data: bytes, filename: str, schedules: set[str],
                   nip_pattern: str) -> RosterPreview:
    """What importing the file would do, and every problem by line; writes nothing."""
    table = read_table(data, filename, ROSTER_COLUMNS, ("nip", "nama", "unit"))
    nip_re = re.compile(nip_pattern)
    nips = [raw["nip"] for _, raw in table.rows if raw["nip"]]
    stored = {}
    for i in range(0, len(nips), 1000):
        chunk = nips[i:i + 1000]
        stored.update({r["nip"]: dict(r) for r in conn.execute(select(employees).where(employees.c.nip.in_(chunk)))
                       .mappings()})
    lines, errors, seen = [], [], {}
    for n, raw in table.rows:
        existing = stored.get(raw["nip"])
        values, problems = _check_line(n, raw, actor, existing, schedules, nip_re)
        if raw["nip"] in seen:
            problems.append(f"baris {n}: NIP {raw['nip']} sudah ada di baris {seen[raw['nip']]}")
        seen.setdefault(raw["nip"], n)
        if problems:
            errors += problems
            continue
        if existing is None:
            lines.append(RosterLine(n, raw["nip"], values, "baru"))
            continue
        changes = {k: (existing[k], v) for k, v in values.items() if existing[k] != v}
        status = "aktif lagi" if not existing["active"] else "berubah" if changes else "sama"
        lines.append(RosterLine(n, raw["nip"], values, status, changes))
    units = sorted({x.values["unit"] for x in lines})
    listed = {nip for (nip,) in conn.execute(select(employees.c.nip).where(
        employees.c.unit.in_(units), employees.c.active.is_(True)))} if units else set()
    return RosterPreview(filename, table.encoding, lines, errors, table.ignored_columns, len(listed - set(seen)))


def apply_roster(conn: Connection, who: audit.Who, actor: Actor, data: bytes, filename: str, schedules: set[str],
                 nip_pattern: str) -> RosterPreview:
    """Import the file in the caller's transaction: checked again against the database as it is
    now; with any problem nothing is written (EmployeeError lists them)."""
    preview = preview_roster(conn, actor, data, filename, schedules, nip_pattern)
    if preview.errors:
        raise EmployeeError(f"{len(preview.errors)} masalah; tidak ada yang disimpan: " + "; ".join(preview.errors[:20]))
    t = now()
    for x in preview.lines:
        if x.status == "baru":
            row = {"nip": x.nip, "active": True, "schedule": None, "jabatan": None, "golongan": None, **x.values}
            conn.execute(insert(employees).values(**row, version=service.next_version(conn), created_at=t,
                                                  updated_at=t))
            audit.record(conn, who, "employee_created", f"employee:{x.nip}", row["unit"],
                         after=_snapshot(row))
        elif x.status != "sama":
            _change(conn, who, x.nip, {**x.values, "active": True})
    audit.record(conn, who, "roster_imported", f"file:{filename}", None,
                 after={"file": filename, "baru": preview.count("baru"), "berubah": preview.count("berubah"),
                        "aktif lagi": preview.count("aktif lagi"), "sama": preview.count("sama")})
    return preview


def _change(conn: Connection, who: audit.Who, nip: str, values: dict) -> bool:
    """Set `values` on an employee (a new unit moves them); audited. False if nothing changed."""
    before = dict(conn.execute(select(employees).where(employees.c.nip == nip)).mappings().one())
    new = {k: v for k, v in values.items() if before[k] != v}
    if not new:
        return False
    if "unit" in new:
        service.move_employee(conn, nip, new["unit"])
    rest = {k: v for k, v in new.items() if k != "unit"}
    if rest:
        if rest.get("active") is True:
            rest["deactivated_at"] = None
        if any(k in KIOSK_FIELDS for k in rest):
            rest["version"] = service.next_version(conn)
        conn.execute(update(employees).where(employees.c.nip == nip).values(**rest, updated_at=now()))
    after = dict(conn.execute(select(employees).where(employees.c.nip == nip)).mappings().one())
    b, a = audit.changes(_snapshot(before), _snapshot(after))
    action = "employee_activated" if new.get("active") is True and not before["active"] else "employee_changed"
    audit.record(conn, who, action, f"employee:{nip}", after["unit"], before=b, after=a)
    return True


# --- single changes ---------------------------------------------------------------------------

def edit(conn: Connection, who: audit.Who, actor: Actor, nip: str, values: dict, schedules: set[str]) -> bool:
    """HR edits name, unit, schedule, jabatan, golongan of one employee ("" schedule: the unit's
    or the default). False if nothing changed."""
    row = get(conn, actor, nip)
    _writable(actor, row)
    problems = []
    for key in ("name", "unit"):
        if key in values and (problem := (field_problem(key, values[key]) or
                                          (f"{key} kosong" if not values[key].strip() else None))):
            problems.append(problem)
    for key, limit in EXTRA_LENGTH.items():
        value = values.get(key)
        if value and (plain_text_problem(value) or len(value) > limit):
            problems.append(f"{key} {plain_text_problem(value) or f'lebih dari {limit} karakter'}")
    schedule = values.get("schedule")
    if schedule and schedule not in schedules:
        problems.append(f"jadwal {schedule!r} tidak dikenal (yang ada: {', '.join(sorted(schedules))})")
    if "unit" in values and values["unit"] != row["unit"] and not actor.can_write(values["unit"].strip()):
        problems.append(f"unit {values['unit']!r} bukan unit Anda")
    if problems:
        raise EmployeeError("; ".join(problems))
    clean = {k: (v.strip() or None if k in ("schedule", "jabatan", "golongan") else v.strip()) for k, v in values.items()}
    return _change(conn, who, nip, clean)


def deactivate(conn: Connection, who: audit.Who, actor: Actor, nip: str) -> int:
    """Someone who left: inactive everywhere, their faces deleted from every kiosk at its next
    roster pull; their recap stops on this day. Returns the templates deleted."""
    row = get(conn, actor, nip)
    _writable(actor, row)
    if not row["active"]:
        raise EmployeeError(f"pegawai {nip} sudah nonaktif")
    n = service.deactivate_employee(conn, nip)
    audit.record(conn, who, "employee_deactivated", f"employee:{nip}", row["unit"], before={"active": True},
                 after={"active": False, "templates_deleted": n})
    return n


def activate(conn: Connection, who: audit.Who, actor: Actor, nip: str) -> None:
    """Back to active (their faces were deleted: they enroll again at a kiosk)."""
    row = get(conn, actor, nip)
    _writable(actor, row)
    if row["active"]:
        raise EmployeeError(f"pegawai {nip} sudah aktif")
    _change(conn, who, nip, {"active": True})
