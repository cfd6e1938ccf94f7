"""The one computation behind every report of the collector: the daily page and its CSV, the
monthly recap (page, CSV, XLSX) and the snapshot of a closed period all call `compute`, which
hands the collector's tables to attendance.recap (the same rules code as the kiosk's reports).

Read from the database: employees (of the units asked for), their kiosk events by work date,
holidays, approved leave (server.leave.excuses) and approved corrections
(server.corrections.approved).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from attendance.day import Punch
from attendance.recap import EmployeeDay, compute_days
from attendance.schedule import ScheduleError
from server import corrections, leave
from server.gcpause import gc_paused
from server.config import ServerConfig
from server.db import aware, employees, events, holidays


class RulesMismatch(ValueError):
    """An employee's schedule that the configuration does not define."""


class Source:
    """What attendance.recap.compute_days reads, from the collector's tables."""

    def __init__(self, conn: Connection, units: list[str] | None):
        self.conn, self.units = conn, units

    def employees(self) -> list[dict]:
        q = select(employees.c.nip, employees.c.name, employees.c.unit, employees.c.active, employees.c.schedule,
                   employees.c.created_at, employees.c.deactivated_at, employees.c.jabatan, employees.c.golongan)
        if self.units is not None:
            q = q.where(employees.c.unit.in_(self.units))
        # times as stored: timezone-aware (PostgreSQL) or naive UTC (SQLite); attendance.recap
        # reads both
        # (fetched at once and zipped: Row._asdict per row was a sixth of the regency's daily page)
        res = self.conn.execute(q.order_by(employees.c.unit, employees.c.nip))
        keys = list(res.keys())
        return [dict(zip(keys, row)) for row in res.all()]

    def holidays(self) -> dict:
        return {dt.date.fromisoformat(r.date): r.name for r in self.conn.execute(select(holidays))}


def punches(conn: Connection, first: dt.date, last: dt.date, units: list[str] | None) -> dict:
    """{(nip, work_date ISO): [Punch]} of the kiosk events of those dates that count: an event
    the employee corrected at the kiosk (another event names it in `corrects`) is replaced by
    that correction, which marks its day (attendance.day.current)."""
    q = select(events.c.nip, events.c.work_date, events.c.local_time, events.c.kind, events.c.clock_synced,
               events.c.id, events.c.corrects).where(events.c.work_date >= first.isoformat(),
                                                     events.c.work_date <= last.isoformat())
    if units is not None:
        q = q.where(events.c.nip.in_(select(employees.c.nip).where(employees.c.unit.in_(units))))
    rows = conn.execute(q).all()
    replaced = {r.corrects for r in rows if r.corrects}
    out: dict[tuple[str, str], list[Punch]] = {}
    parse = dt.datetime.fromisoformat
    for nip, work_date, local_time, kind, synced, eid, corrects in rows:
        if eid not in replaced:
            out.setdefault((nip, work_date), []).append(Punch(parse(local_time), kind, bool(synced), eid,
                                                              corrected=corrects is not None))
    return out


@gc_paused()
def compute(conn: Connection, settings: ServerConfig, first: dt.date, last: dt.date, now: dt.datetime,
            units: list[str] | None = None) -> list[EmployeeDay]:
    """Every employee's day from `first` to `last` (up to today), of `units` (None: all)."""
    rules = settings.rules
    try:
        return compute_days(Source(conn, units), rules, first, last, now,
                            excuses=leave.excuses(conn, rules, first, last, units),
                            corrections=corrections.approved(conn, first, last, units, rules.tz),
                            punches=punches(conn, first, last, units))
    except ScheduleError as e:  # stored before kiosks' schedules were checked, or the configuration changed
        raise RulesMismatch(f"aturan absensi (konfigurasi) tidak dapat diterapkan: {e}") from None


# --- how far the kiosks have synced --------------------------------------------------------------

STALE = dt.timedelta(minutes=15)


