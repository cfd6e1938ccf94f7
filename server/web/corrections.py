"""Corrections: one employee's day (the kiosk's events, re-label one, add a missing punch), the
list of corrections, approve or reject (four eyes), cancel."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from server import corrections, records
from server.db import corrections as corrections_table
from server.web import redirect, render
from server.web.deps import DayQuery, FormText, Page, QueryText, Writer, client_ip, flash, parse_day
from server.web.records import Action, RecordId, act

router = APIRouter(include_in_schema=False)


def _is_day(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
        return True
    except ValueError:
        return False


def _four_eyes(request: Request) -> bool:
    return request.app.state.settings.collector["four_eyes_corrections"]


def _page(request: Request, session, nip: str = "", tanggal: str = "", status: str = "", message: str = "",
          code: int = 200, form: dict | None = None) -> HTMLResponse:
    day = parse_day(tanggal, "tanggal")
    with request.app.state.engine.connect() as conn:
        rows = corrections.listing(conn, session.actor, nip, "", day, day, status)
        day_view = None
        if nip and day:
            try:
                day_view = corrections.day_events(conn, session.actor, nip, day)
            except corrections.CorrectionError as e:
                message, code = message or str(e), 404 if code == 200 else code
    return render(request, "corrections.html", session, status=code, rows=rows, day=day_view, message=message,
                  f={"nip": nip, "tanggal": tanggal, "status": status}, statuses=records.STATUS_ID,
                  actions=corrections.ACTION_ID, four_eyes=_four_eyes(request),
                  form=form or {"nip": nip, "kind": "", "at": f"{tanggal}T07:30" if tanggal else "", "reason": ""})


@router.get("/koreksi", response_class=HTMLResponse)
def correction_list(request: Request, session: Page, nip: QueryText(40) = "", tanggal: DayQuery = "",
                    status: Annotated[str, Query(pattern="^(|approved|pending|rejected|cancelled)$")] = ""):
    return _page(request, session, nip, tanggal, status)


@router.post("/koreksi/tambah", response_class=HTMLResponse)
def correction_add(request: Request, session: Writer, nip: FormText(40) = "", kind: FormText(10) = "",
                   at: FormText(20) = "", reason: FormText(500) = ""):
    form = {"nip": nip, "kind": kind, "at": at, "reason": reason}
    try:
        when = dt.datetime.strptime(at, "%Y-%m-%dT%H:%M")
    except ValueError:
        return _page(request, session, nip, message=f"waktu {at!r} tidak sah (tanggal dan jam)", code=422, form=form)
    try:
        with request.app.state.engine.begin() as conn:
            cid = corrections.add_punch(conn, session.actor.who(client_ip(request)), session.actor,
                                        request.app.state.settings, nip.strip(), kind, when, reason,
                                        _four_eyes(request))
            work_date = conn.execute(corrections_table.select().with_only_columns(corrections_table.c.work_date)
                                     .where(corrections_table.c.id == cid)).scalar_one()
    except corrections.CorrectionError as e:
        return _page(request, session, nip.strip(), at[:10], message=str(e), code=422, form=form)
    flash(request, session, f"Koreksi no. {cid} dicatat" + (" dan menunggu persetujuan akun lain." if
                                                             _four_eyes(request) else "."))
    return redirect("/koreksi?" + urlencode({"nip": nip.strip(), "tanggal": work_date}))


@router.post("/koreksi/ubah-jenis", response_class=HTMLResponse)
def correction_relabel(request: Request, session: Writer, nip: FormText(40) = "", event_id: FormText(36) = "",
                       kind: FormText(10) = "", reason: FormText(500) = "", tanggal: FormText(10) = ""):
    try:
        with request.app.state.engine.begin() as conn:
            cid = corrections.relabel(conn, session.actor.who(client_ip(request)), session.actor, nip, event_id, kind,
                                      reason, _four_eyes(request))
    except corrections.CorrectionError as e:
        return _page(request, session, nip, tanggal if _is_day(tanggal) else "", message=str(e), code=422)
    flash(request, session, f"Koreksi no. {cid} dicatat.")
    return redirect("/koreksi?" + urlencode({"nip": nip, "tanggal": tanggal}) if _is_day(tanggal) else "/koreksi")


@router.post("/koreksi/{record:int}/{action}", response_class=HTMLResponse)
def correction_action(request: Request, session: Writer, record: RecordId, action: Action):
    """setujui | tolak | batal"""
    back = "/koreksi?status=pending" if action != "batal" else "/koreksi"
    return act(request, session, corrections.KIND, record, action,
               lambda message, code: _page(request, session, message=message, code=code), back)
