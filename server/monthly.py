"""The monthly recap of a unit or of the whole regency: per employee and per unit, with the
leave columns (C/S/I/DL), from server.reports.compute - or, for a closed month, from the
snapshot taken when it was closed."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from attendance.recap import month_bounds, monthly_rows, unit_rows
from server import periods, reports
from server.config import ServerConfig
from server.gcpause import gc_paused


@dataclass
class Recap:
    month: str
    units_asked: list[str] | None  # None: every unit
    columns: tuple[str, ...]  # the leave columns
    employees: list[dict]
    units: list[dict]
    closed_at: dt.datetime | None = None  # from the snapshot of a closed month
    working_days: int = 0

    @property
    def regency(self) -> bool:
        return self.units_asked is None


@gc_paused()
def recap(conn: Connection, settings: ServerConfig, month: str, units: list[str] | None,
          now: dt.datetime | None = None) -> Recap:
    period = periods.get(conn, month)
    if period and period["status"] == "closed" and period["snapshot"]:
        snap = json.loads(period["snapshot"])
        columns = tuple(snap["columns"])
        employees = [r for r in snap["employees"] if units is None or r["unit"] in units]
        closed_at = period["closed_at"]
    else:
        first, last = month_bounds(month)
        columns = settings.rules.leave_columns
        days = reports.compute(conn, settings, first, last, now or dt.datetime.now(settings.rules.tz), units)
        employees, _ = monthly_rows(days, month, columns)
        closed_at = None
    working = max((r["hari_kerja"] for r in employees), default=0)
    return Recap(month, units, columns, employees, unit_rows(employees, month, columns), closed_at, working)


def csv_columns(columns: tuple[str, ...]) -> list[tuple[str, int]]:
    """The recap CSV: one row per employee."""
    return ([("bulan", 8), ("nip", 20), ("nama", 26), ("unit", 24), ("jabatan", 24), ("golongan", 8),
             ("hari_kerja", 8), ("hadir", 7)] + [(f"TL{i}", 5) for i in range(1, 5)] + [("menit_TL", 8)]
            + [(f"PSW{i}", 5) for i in range(1, 5)] + [("menit_PSW", 8)] + [(c, 5) for c in columns]
            + [("alpha", 7), ("potongan_persen", 10), ("hari_jam_tidak_sinkron", 10), ("hari_dikoreksi", 10)])
