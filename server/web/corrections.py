"""Corrections: one employee's day (the kiosk's events, re-label one, add a missing punch), the
list of corrections, approve or reject (four eyes), cancel."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from server import approval, corrections, periods
from server.db import corrections as corrections_table
from server.web import redirect, render
from server.web.deps import DayQuery, FormText, Page, QueryText, Writer, client_ip, flash, parse_day

router = APIRouter(include_in_schema=False)
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1)]


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
                  f={"nip": nip, "tanggal": tanggal, "status": status}, statuses=corrections.STATUS_ID,
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


def _decide(request: Request, session, record: int, approve: bool) -> HTMLResponse:
    try:
        with request.app.state.engine.begin() as conn:
            row = approval.decide(conn, session.actor.who(client_ip(request)), session.actor, corrections_table,
                                  record, approve, "koreksi", "correction", corrections.snapshot)
            problems = periods.closed_problems(conn, *(dt.date.fromisoformat(row["work_date"]),) * 2)
            if problems:
                raise approval.ApprovalError("; ".join(problems))
    except approval.ApprovalError as e:
        return _page(request, session, message=str(e), code=422)
    flash(request, session, f"Koreksi no. {record} {'disetujui' if approve else 'ditolak'}.")
    return redirect("/koreksi?status=pending")


@router.post("/koreksi/{record}/setujui", response_class=HTMLResponse)
def correction_approve(request: Request, session: Writer, record: RecordId):
    return _decide(request, session, record, True)


@router.post("/koreksi/{record}/tolak", response_class=HTMLResponse)
def correction_reject(request: Request, session: Writer, record: RecordId):
    return _decide(request, session, record, False)


@router.post("/koreksi/{record}/batal", response_class=HTMLResponse)
def correction_cancel(request: Request, session: Writer, record: RecordId):
    try:
        with request.app.state.engine.begin() as conn:
            corrections.cancel(conn, session.actor.who(client_ip(request)), session.actor, record)
    except corrections.CorrectionError as e:
        return _page(request, session, message=str(e), code=422)
    flash(request, session, f"Koreksi no. {record} dibatalkan.")
    return redirect("/koreksi")
