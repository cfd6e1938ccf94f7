"""The monthly recap: per unit and per employee on the page, and the downloads - the BKPSDM
form as XLSX (one unit, or the whole regency) and CSV - all from one server.monthly.recap."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from attendance.csvfile import to_csv
from server import monthly, periods, reports
from server.errors import ApiError
from server.web import render
from server.web.daily import CSVResponse, known_units, logged, units_for
from server.web.deps import MONTH_PATTERN, Page, QueryText

router = APIRouter(include_in_schema=False)
MonthQuery = Annotated[str, Query(pattern=f"{MONTH_PATTERN}|^$", description="YYYY-MM; last month when left out")]
FULL_TABLE = 600
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _month(request: Request, value: str) -> str:
    if value:
        return value
    today = dt.datetime.now(request.app.state.settings.rules.tz).date()
    return f"{today.replace(day=1) - dt.timedelta(days=1):%Y-%m}"


def _recap(request: Request, session, month: str, unit: str) -> monthly.Recap:
    with request.app.state.engine.connect() as conn:
        try:
            return monthly.recap(conn, request.app.state.settings, month, units_for(session, unit))
        except reports.RulesMismatch as e:
            raise ApiError(409, "rules_mismatch", str(e)) from None


def _filename(month: str, unit: str, ext: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in unit)[:60]
    return f"rekap-{month}{'-' + safe if safe else ''}.{ext}"


@router.get("/laporan/bulanan", response_class=HTMLResponse)
def monthly_page(request: Request, session: Page, bulan: MonthQuery = "", unit: QueryText(200) = ""):
    month = _month(request, bulan)
    r = _recap(request, session, month, unit)
    with request.app.state.engine.connect() as conn:
        period = periods.get(conn, month)
        units = known_units(conn, session.actor)
    return render(request, "monthly.html", session, r=r, unit=unit, period=period, month=month, units=units,
                  full=len(r.employees) <= FULL_TABLE or bool(unit),
                  labels=request.app.state.settings.rules.values["leave"]["columns"])


@router.get("/laporan/bulanan.xlsx")
def monthly_xlsx(request: Request, session: Page, bulan: MonthQuery = "", unit: QueryText(200) = ""):
    from server.xlsx import recap_xlsx

    month = _month(request, bulan)
    r = _recap(request, session, month, unit)
    data = recap_xlsx(r, request.app.state.settings, dt.datetime.now(request.app.state.settings.rules.tz).date())
    logged(request, session, f"recap:{month}", unit, "xlsx")
    return Response(data, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{_filename(month, unit, "xlsx")}"'})


@router.get("/laporan/bulanan.csv", response_class=CSVResponse)
def monthly_csv(request: Request, session: Page, bulan: MonthQuery = "", unit: QueryText(200) = ""):
    month = _month(request, bulan)
    r = _recap(request, session, month, unit)
    logged(request, session, f"recap:{month}", unit, "csv")
    return CSVResponse(to_csv(r.employees, monthly.csv_columns(r.columns)),
                       headers={"Content-Disposition": f'attachment; filename="{_filename(month, unit, "csv")}"'})
