"""Periods: each recent month's state, whether every kiosk has reported past its end, closing
(administrators) and reopening with a reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from server import periods, reports
from server.db import aware
from server.web import redirect, render
from server.web.deps import MONTH_PATTERN, AdminForm, FormText, Page, client_ip, flash

router = APIRouter(include_in_schema=False)
Month = Annotated[str, Path(pattern=MONTH_PATTERN)]


def _page(request: Request, session, message: str = "", code: int = 200, also: str = "") -> HTMLResponse:
    tz = request.app.state.settings.rules.tz
    with request.app.state.engine.connect() as conn:
        months = periods.recent(conn, tz, also=also)
        for m in months:
            state = periods.readiness(conn, m["month"], tz)
            m["over"], m["waiting"] = state.over, state.waiting
            m["closed_at"] = aware(m["closed_at"])
            m["late"] = periods.arrived_after_closing(conn, m["month"], m["closed_at"]) if m["status"] == "closed" else 0
    return render(request, "periods.html", session, status=code, months=months, message=message)


@router.get("/periode", response_class=HTMLResponse)
def period_page(request: Request, session: Page,
                bulan: Annotated[str, Query(pattern=f"{MONTH_PATTERN}|^$", description="an older month to show")] = ""):
    return _page(request, session, also=bulan)


@router.post("/periode/{month}/tutup", response_class=HTMLResponse)
def period_close(request: Request, session: AdminForm, month: Month):
    try:
        with request.app.state.engine.begin() as conn:
            snap = periods.close(conn, session.actor.who(client_ip(request)), session.actor,
                                 request.app.state.settings, month)
    except (periods.PeriodError, reports.RulesMismatch) as e:
        return _page(request, session, str(e), 422, month)
    flash(request, session, f"Periode {month} ditutup: rekap {len(snap['employees'])} pegawai disimpan.")
    return redirect("/periode")


@router.post("/periode/{month}/buka", response_class=HTMLResponse)
def period_reopen(request: Request, session: AdminForm, month: Month, reason: FormText(500) = ""):
    try:
        with request.app.state.engine.begin() as conn:
            periods.reopen(conn, session.actor.who(client_ip(request)), session.actor, month, reason)
    except periods.PeriodError as e:
        return _page(request, session, str(e), 422, month)
    flash(request, session, f"Periode {month} dibuka kembali; alasannya dicatat di log audit.")
    return redirect("/periode")
