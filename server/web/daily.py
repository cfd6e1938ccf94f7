"""The daily page and its exports: who is present, late (minutes and band), not yet arrived,
absent, on leave, per unit, in local time, and each kiosk's sync state. The page and
/export/daily.csv are rendered from one server.reports.daily_view: the same rows, the same
counts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from attendance.csvfile import to_csv
from attendance.recap import DAILY_COLUMNS
from server import reports
from server.db import employees, events
from server.errors import ApiError
from server.web import render
from server.web.deps import DATE_PATTERN, Page, QueryText, WebError

router = APIRouter(include_in_schema=False)
EVENT_COLUMNS = ["id", "device_id", "nip", "kind", "local_time", "utc_at", "work_date", "in_window",
                 "clock_synced", "distance", "margin", "received_at"]
FULL_TABLE = 600  # rows shown in full on the page; more: the lists and the CSV
DateQuery = Annotated[str | None, Query(pattern=DATE_PATTERN, description="YYYY-MM-DD (2000-2099); today when left out")]


class CSVResponse(Response):
    media_type = "text/csv"
    charset = "utf-8"


def _day(request: Request, date: str | None) -> dt.date:
    if not date:
        return dt.datetime.now(request.app.state.settings.rules.tz).date()
    try:
        return dt.date.fromisoformat(date)
    except ValueError:
        raise ApiError(422, "invalid", f"date: {date} is not a real date",
                       fields=[{"field": "date", "problem": "is not a real date"}]) from None


def units_for(session, unit: str) -> list[str] | None:
    """The units a page shows: the one asked for (if the account may read it), else all the
    account's (None: every unit)."""
    a = session.actor
    if unit:
        if not a.can_read(unit):
            raise WebError(404, f"Unit {unit} bukan unit Anda.")
        return [unit]
    return None if a.all_units else sorted(a.units)


def known_units(conn, actor) -> list[str]:
    """The units of the employees an account may see (for the unit filters)."""
    q = select(employees.c.unit).where(actor.scope(employees.c.unit)).distinct()
    return sorted(u for (u,) in conn.execute(q) if u)


def logged(request: Request, session, target: str, unit: str, what: str) -> None:
    """Downloads of personal data are HR actions too: in the audit log."""
    from server import audit
    from server.web.deps import client_ip

    with request.app.state.engine.begin() as conn:
        audit.record(conn, session.actor.who(client_ip(request)), "report_downloaded", target, unit or None,
                     after={"file": what, "unit": unit or "semua"})


def _view(request: Request, session, day: dt.date, unit: str) -> reports.DailyView:
    with request.app.state.engine.connect() as conn:
        try:
            return reports.daily_view(conn, request.app.state.settings, day, units_for(session, unit))
        except reports.RulesMismatch as e:
            raise ApiError(409, "rules_mismatch", str(e)) from None


@router.get("/", response_class=HTMLResponse)
def daily_page(request: Request, session: Page, date: DateQuery = None, unit: QueryText(200) = ""):
    day = _view(request, session, _day(request, date), unit)
    with request.app.state.engine.connect() as conn:
        all_units = known_units(conn, session.actor)
    return render(request, "daily.html", session, v=day, unit=unit, units=all_units,
                  full=len(day.rows) <= FULL_TABLE or bool(unit), columns=[c for c, _ in DAILY_COLUMNS])


@router.get("/export/daily.csv", response_class=CSVResponse)
def export_daily(request: Request, session: Page, date: DateQuery = None, unit: QueryText(200) = ""):
    day = _view(request, session, _day(request, date), unit)
    logged(request, session, f"daily:{day.day}", unit, "daily.csv")
    name = f"hadir-{day.day}{'-' + unit if unit else ''}.csv".replace(" ", "_").replace('"', "")
    return CSVResponse(to_csv(day.rows, DAILY_COLUMNS), headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/export/events.csv", response_class=CSVResponse)
def export_events(request: Request, session: Page, date: DateQuery = None, unit: QueryText(200) = ""):
    day = _day(request, date)
    units = units_for(session, unit)
    q = select(*[events.c[c] for c in EVENT_COLUMNS]).where(events.c.work_date == day.isoformat())
    if units is not None:
        q = q.where(events.c.nip.in_(select(employees.c.nip).where(employees.c.unit.in_(units))))
    with request.app.state.engine.connect() as conn:
        rows = [{c: int(v) if isinstance(v, bool) else v for c, v in r.items()}
                for r in conn.execute(q.order_by(events.c.utc_at)).mappings()]
    logged(request, session, f"daily:{day}", unit, "events.csv")
    return CSVResponse(to_csv(rows, [(c, 0) for c in EVENT_COLUMNS]),
                       headers={"Content-Disposition": f'attachment; filename="events-{day}.csv"'})
