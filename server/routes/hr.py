"""The HR pages: today's dashboard and the CSV exports, behind the HR login (server.hr_login).

The attendance rules are the kiosk's own (kiosk.rules, kiosk.report) over the collector's
tables. Every CSV cell goes through kiosk.report.csv_cell (no spreadsheet formulas).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import DictLoader, Environment, select_autoescape
from sqlalchemy import select

from kiosk import report
from server import service
from server.auth import HrUser
from server.db import aware, employees, events, holidays
from server.errors import ApiError, declared
from server.routes import engine_of

router = APIRouter(tags=["hr"])
STALE_HEARTBEAT = dt.timedelta(minutes=15)
EVENT_COLUMNS = ["id", "device_id", "nip", "kind", "local_time", "utc_at", "work_date", "in_window",
                 "clock_synced", "distance", "margin", "received_at"]
HR_ERRORS = declared(401, 403, 409, 422, 429, 500)


class CSVResponse(Response):
    media_type = "text/csv"
    charset = "utf-8"


DateQuery = Annotated[str | None, Query(
    pattern=r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}$", json_schema_extra={"format": "date"},
    description="The day, YYYY-MM-DD (years 2000-2099); today in the rules' time zone when left out")]


class RulesStore:
    """What kiosk.report.compute_days reads, from the collector's tables."""

    def __init__(self, conn):
        self.conn = conn

    def events(self, first: str | None = None, last: str | None = None) -> list[dict]:
        q = select(events)
        if first:
            q = q.where(events.c.work_date >= first)
        if last:
            q = q.where(events.c.work_date <= last)
        return [dict(r) for r in self.conn.execute(q.order_by(events.c.utc_at, events.c.monotonic_ns)).mappings()]

    def employees(self) -> list[dict]:
        rows = self.conn.execute(select(employees).order_by(employees.c.nip)).mappings()
        return [{**dict(r), "active": int(r["active"]), "created_at": aware(r["created_at"]).isoformat()}
                for r in rows]

    def holidays(self) -> dict:
        return {dt.date.fromisoformat(r.date): r.name for r in self.conn.execute(select(holidays))}


def _day(request: Request, date: str | None) -> dt.date:
    if not date:
        return dt.datetime.now(request.app.state.cfg.tz).date()
    try:
        return dt.date.fromisoformat(date)
    except ValueError:
        raise ApiError(422, "invalid", f"date: {date} is not a real date",
                       fields=[{"field": "date", "problem": "is not a real date"}]) from None


def _daily(request: Request, conn, day: dt.date) -> list[dict]:
    from kiosk.rules.schedule import ScheduleError

    cfg = request.app.state.cfg
    try:
        return report.daily_rows(report.compute_days(RulesStore(conn), cfg, day, day, dt.datetime.now(cfg.tz)))
    except ScheduleError as e:  # stored before kiosks' schedules were checked, or the rules file changed
        raise ApiError(409, "rules_mismatch", f"the attendance rules (--rules) cannot be applied: {e}") from None


def _sync_state(request: Request, conn, day: dt.date) -> list[dict]:
    """Each device and whether everything it recorded up to the end of `day` has arrived."""
    out = []
    end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=request.app.state.cfg.tz)
    now = dt.datetime.now(dt.timezone.utc)
    for d in service.list_devices(conn):
        hb = aware(d["last_heartbeat_at"])
        complete = (d["revoked_at"] is None and hb is not None and d["pending"] == 0
                    and hb >= min(end_of_day, now) - STALE_HEARTBEAT)
        out.append({**d, "last_heartbeat_at": hb, "complete": complete,
                    "stale": hb is None or now - hb > STALE_HEARTBEAT})
    return out


def _incomplete(devices: list[dict]) -> list[str]:
    return [d["id"] for d in devices if not d["complete"] and d["revoked_at"] is None]


@router.get("/", response_class=HTMLResponse, summary="Today's attendance per unit, who is late, each kiosk's sync",
            responses=HR_ERRORS)
def dashboard(request: Request, user: HrUser, date: DateQuery = None):
    day = _day(request, date)
    with engine_of(request).connect() as conn:
        rows = _daily(request, conn, day)
        devs = _sync_state(request, conn, day)
        n_events = service.event_count(conn)
    units: dict[str, dict] = {}
    for r in rows:
        u = units.setdefault(r["unit"], {"unit": r["unit"], "employees": 0, "present": 0, "late": 0, "alpha": 0})
        u["employees"] += 1
        u["present"] += r["status"] in ("hadir", "berjalan") and bool(r["masuk"] or r["pulang"])
        u["late"] += bool(r["TL"]) and bool(r["masuk"])
        u["alpha"] += r["status"] == "alpha"
    late = [r for r in rows if r["TL"] and r["masuk"]]
    html = _templates.get_template("dashboard.html").render(
        day=day, units=sorted(units.values(), key=lambda u: u["unit"]), late=late, devices=devs,
        incomplete=_incomplete(devs), events=n_events, tz=request.app.state.cfg.device.timezone)
    return HTMLResponse(html)


