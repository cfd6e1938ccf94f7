"""The daily list and the monthly recap, per employee and per unit, from stored punches.

One computation for every output: the kiosk's `kiosk report`, the collector's daily page and
its CSV, and the monthly recap (CSV and the BKPSDM XLSX form) all call `compute_days` and turn
its results into rows here. In the schedule's local time. Days before an employee was enrolled
are "not enrolled", days after they were deactivated "inactive", days whose punch window has not
closed yet "open": none of them is ever counted as alpha. Excused days (leave, permits, official
travel) are counted in their own columns (C, S, I, DL by default) and never cut.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from attendance.day import (Correction, DayPlan, DayResult, Excuse, Punch, apply_corrections, current,
                            evaluate_day)
from attendance.schedule import Calendar, schedule_for, schedules_from_config

STATUS_ID = {"present": "hadir", "alpha": "alpha", "holiday": "libur", "off": "libur akhir pekan",
             "open": "berjalan", "not_enrolled": "belum terdaftar", "inactive": "nonaktif"}
PART_ID = {"masuk": "izin datang terlambat", "pulang": "izin pulang cepat"}

DAILY_COLUMNS = [
    ("tanggal", 11), ("nip", 20), ("nama", 26), ("unit", 24), ("jadwal", 10), ("status", 14),
    ("masuk", 7), ("terlambat_menit", 10), ("TL", 5), ("pulang", 7), ("pulang_cepat_menit", 10),
    ("PSW", 5), ("potongan_persen", 10), ("jam_tidak_sinkron", 10), ("catatan", 30), ("koreksi", 8),
]
MONTHLY_COLUMNS = [
    ("bulan", 8), ("nip", 20), ("nama", 26), ("unit", 24), ("hari_kerja", 8), ("hadir", 7), ("alpha", 7),
    ("TL1", 5), ("TL2", 5), ("TL3", 5), ("TL4", 5), ("menit_TL", 8),
    ("PSW1", 5), ("PSW2", 5), ("PSW3", 5), ("PSW4", 5), ("menit_PSW", 8),
    ("potongan_persen", 10), ("hari_jam_tidak_sinkron", 10),
]
UNIT_COLUMNS = [
    ("bulan", 8), ("unit", 28), ("pegawai", 8), ("hari_kerja", 8), ("hadir", 7), ("alpha", 7),
    ("TL1", 5), ("TL2", 5), ("TL3", 5), ("TL4", 5), ("PSW1", 5), ("PSW2", 5), ("PSW3", 5), ("PSW4", 5),
    ("potongan_rata_rata_persen", 12), ("hari_jam_tidak_sinkron", 10),
]
BANDS = tuple(f"TL{i}" for i in range(1, 5)) + tuple(f"PSW{i}" for i in range(1, 5))


@dataclass
class EmployeeDay:
    employee: dict
    schedule: str
    result: DayResult


def _local_date(value: str | dt.datetime | None, tz) -> dt.date | None:
    """The local date of a stored moment (ISO text or a datetime; UTC when it has no zone)."""
    if not value:
        return None
    t = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(tz).date()


def compute_days(store, cfg, first: dt.date, last: dt.date, now: dt.datetime,
                 excuses: dict[tuple[str, dt.date], tuple[Excuse, ...]] | None = None,
                 corrections: dict[tuple[str, str], list[Correction]] | None = None,
                 punches: dict[tuple[str, str], list[Punch]] | None = None) -> list[EmployeeDay]:
    """Every employee's result for every date in [first, last] up to today.

    `store` gives `employees()` (nip, name, unit, active, schedule, created_at, and optionally
    deactivated_at), `holidays()` ({date: name}) and, unless `punches` ({(nip, work_date ISO):
    [Punch]}) is given, `events(first, last)` rows (those another event corrects are left out). `excuses` {(nip, date): (Excuse, ...)} and
    `corrections` {(nip, work_date ISO): [Correction]} hold only approved records. `cfg` has
    `values["attendance"]`, `values["schedules"]` and `tz` (the kiosk's Config or the
    collector's rules)."""
    rules = cfg.values["attendance"]
    schedules = schedules_from_config(cfg)
    cal = Calendar.from_config(rules, store.holidays())
    excuses, corrections = excuses or {}, corrections or {}
    if punches is None:
        punches = {}
        for row in current(store.events(first.isoformat(), last.isoformat())):
            punches.setdefault((row["nip"], row["work_date"]), []).append(Punch.from_row(row))
    today = now.astimezone(cfg.tz).date()
    dates = []
    d = first
    while d <= min(last, today):
        dates.append(d)
        d += dt.timedelta(days=1)
    plans: dict[tuple[str, dt.date], DayPlan] = {}  # one lookup per schedule and date, not per employee
    out = []
    for emp in store.employees():
        gone = None
        if not emp["active"]:
            gone = _local_date(emp.get("deactivated_at"), cfg.tz)
            if gone is None or gone <= first:
                continue
        schedule = schedule_for(emp, schedules, rules)
        enrolled = _local_date(emp["created_at"], cfg.tz)
        nip = emp["nip"]
        for d in dates:
            if d < enrolled:
                r = DayResult(nip, d, "not_enrolled", status="not_enrolled")
            elif gone is not None and d >= gone:
                r = DayResult(nip, d, "inactive", status="inactive")
            else:
                plan = plans.get((schedule.name, d))
                if plan is None:
                    plan = plans[(schedule.name, d)] = DayPlan.of(schedule, d, cal)
                iso = d.isoformat()
                day_punches, _ = apply_corrections(punches.get((nip, iso), []), corrections.get((nip, iso), []))
                r = evaluate_day(nip, d, schedule, cal, day_punches, rules, now=now,
                                 excuses=excuses.get((nip, d), ()), plan=plan)
            out.append(EmployeeDay(emp, schedule.name, r))
    return out


def status_text(r: DayResult) -> str:
    if r.status == "excused":
        return r.excuse.label or r.excuse.code
    return STATUS_ID[r.status]


def daily_rows(days: list[EmployeeDay]) -> list[dict]:
    rows = []
    for ed in days:
        r, e = ed.result, ed.employee
        notes = []
        if r.holiday:
            notes.append(r.holiday)
        if r.ramadan:
            notes.append("Ramadan")
        for x in r.half_excuses:
            notes.append(x.label or PART_ID[x.part])
        if r.ignored:
            notes.append(f"{len(r.ignored)} punch di luar jadwal/istirahat")
        rows.append({
            "tanggal": r.work_date.isoformat(), "nip": e["nip"], "nama": e["name"], "unit": e["unit"],
            "jadwal": ed.schedule, "status": status_text(r),
            "masuk": f"{r.masuk.hour:02d}:{r.masuk.minute:02d}" if r.masuk else "",
            "terlambat_menit": r.late_minutes if r.late_minutes is not None else "", "TL": r.tl or "",
            "pulang": f"{r.pulang.hour:02d}:{r.pulang.minute:02d}" if r.pulang else "",
            "pulang_cepat_menit": r.early_minutes if r.early_minutes is not None else "", "PSW": r.psw or "",
            "potongan_persen": round(r.cut_percent, 2), "jam_tidak_sinkron": "YA" if r.unsynced else "",
            "catatan": "; ".join(notes), "koreksi": "YA" if r.corrected else "",
        })
    return rows


def _counts(excuse_columns) -> dict:
    return {"hari_kerja": 0, "hadir": 0, "alpha": 0, **{b: 0 for b in BANDS}, "menit_TL": 0, "menit_PSW": 0,
            **{c: 0 for c in excuse_columns}, "hari_jam_tidak_sinkron": 0, "hari_dikoreksi": 0}


def monthly_rows(days: list[EmployeeDay], month: str,
                 excuse_columns: tuple[str, ...] = ()) -> tuple[list[dict], list[dict]]:
    """(per employee, per unit) recap rows of one month. `excuse_columns` are the leave columns
    counted (C, S, I, DL ...); an excused day is a working day, not present and not alpha."""
    per: dict[str, dict] = {}
    for ed in days:
        r, e = ed.result, ed.employee
        row = per.get(e["nip"])
        if row is None:
            row = per[e["nip"]] = {"bulan": month, "nip": e["nip"], "nama": e["name"], "unit": e["unit"],
                                   "jabatan": e.get("jabatan") or "", "golongan": e.get("golongan") or "",
                                   **_counts(excuse_columns), "potongan_persen": 0.0}
        if r.status in ("present", "alpha", "open", "excused"):
            row["hari_kerja"] += 1
        row["hadir"] += r.status == "present" or (r.status == "open" and bool(r.masuk or r.pulang))
        row["alpha"] += r.status == "alpha"
        if r.status == "excused" and r.excuse.column in row:
            row[r.excuse.column] += 1
        if r.tl:
            row[r.tl] += 1
        if r.psw:
            row[r.psw] += 1
        row["menit_TL"] += r.late_minutes or 0
        row["menit_PSW"] += r.early_minutes or 0
        row["potongan_persen"] = round(row["potongan_persen"] + r.cut_percent, 2)
        row["hari_jam_tidak_sinkron"] += r.unsynced
        row["hari_dikoreksi"] += r.corrected
    employees = sorted(per.values(), key=lambda r: (r["unit"], r["nip"]))
    return employees, unit_rows(employees, month, excuse_columns)


def unit_rows(employees: list[dict], month: str, excuse_columns: tuple[str, ...] = ()) -> list[dict]:
    """Per unit sums of employee recap rows, with the average cut."""
    units: dict[str, dict] = {}
    summed = [k for k in _counts(excuse_columns) if k not in ("menit_TL", "menit_PSW")]
    for row in employees:
        u = units.get(row["unit"])
        if u is None:
            u = units[row["unit"]] = {"bulan": month, "unit": row["unit"], "pegawai": 0,
                                      **{k: 0 for k in summed}, "_cut": 0.0}
        u["pegawai"] += 1
        for k in summed:
            u[k] += row[k]
        u["_cut"] += row["potongan_persen"]
    for u in units.values():
        u["potongan_rata_rata_persen"] = round(u.pop("_cut") / u["pegawai"], 2)
    return sorted(units.values(), key=lambda u: u["unit"])


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    try:
        first = dt.date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ValueError(f"month {month!r} is not YYYY-MM") from None
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)
