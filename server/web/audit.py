"""The audit log: who did what, when, with the record before and after. Administrators and
viewers see every entry; an operator the entries about their units."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from server import audit
from server.web import render
from server.web.deps import DayQuery, Page, QueryText, parse_day

router = APIRouter(include_in_schema=False)
PAGE = 100
Filter = QueryText(250)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, session: Page, aktor: Filter = "", aksi: Filter = "", sasaran: Filter = "",
               dari: DayQuery = "", sampai: DayQuery = "", hal: Annotated[int, Query(ge=1, le=100000)] = 1):
    a = session.actor
    with request.app.state.engine.connect() as conn:
        rows, total = audit.entries(conn, None if a.all_units else a.units, actor=aktor, action=aksi, target=sasaran,
                                    first=parse_day(dari, "dari"), last=parse_day(sampai, "sampai"),
                                    tz=request.app.state.settings.rules.tz, limit=PAGE, offset=(hal - 1) * PAGE)
    return render(request, "audit.html", session, rows=rows, total=total, page=hal, pages=max(1, -(-total // PAGE)),
                  actions=audit.ACTIONS,
                  f={"aktor": aktor, "aksi": aksi, "sasaran": sasaran, "dari": dari, "sampai": sampai})