@router.get("/export/daily.csv", response_class=CSVResponse, summary="The daily report as CSV", responses=HR_ERRORS)
def export_daily(request: Request, user: HrUser, date: DateQuery = None):
    day = _day(request, date)
    with engine_of(request).connect() as conn:
        rows = _daily(request, conn, day)
        incomplete = _incomplete(_sync_state(request, conn, day))
    if incomplete:
        note = "alpha belum final: belum sinkron " + ", ".join(incomplete)
        for r in rows:
            if r["status"] in ("alpha", "berjalan"):
                r["catatan"] = "; ".join(x for x in (r["catatan"], note) if x)
    return CSVResponse(report.to_csv(rows, report.DAILY_COLUMNS),
                       headers={"Content-Disposition": f'attachment; filename="hadir-{day}.csv"'})


@router.get("/export/events.csv", response_class=CSVResponse, summary="Every stored record of a day as CSV",
            responses=HR_ERRORS)
def export_events(request: Request, user: HrUser, date: DateQuery = None):
    day = _day(request, date)
    with engine_of(request).connect() as conn:
        rows = [{c: int(v) if isinstance(v, bool) else v for c, v in r.items()} for r in conn.execute(
            select(*[events.c[c] for c in EVENT_COLUMNS]).where(events.c.work_date == day.isoformat())
            .order_by(events.c.utc_at)).mappings()]
    return CSVResponse(report.to_csv(rows, [(c, 0) for c in EVENT_COLUMNS]),
                       headers={"Content-Disposition": f'attachment; filename="events-{day}.csv"'})


DASHBOARD = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><meta http-equiv="refresh" content="60">
<title>Kehadiran {{ day }}</title>
<style>
body{font-family:sans-serif;margin:1.5em;color:#222} table{border-collapse:collapse;margin-bottom:1.5em}
th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left} th{background:#1f4e78;color:#fff}
.warn{background:#fde2e1;border:1px solid #c0392b;padding:.6em;margin-bottom:1em} .bad{color:#c0392b;font-weight:bold}
</style></head><body>
<h1>Kehadiran {{ day.strftime('%d-%m-%Y') }}</h1>
<form method="get"><label>Tanggal <input type="date" name="date" value="{{ day }}"></label>
<button>Tampilkan</button> <a href="/export/daily.csv?date={{ day }}">CSV harian</a> |
<a href="/export/events.csv?date={{ day }}">CSV semua catatan</a></form>
{% if incomplete %}<p class="warn" id="incomplete">Belum final: kiosk {{ incomplete|join(', ') }} belum
mengirim semua catatan (atau tidak melapor dalam 15 menit). Jangan tandai alpha sebelum semua kiosk sinkron.</p>{% endif %}
<h2>Per unit</h2>
<table id="units"><tr><th>Unit</th><th>Pegawai</th><th>Hadir</th><th>Terlambat</th><th>Alpha</th></tr>
{% for u in units %}<tr><td>{{ u.unit }}</td><td>{{ u.employees }}</td><td>{{ u.present }}</td><td>{{ u.late }}</td><td>{{ u.alpha }}</td></tr>
{% endfor %}</table>
<h2>Terlambat</h2>
<table id="late"><tr><th>NIP</th><th>Nama</th><th>Unit</th><th>Masuk</th><th>Menit</th><th>Kategori</th></tr>
{% for r in late %}<tr><td>{{ r.nip }}</td><td>{{ r.nama }}</td><td>{{ r.unit }}</td><td>{{ r.masuk }}</td><td>{{ r.terlambat_menit }}</td><td>{{ r.TL }}</td></tr>
{% else %}<tr><td colspan="6">Tidak ada</td></tr>{% endfor %}</table>
<h2>Kiosk</h2>
<table id="devices"><tr><th>Kiosk</th><th>Unit</th><th>Laporan terakhir</th><th>Menunggu kirim</th><th>Ditolak</th>
<th>Catatan terbaru</th><th>Terkirim s.d.</th><th>Jam</th><th>Versi</th><th>Disk bebas</th></tr>
{% for d in devices %}<tr><td>{{ d.id }}{% if d.revoked_at %} <span class="bad">(dicabut)</span>{% endif %}</td>
<td>{{ d.unit }}</td>
<td{% if d.stale %} class="bad"{% endif %}>{{ d.last_heartbeat_at.strftime('%Y-%m-%d %H:%M:%S UTC') if d.last_heartbeat_at else 'belum pernah' }}</td>
<td{% if d.pending %} class="bad"{% endif %}>{{ d.pending if d.pending is not none else '?' }}</td><td>{{ d.rejected or 0 }}</td>
<td>{{ d.newest_recorded_at or '' }}</td><td>{{ d.newest_acked_at or '' }}</td>
<td{% if d.clock_synced == false %} class="bad"{% endif %}>{% if d.clock_synced is none %}?{% elif d.clock_synced %}sinkron{% else %}TIDAK sinkron{% endif %}{% if d.clock_offset_s is not none %} ({{ '%+.0f'|format(d.clock_offset_s) }} s){% endif %}</td>
<td>{{ d.software_version or '' }}</td><td>{{ (d.free_disk_bytes / 1e9)|round(1) ~ ' GB' if d.free_disk_bytes is not none else '' }}</td></tr>
{% endfor %}</table>
<p>{{ events }} catatan tersimpan. Zona waktu {{ tz }}.</p>
</body></html>
"""

_templates = Environment(loader=DictLoader({"dashboard.html": DASHBOARD}), autoescape=select_autoescape(["html"]))
