"""The HTTP side: protocol v1 for kiosks (docs/protocol/openapi-v1.yaml), the HR dashboard and
CSV exports.

Request bodies are parsed and checked by hand (server.service) rather than by pydantic models,
so that one bad event in a batch is rejected with its own reason while the others are stored.
Tokens are read from the Authorization header, hashed, and never logged or echoed.
"""

from __future__ import annotations

import datetime as dt
import json
from html import escape as html_escape
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import DictLoader, Environment, select_autoescape
from sqlalchemy import select
from sqlalchemy.engine import Engine

from server import PROTOCOL_VERSION, service
from server.db import devices, employees, events, holidays, open_engine
from server.service import ServiceError

log = logging.getLogger("server")
MAX_BODY = 8 * 1024 * 1024
STALE_HEARTBEAT = dt.timedelta(minutes=15)


def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


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
        return [{**dict(r), "active": int(r["active"]), "created_at": _aware(r["created_at"]).isoformat()}
                for r in rows]

    def holidays(self) -> dict:
        return {dt.date.fromisoformat(r.date): r.name for r in self.conn.execute(select(holidays))}


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands timezone-aware columns back naive (they were stored as UTC)."""
    if t is not None and t.tzinfo is None:
        return t.replace(tzinfo=dt.timezone.utc)
    return t


def load_rules(path: Path | None):
    """The attendance rules: a kiosk configuration file ([device] timezone, [attendance],
    [schedules]); the built-in defaults when none is given."""
    from kiosk.config import load_config

    return load_config(path, override=Path("/dev/null"))


def create_app(database: str | None = None, rules: Path | None = None, engine: Engine | None = None) -> FastAPI:
    engine = engine or open_engine(database)
    cfg = load_rules(rules)
    app = FastAPI(title="Kiosk absensi collector", version=PROTOCOL_VERSION, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.engine, app.state.cfg = engine, cfg
    env = Environment(loader=DictLoader({"dashboard.html": DASHBOARD}), autoescape=select_autoescape(["html"]))

    def device_of(request: Request, conn):
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        device, why = service.authenticate(conn, token)
        if device is None:
            if why == "revoked":
                return None, _error(403, "revoked", "this device's token was revoked; ask IT for a new one")
            return None, _error(401, "unauthorized", "missing or unknown device token",
                                {"WWW-Authenticate": "Bearer"})
        return device, None

    async def body_of(request: Request):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY:
            return None, _error(413, "too_large", f"request body over {MAX_BODY} bytes; send smaller batches")
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return None, _error(413, "too_large", f"request body over {MAX_BODY} bytes; send smaller batches")
        try:
            return json.loads(raw or b"null"), None
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return None, _error(400, "bad_json", f"the body is not valid JSON: {e}")

    def call(request: Request, body, fn, status: int = 200):
        try:
            with engine.begin() as conn:
                device, err = device_of(request, conn)
                if err is not None:
                    return err
                result = fn(conn, device, body)
        except ServiceError as e:
            return _error(413 if "at most" in str(e) else 400, "bad_request", str(e))
        return JSONResponse(result, status_code=status)

    @app.get("/api/v1/health")
    def health():
        return {"status": "ok", "protocol": PROTOCOL_VERSION}

    @app.post("/api/v1/events")
    async def upload(request: Request):
        body, err = await body_of(request)
        if err is not None:
            return err
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(call, request, body, service.ingest)

    @app.post("/api/v1/heartbeat")
    async def heartbeat(request: Request):
        body, err = await body_of(request)
        if err is not None:
            return err
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(call, request, body, service.heartbeat)

    @app.get("/api/v1/roster")
    def roster(request: Request, since: int = 0, limit: int = service.MAX_ROSTER_PAGE):
        return call(request, None, lambda conn, device, _: service.roster_page(conn, device, since, limit))

    @app.post("/api/v1/roster")
    async def push(request: Request):
        body, err = await body_of(request)
        if err is not None:
            return err
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(call, request, body, service.push_roster)

    # --- HR: dashboard and exports (put it behind the reverse proxy's login) ---------------

    def day_of(date: str | None) -> dt.date:
        if not date:
            return dt.datetime.now(cfg.tz).date()
        try:
            return dt.date.fromisoformat(date)
        except ValueError:
            raise ServiceError(f"date {date!r} is not YYYY-MM-DD") from None

    def daily(conn, day: dt.date):
        from kiosk import report

        now = dt.datetime.now(cfg.tz)
        return report.daily_rows(report.compute_days(RulesStore(conn), cfg, day, day, now))

    def sync_state(conn, day: dt.date) -> list[dict]:
        """Each device and whether everything it recorded up to the end of `day` has arrived."""
        out = []
        end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=cfg.tz)
        now = dt.datetime.now(dt.timezone.utc)
        for d in service.list_devices(conn):
            hb = _aware(d["last_heartbeat_at"])
            complete = (d["revoked_at"] is None and hb is not None and d["pending"] == 0
                        and hb >= min(end_of_day, now) - STALE_HEARTBEAT)
            out.append({**d, "last_heartbeat_at": hb, "complete": complete,
                        "stale": hb is None or now - hb > STALE_HEARTBEAT})
        return out

    @app.get("/", response_class=HTMLResponse)
    def dashboard(date: str | None = None):
        try:
            day = day_of(date)
        except ServiceError as e:
            return HTMLResponse(f"<p>{html_escape(str(e))}</p>", status_code=400)
        with engine.connect() as conn:
            rows = daily(conn, day)
            devs = sync_state(conn, day)
            n_events = service.event_count(conn)
        units: dict[str, dict] = {}
        for r in rows:
            u = units.setdefault(r["unit"], {"unit": r["unit"], "employees": 0, "present": 0, "late": 0, "alpha": 0})
            u["employees"] += 1
            u["present"] += r["status"] in ("hadir", "berjalan") and bool(r["masuk"] or r["pulang"])
            u["late"] += bool(r["TL"]) and bool(r["masuk"])
            u["alpha"] += r["status"] == "alpha"
        late = [r for r in rows if r["TL"] and r["masuk"]]
        incomplete = [d["id"] for d in devs if not d["complete"] and d["revoked_at"] is None]
        html = env.get_template("dashboard.html").render(
            day=day, units=sorted(units.values(), key=lambda u: u["unit"]), late=late, devices=devs,
            incomplete=incomplete, events=n_events, tz=cfg.device.timezone)
        return HTMLResponse(html)

    @app.get("/export/daily.csv")
    def export_daily(date: str | None = None):
        from kiosk import report

        try:
            day = day_of(date)
        except ServiceError as e:
            return _error(400, "bad_request", str(e))
        with engine.connect() as conn:
            rows = daily(conn, day)
            incomplete = [d["id"] for d in sync_state(conn, day) if not d["complete"] and d["revoked_at"] is None]
        if incomplete:
            note = "alpha belum final: belum sinkron " + ", ".join(incomplete)
            for r in rows:
                if r["status"] in ("alpha", "berjalan"):
                    r["catatan"] = "; ".join(x for x in (r["catatan"], note) if x)
        return Response(report.to_csv(rows, report.DAILY_COLUMNS), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="hadir-{day}.csv"'})

    @app.get("/export/events.csv")
    def export_events(date: str | None = None):
        import csv
        import io

        try:
            day = day_of(date)
        except ServiceError as e:
            return _error(400, "bad_request", str(e))
        cols = ["id", "device_id", "nip", "kind", "local_time", "utc_at", "work_date", "in_window",
                "clock_synced", "distance", "margin", "received_at"]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        with engine.connect() as conn:
            for r in conn.execute(select(*[events.c[c] for c in cols]).where(events.c.work_date == day.isoformat())
                                  .order_by(events.c.utc_at)):
                w.writerow([int(v) if isinstance(v, bool) else v for v in r])
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="events-{day}.csv"'})

    return app


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
