"""Leave, permits and official travel (cuti, izin, sakit, dinas luar ...): date ranges per
employee with a type from the configuration ([leave_types]), a document number and a note.

Approved records excuse their working days in every report (attendance.day: no alpha, no
TL/PSW, counted in the type's column); a half-day permit (izin datang terlambat / pulang cepat)
excuses only that band. With `[collector] four_eyes_leave` a record waits for a second
account's approval (server.records). Records never overlap (a full day with anything, a
half-day permit with a full day or the same half), are cancelled rather than deleted, and every
change is audited. Bulk import from CSV with a line-named preview, like the roster.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import and_, insert, select, update
from sqlalchemy.engine import Connection

from attendance.config import RulesConfig
from attendance.day import Excuse
from kiosk.fields import plain_text_problem
from server import audit, periods
from server.records import LIVE, Kind, conditions
from server.accounts import Actor
from server.csvin import read_table
from server.db import employees, leaves, now

MAX_DAYS = 1096  # cuti di luar tanggungan negara: up to three years
LEAVE_COLUMNS = {
    "nip": ("nip baru",),
    "jenis": ("jenis cuti", "kode", "type", "jenis izin"),
    "mulai": ("dari", "tanggal mulai", "tgl mulai", "awal", "tanggal"),
    "selesai": ("sampai", "tanggal selesai", "tgl selesai", "akhir"),
    "nomor": ("nomor surat", "no surat", "nomor dokumen", "no sk", "nomor sk"),
    "keterangan": ("catatan", "alasan", "note"),
}


class LeaveError(ValueError):
    """A leave record that cannot be made; the message (Indonesian) says why."""


def parse_date(value: str) -> dt.date:
    """YYYY-MM-DD, or DD-MM-YYYY / DD/MM/YYYY as Indonesian spreadsheets write it."""
    value = value.strip()
    m = re.fullmatch(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", value)
    try:
        if m:
            return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return dt.date.fromisoformat(value)
    except ValueError:
        pass
    raise LeaveError(f"tanggal {value!r} tidak sah (TTTT-BB-HH atau HH-BB-TTTT)")


def _type_code(rules: RulesConfig, value: str) -> str:
    """A type given by its code (CT) or its name (Cuti tahunan), in any case."""
    types = rules.values["leave_types"]
    v = value.strip()
    if v.upper() in types:
        return v.upper()
    for code, t in types.items():
        if t["name"].lower() == v.lower():
            return code
    raise LeaveError(f"jenis {value!r} tidak dikenal (kode: {', '.join(types)})")


def _snapshot(row) -> dict:
    return {"nip": row["nip"], "type": row["type"], "first_date": row["first_date"], "last_date": row["last_date"],
            "document_no": row["document_no"], "note": row["note"]}


KIND = Kind(leaves, "cuti/izin", "leave", _snapshot,
            lambda r: (dt.date.fromisoformat(r["first_date"]), dt.date.fromisoformat(r["last_date"])))


@dataclass
class Request_:
    nip: str
    code: str
    first: dt.date
    last: dt.date
    document_no: str = ""
    note: str = ""


def _check(conn: Connection, actor: Actor, rules: RulesConfig, r: Request_,
           also: list[Request_] = ()) -> tuple[str, list[str]]:
    """(the employee's unit, problems) of a new record; `also`: records of the same import."""
    problems = []
    emp = conn.execute(select(employees.c.unit).where(employees.c.nip == r.nip)).first()
    if emp is None or not actor.can_read(emp.unit):
        return "", [f"pegawai {r.nip} tidak ada" + ("" if actor.all_units else " di unit Anda")]
    if not actor.can_write(emp.unit):
        problems.append(f"pegawai {r.nip} ada di unit {emp.unit}, yang tidak dapat Anda ubah")
    if r.last < r.first:
        problems.append(f"tanggal selesai {r.last} sebelum tanggal mulai {r.first}")
    elif (r.last - r.first).days >= MAX_DAYS:
        problems.append(f"rentang {r.first} s.d. {r.last} lebih dari {MAX_DAYS} hari")
    for label, value, limit in (("nomor surat", r.document_no, 100), ("keterangan", r.note, 500)):
        problem = plain_text_problem(value)
        if problem or len(value) > limit:
            problems.append(f"{label} {problem or f'lebih dari {limit} karakter'}")
    if problems:
        return emp.unit, problems
    part = rules.values["leave_types"][r.code]["part"]
    stored = conn.execute(select(leaves).where(leaves.c.nip == r.nip, leaves.c.status.in_(LIVE),
                                               leaves.c.first_date <= r.last.isoformat(),
                                               leaves.c.last_date >= r.first.isoformat())).mappings().all()
    others = [(f"{x['type']} {x['first_date']} s.d. {x['last_date']} (no. {x['id']})", x["type"]) for x in stored]
    others += [(f"{x.code} {x.first} s.d. {x.last} di baris lain berkas ini", x.code) for x in also
               if x.nip == r.nip and x.first <= r.last and x.last >= r.first]
    for label, code in others:
        other_part = rules.values["leave_types"].get(code, {"part": "day"})["part"]
        if part == "day" or other_part == "day" or other_part == part:
            problems.append(f"tumpang tindih dengan {label}")
    problems += periods.closed_problems(conn, r.first, r.last)
    return emp.unit, problems


def create(conn: Connection, who: audit.Who, actor: Actor, rules: RulesConfig, r: Request_, four_eyes: bool) -> int:
    if r.code not in rules.values["leave_types"]:
        raise LeaveError(f"jenis {r.code!r} tidak dikenal")
    unit, problems = _check(conn, actor, rules, r)
    if problems:
        raise LeaveError("; ".join(problems))
    return _insert(conn, who, actor, r, unit, four_eyes)


def _insert(conn: Connection, who: audit.Who, actor: Actor, r: Request_, unit: str, four_eyes: bool) -> int:
    row = {"nip": r.nip, "type": r.code, "first_date": r.first.isoformat(), "last_date": r.last.isoformat(),
           "document_no": r.document_no.strip(), "note": r.note.strip()}
    status = "pending" if four_eyes else "approved"
    lid = conn.execute(insert(leaves).values(**row, status=status, created_by=actor.id or None, created_at=now())
                       ).inserted_primary_key[0]
    audit.record(conn, who, "leave_created", f"leave:{lid}", unit, after={**row, "status": status})
    return lid


def listing(conn: Connection, actor: Actor, nip: str = "", unit: str = "", first: dt.date | None = None,
            last: dt.date | None = None, status: str = "", limit: int = 500) -> list[dict]:
    conds = conditions(actor, leaves.c.nip, nip, unit, leaves.c.first_date, leaves.c.last_date, first, last)
    if status:
        conds.append(leaves.c.status == status)
    q = (select(leaves, employees.c.name, employees.c.unit).join(employees, employees.c.nip == leaves.c.nip)
         .where(and_(*conds)).order_by(leaves.c.first_date.desc(), leaves.c.id.desc()).limit(limit))
    return [dict(r) for r in conn.execute(q).mappings()]


def excuses(conn: Connection, rules: RulesConfig, first: dt.date, last: dt.date,
            units: list[str] | None = None) -> dict[tuple[str, dt.date], tuple[Excuse, ...]]:
    """{(nip, date): excuses} of the approved records between `first` and `last` (of `units`)."""
    q = select(leaves.c.nip, leaves.c.type, leaves.c.first_date, leaves.c.last_date).where(
        leaves.c.status == "approved", leaves.c.first_date <= last.isoformat(), leaves.c.last_date >= first.isoformat())
    if units is not None:
        q = q.where(leaves.c.nip.in_(select(employees.c.nip).where(employees.c.unit.in_(units))))
    out: dict[tuple[str, dt.date], tuple[Excuse, ...]] = {}
    types = rules.values["leave_types"]
    for nip, code, a, b in conn.execute(q):
        if code not in types:  # a type removed from the configuration: shown, never silently dropped
            excuse = Excuse(code, "", "day", f"{code} (jenis tidak dikenal lagi)")
        else:
            excuse = rules.excuse(code)
        d, end = max(first, dt.date.fromisoformat(a)), min(last, dt.date.fromisoformat(b))
        while d <= end:
            out[(nip, d)] = out.get((nip, d), ()) + (excuse,)
            d += dt.timedelta(days=1)
    return out


# --- CSV import ---------------------------------------------------------------------------------

@dataclass
class LeavePreview:
    filename: str
    encoding: str
    lines: list[tuple[int, Request_, dict]]  # (line, record, {name, unit})
    errors: list[str]


def preview_csv(conn: Connection, actor: Actor, rules: RulesConfig, data: bytes, filename: str) -> LeavePreview:
    table = read_table(data, filename, LEAVE_COLUMNS, ("nip", "jenis", "mulai"))
    lines, errors, accepted = [], [], []
    for n, raw in table.rows:
        try:
            code = _type_code(rules, raw["jenis"])
            first = parse_date(raw["mulai"])
            last = parse_date(raw["selesai"]) if raw.get("selesai") else first
        except LeaveError as e:
            errors.append(f"baris {n}: {e}")
            continue
        r = Request_(raw["nip"], code, first, last, raw.get("nomor", ""), raw.get("keterangan", ""))
        unit, problems = _check(conn, actor, rules, r, accepted)
        if problems:
            errors += [f"baris {n}: {p}" for p in problems]
            continue
        accepted.append(r)
        name = conn.execute(select(employees.c.name).where(employees.c.nip == r.nip)).scalar()
        lines.append((n, r, {"name": name, "unit": unit}))
    return LeavePreview(filename, table.encoding, lines, errors)


def apply_csv(conn: Connection, who: audit.Who, actor: Actor, rules: RulesConfig, data: bytes, filename: str,
              four_eyes: bool) -> LeavePreview:
    preview = preview_csv(conn, actor, rules, data, filename)
    if preview.errors:
        raise LeaveError(f"{len(preview.errors)} masalah; tidak ada yang disimpan: " + "; ".join(preview.errors[:20]))
    for _, r, emp in preview.lines:
        _insert(conn, who, actor, r, emp["unit"], four_eyes)
    audit.record(conn, who, "leave_imported", f"file:{filename}", None, after={"file": filename,
                                                                             "records": len(preview.lines)})
    return preview
