"""Leave and permits: the list (by employee, unit, month, state), a form to record one, cancel,
approve or reject (four eyes), and the CSV import with its preview."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, File, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse

from server import leave, records, staging
from server.csvin import CsvError
from server.web import redirect, render
from server.web.deps import MONTH_PATTERN, FormText, Page, QueryText, Writer, client_ip, flash
from server.web.records import Action, RecordId, act

router = APIRouter(include_in_schema=False)
MAX_UPLOAD = 8 * 1024 * 1024


def _four_eyes(request: Request) -> bool:
    return request.app.state.settings.collector["four_eyes_leave"]


def _page(request: Request, session, nip: str = "", unit: str = "", bulan: str = "", status: str = "",
          message: str = "", code: int = 200, form: dict | None = None) -> HTMLResponse:
    rules = request.app.state.settings.rules
    first = last = None
    if bulan:
        first = dt.date.fromisoformat(bulan + "-01")
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    with request.app.state.engine.connect() as conn:
        rows = leave.listing(conn, session.actor, nip, unit, first, last, status)
    return render(request, "leave.html", session, status=code, rows=rows, types=rules.values["leave_types"],
                  statuses=records.STATUS_ID, message=message, four_eyes=_four_eyes(request),
                  f={"nip": nip, "unit": unit, "bulan": bulan, "status": status},
                  form=form or {"nip": nip, "type": "", "first": "", "last": "", "document_no": "", "note": ""})


@router.get("/cuti", response_class=HTMLResponse)
def leave_list(request: Request, session: Page, nip: QueryText(40) = "", unit: QueryText(200) = "",
               bulan: Annotated[str, Query(pattern=f"{MONTH_PATTERN}|^$")] = "",
               status: Annotated[str, Query(pattern="^(|approved|pending|rejected|cancelled)$")] = ""):
    return _page(request, session, nip, unit, bulan, status)


@router.post("/cuti", response_class=HTMLResponse)
def leave_create(request: Request, session: Writer, nip: FormText(40) = "", type: FormText(16) = "",  # noqa: A002
                 first: FormText(10) = "", last: FormText(10) = "", document_no: FormText(100) = "",
                 note: FormText(500) = ""):
    form = {"nip": nip, "type": type, "first": first, "last": last, "document_no": document_no, "note": note}
    try:
        start = leave.parse_date(first)
        end = leave.parse_date(last) if last else start
        with request.app.state.engine.begin() as conn:
            lid = leave.create(conn, session.actor.who(client_ip(request)), session.actor,
                               request.app.state.settings.rules,
                               leave.Request_(nip.strip(), type, start, end, document_no, note), _four_eyes(request))
    except leave.LeaveError as e:
        return _page(request, session, message=str(e), code=422, form=form)
    flash(request, session, f"Cuti/izin no. {lid} dicatat" + (" dan menunggu persetujuan akun lain." if
                                                               _four_eyes(request) else "."))
    return redirect("/cuti?" + urlencode({"nip": nip.strip()}))


@router.post("/cuti/{record:int}/{action}", response_class=HTMLResponse)
def leave_action(request: Request, session: Writer, record: RecordId, action: Action):
    """setujui | tolak | batal"""
    back = "/cuti?status=pending" if action != "batal" else "/cuti"
    return act(request, session, leave.KIND, record, action,
               lambda message, code: _page(request, session, message=message, code=code), back)


@router.get("/cuti/impor", response_class=HTMLResponse)
def import_page(request: Request, session: Page):
    return render(request, "leave_import.html", session, preview=None, staged="", message="",
                  columns=leave.LEAVE_COLUMNS, types=request.app.state.settings.rules.values["leave_types"])


@router.post("/cuti/impor", response_class=HTMLResponse)
def import_preview(request: Request, session: Writer, berkas: Annotated[UploadFile, File()]):
    data = berkas.file.read(MAX_UPLOAD + 1)
    name = (berkas.filename or "cuti.csv")[:200]
    types = request.app.state.settings.rules.values["leave_types"]
    try:
        with request.app.state.engine.begin() as conn:
            preview = leave.preview_csv(conn, session.actor, request.app.state.settings.rules, data, name)
            staged = "" if preview.errors else staging.stage(conn, session.actor.id, "leave", name, data)
    except CsvError as e:
        return render(request, "leave_import.html", session, status=422, preview=None, staged="", message=str(e),
                      columns=leave.LEAVE_COLUMNS, types=types)
    return render(request, "leave_import.html", session, status=422 if preview.errors else 200, preview=preview,
                  staged=staged, message="", columns=leave.LEAVE_COLUMNS, types=types)


@router.post("/cuti/impor/{staged}", response_class=HTMLResponse)
def import_apply(request: Request, session: Writer, staged: Annotated[str, Path(max_length=36)]):
    try:
        with request.app.state.engine.begin() as conn:
            name, data = staging.take(conn, staged, session.actor.id, "leave")
            done = leave.apply_csv(conn, session.actor.who(client_ip(request)), session.actor,
                                   request.app.state.settings.rules, data, name, _four_eyes(request))
    except (staging.StagingError, leave.LeaveError, CsvError) as e:
        return render(request, "leave_import.html", session, status=422, preview=None, staged="", message=str(e),
                      columns=leave.LEAVE_COLUMNS, types=request.app.state.settings.rules.values["leave_types"])
    flash(request, session, f"Impor {name}: {len(done.lines)} cuti/izin dicatat.")
    return redirect("/cuti")
