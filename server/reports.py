"""The one computation behind every report of the collector: the daily page and its CSV, the
monthly recap (page, CSV, XLSX) and the snapshot of a closed period all call `compute`, which
hands the collector's tables to attendance.recap (the same rules code as the kiosk's reports).

Read from the database: employees (of the units asked for), their kiosk events by work date,
holidays, approved leave (server.leave.excuses) and approved corrections
(server.corrections.approved).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.engine import Connection

from attendance.day import Punch
from attendance.recap import EmployeeDay, compute_days
from attendance.schedule import ScheduleError
from server import corrections, leave
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
        rows = []
        for r in self.conn.execute(q.order_by(employees.c.unit, employees.c.nip)).mappings():
            row = dict(r)
            row["created_at"], row["deactivated_at"] = aware(r["created_at"]), aware(r["deactivated_at"])
            rows.append(row)
        return rows

    def holidays(self) -> dict:
        return {dt.date.fromisoformat(r.date): r.name for r in self.conn.execute(select(holidays))}


def punches(conn: Connection, first: dt.date, last: dt.date, units: list[str] | None) -> dict:
    """{(nip, work_date ISO): [Punch]} of the kiosk events of those dates."""
    q = select(events.c.nip, events.c.work_date, events.c.local_time, events.c.kind, events.c.clock_synced,
               events.c.id).where(events.c.work_date >= first.isoformat(), events.c.work_date <= last.isoformat())
    if units is not None:
        q = q.where(events.c.nip.in_(select(employees.c.nip).where(employees.c.unit.in_(units))))
    out: dict[tuple[str, str], list[Punch]] = {}
    parse = dt.datetime.fromisoformat
    for nip, work_date, local_time, kind, synced, eid in conn.execute(q):
        out.setdefault((nip, work_date), []).append(Punch(parse(local_time), kind, bool(synced), eid))
    return out


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