def sync_state(conn: Connection, until: dt.datetime, now: dt.datetime, units: list[str] | None = None) -> list[dict]:
    """Each kiosk (serving one of `units`, or all) and whether everything it recorded up to
    `until` has arrived: its last heartbeat with nothing pending came after `until` (or, for
    a moment not yet past, within the last 15 minutes). Revoked kiosks never hold anything up."""
    from server import service

    out = []
    for d in service.list_devices(conn):
        if units is not None and not set(d["units"]) & set(units):
            continue
        hb, synced = aware(d["last_heartbeat_at"]), aware(d["synced_until"])
        complete = d["revoked_at"] is None and synced is not None and synced >= min(until, now - STALE)
        out.append({**d, "last_heartbeat_at": hb, "synced_until": synced, "complete": complete,
                    "stale": hb is None or now - hb > STALE})
    return out


def incomplete(devices: list[dict]) -> list[str]:
    return [d["id"] for d in devices if not d["complete"] and d["revoked_at"] is None]


# --- the day --------------------------------------------------------------------------------------

NOT_FINAL = "alpha belum final: belum sinkron "


@dataclass
class DailyView:
    """The daily page and the daily CSV: `rows` are the CSV's rows; every count and list of the
    page is taken from the same results."""

    day: dt.date
    rows: list[dict]
    units: list[dict]
    totals: dict
    lists: dict[str, list[dict]]
    devices: list[dict]
    incomplete: list[str]


CATEGORIES = ("hadir", "terlambat", "pulang_cepat", "belum_datang", "alpha", "cuti", "libur", "dikoreksi")


def _categories(r) -> set[str]:
    out = set()
    arrived = r.masuk is not None or r.pulang is not None
    if r.status in ("present", "open") and arrived:
        out.add("hadir")
        if r.tl:
            out.add("terlambat")
        if r.psw:
            out.add("pulang_cepat")
    elif r.status == "open":
        out.add("belum_datang")
    elif r.status == "alpha":
        out.add("alpha")
    elif r.status == "excused":
        out.add("cuti")
    elif r.status in ("holiday", "off"):
        out.add("libur")
    if r.corrected:
        out.add("dikoreksi")
    return out


def daily_view(conn: Connection, settings: ServerConfig, day: dt.date, units: list[str] | None,
               now: dt.datetime | None = None) -> DailyView:
    from attendance.recap import daily_rows

    tz = settings.rules.tz
    now = now or dt.datetime.now(tz)
    days = compute(conn, settings, day, day, now, units)
    rows = daily_rows(days)
    end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    devices = sync_state(conn, end_of_day, now, units)
    waiting = incomplete(devices)
    if waiting:  # nobody is marked absent for sure before every kiosk has synced
        note = NOT_FINAL + ", ".join(waiting)
        for row, ed in zip(rows, days):
            if ed.result.status in ("alpha", "open"):
                row["catatan"] = "; ".join(x for x in (row["catatan"], note) if x)
    per_unit: dict[str, dict] = {}
    totals = {"unit": "Jumlah", "pegawai": 0, **{c: 0 for c in CATEGORIES}}
    lists: dict[str, list[dict]] = {c: [] for c in CATEGORIES}
    for row, ed in zip(rows, days):
        if ed.result.status in ("not_enrolled", "inactive"):
            continue
        u = per_unit.setdefault(row["unit"], {"unit": row["unit"], "pegawai": 0, **{c: 0 for c in CATEGORIES}})
        cats = _categories(ed.result)
        for target in (u, totals):
            target["pegawai"] += 1
            for c in cats:
                target[c] += 1
        for c in cats:
            lists[c].append(row)
    # the latest first; those without a masuk (TL by rule) after them
    lists["terlambat"].sort(key=lambda r: (r["terlambat_menit"] == "", -(r["terlambat_menit"] or 0), r["unit"],
                                           r["nama"]))
    return DailyView(day, rows, sorted(per_unit.values(), key=lambda u: u["unit"]), totals, lists, devices, waiting)
