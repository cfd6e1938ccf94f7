"""Reports HR prints: the daily list and the monthly recap, per employee and per unit.

Computed from the stored punches with kiosk.rules (the same code the collector server uses),
in the device's local time. Days before an employee was enrolled are "not enrolled", days
whose punch window has not closed yet are "open": neither is ever counted as alpha. Output as
CSV (for spreadsheets and the server) or XLSX laid out for printing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from kiosk.rules.day import DayResult, Punch, current, evaluate_day
from kiosk.rules.schedule import Calendar, schedule_for, schedules_from_config

STATUS_ID = {"present": "hadir", "alpha": "alpha", "holiday": "libur", "off": "libur akhir pekan",
             "open": "berjalan", "not_enrolled": "belum terdaftar"}

DAILY_COLUMNS = [
    ("tanggal", 11), ("nip", 20), ("nama", 26), ("unit", 24), ("jadwal", 10), ("status", 14),
    ("masuk", 7), ("terlambat_menit", 10), ("TL", 5), ("pulang", 7), ("pulang_cepat_menit", 10),
    ("PSW", 5), ("potongan_persen", 10), ("jam_tidak_sinkron", 10), ("catatan", 30),
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


@dataclass
class EmployeeDay:
    employee: dict
    schedule: str
    result: DayResult


def compute_days(store, cfg, first: dt.date, last: dt.date, now: dt.datetime) -> list[EmployeeDay]:
    """Every active employee's result for every date in [first, last] up to today."""
    rules = cfg.values["attendance"]
    schedules = schedules_from_config(cfg)
    cal = Calendar.from_config(rules, store.holidays())
    by_nip: dict[tuple[str, str], list[Punch]] = {}
    for row in current(store.events(first.isoformat(), last.isoformat())):
        by_nip.setdefault((row["nip"], row["work_date"]), []).append(Punch.from_row(row))
    today = now.astimezone(cfg.tz).date()
    out = []
    for emp in store.employees():
        if not emp["active"]:
            continue
        schedule = schedule_for(emp, schedules, rules)
        enrolled = dt.datetime.fromisoformat(emp["created_at"]).astimezone(cfg.tz).date()
        d = first
        while d <= min(last, today):
            if d < enrolled:
                r = DayResult(emp["nip"], d, "not_enrolled", status="not_enrolled")
            else:
                r = evaluate_day(emp["nip"], d, schedule, cal, by_nip.get((emp["nip"], d.isoformat()), []),
                                 rules, now=now)
            out.append(EmployeeDay(emp, schedule.name, r))
            d += dt.timedelta(days=1)
    return out


def daily_rows(days: list[EmployeeDay]) -> list[dict]:
    rows = []
    for ed in days:
        r, e = ed.result, ed.employee
        notes = []
        if r.holiday:
            notes.append(r.holiday)
        if r.ramadan:
            notes.append("Ramadan")
        if r.ignored:
            notes.append(f"{len(r.ignored)} punch di luar jadwal/istirahat")
        rows.append({
            "tanggal": r.work_date.isoformat(), "nip": e["nip"], "nama": e["name"], "unit": e["unit"],
            "jadwal": ed.schedule, "status": STATUS_ID[r.status],
            "masuk": r.masuk.strftime("%H:%M") if r.masuk else "",
            "terlambat_menit": r.late_minutes if r.late_minutes is not None else "", "TL": r.tl or "",
            "pulang": r.pulang.strftime("%H:%M") if r.pulang else "",
            "pulang_cepat_menit": r.early_minutes if r.early_minutes is not None else "", "PSW": r.psw or "",
            "potongan_persen": round(r.cut_percent, 2), "jam_tidak_sinkron": "YA" if r.unsynced else "",
            "catatan": "; ".join(notes),
        })
    return rows


def monthly_rows(days: list[EmployeeDay], month: str) -> tuple[list[dict], list[dict]]:
    """(per employee, per unit) recap rows of one month."""
    per: dict[str, dict] = {}
    for ed in days:
        r, e = ed.result, ed.employee
        row = per.setdefault(e["nip"], {
            "bulan": month, "nip": e["nip"], "nama": e["name"], "unit": e["unit"], "hari_kerja": 0, "hadir": 0,
            "alpha": 0, **{f"TL{i}": 0 for i in range(1, 5)}, "menit_TL": 0, **{f"PSW{i}": 0 for i in range(1, 5)},
            "menit_PSW": 0, "potongan_persen": 0.0, "hari_jam_tidak_sinkron": 0})
        if r.status in ("present", "alpha", "open"):
            row["hari_kerja"] += 1
        row["hadir"] += r.status in ("present", "open")
        row["alpha"] += r.status == "alpha"
        if r.tl:
            row[r.tl] += 1
        if r.psw:
            row[r.psw] += 1
        row["menit_TL"] += r.late_minutes or 0
        row["menit_PSW"] += r.early_minutes or 0
        row["potongan_persen"] = round(row["potongan_persen"] + r.cut_percent, 2)
        row["hari_jam_tidak_sinkron"] += r.unsynced
    employees = sorted(per.values(), key=lambda r: (r["unit"], r["nip"]))
    units: dict[str, dict] = {}
    for row in employees:
        u = units.setdefault(row["unit"], {"bulan": month, "unit": row["unit"], "pegawai": 0, "hari_kerja": 0,
                                           "hadir": 0, "alpha": 0, **{f"TL{i}": 0 for i in range(1, 5)},
                                           **{f"PSW{i}": 0 for i in range(1, 5)}, "_cut": 0.0,
                                           "hari_jam_tidak_sinkron": 0})
        u["pegawai"] += 1
        for k in ("hari_kerja", "hadir", "alpha", "hari_jam_tidak_sinkron",
                  *(f"TL{i}" for i in range(1, 5)), *(f"PSW{i}" for i in range(1, 5))):
            u[k] += row[k]
        u["_cut"] += row["potongan_persen"]
    for u in units.values():
        u["potongan_rata_rata_persen"] = round(u.pop("_cut") / u["pegawai"], 2)
    return employees, sorted(units.values(), key=lambda u: u["unit"])


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A text cell a spreadsheet would run as a formula (=, +, -, @, tab or CR first: a name like
    `=HYPERLINK(...)`) gets a leading ' so it shows as text; numbers and other text are kept."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(rows: list[dict], columns: list[tuple[str, int]]) -> str:
    """Every CSV the kiosk and the collector write: cells through csv_cell."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[c for c, _ in columns], lineterminator="\n")
    w.writeheader()
    w.writerows({k: csv_cell(v) for k, v in r.items()} for r in rows)
    return buf.getvalue()


def to_xlsx(sheets: list[tuple[str, str, list[dict], list[tuple[str, int]]]], footer: str) -> bytes:
    """One workbook; each sheet (name, title, rows, columns) with a title, bold frozen header,
    filters, column widths, and landscape fit-to-width printing."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    for name, title, rows, columns in sheets:
        ws = wb.create_sheet(name)
        ws.append([title])
        ws["A1"].font = Font(bold=True, size=14)
        ws.append([footer])
        ws.append([])
        ws.append([c.replace("_", " ") for c, _ in columns])
        header_row = ws.max_row
        for i, (_, width) in enumerate(columns, start=1):
            cell = ws.cell(row=header_row, column=i)
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = PatternFill("solid", fgColor="1F4E78")
            cell.alignment = Alignment(wrap_text=True, vertical="center")
            ws.column_dimensions[get_column_letter(i)].width = width
        for row in rows:
            ws.append([row[c] for c, _ in columns])
            for cell in ws[ws.max_row]:
                if cell.data_type == "f":  # openpyxl made a formula of text starting with "="
                    cell.data_type = "s"
        ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
        ws.auto_filter.ref = f"A{header_row}:{get_column_letter(len(columns))}{max(header_row, ws.max_row)}"
        ws.print_title_rows = f"{header_row}:{header_row}"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    try:
        first = dt.date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ValueError(f"month {month!r} is not YYYY-MM") from None
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)
