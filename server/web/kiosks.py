"""Kiosks: each kiosk of the account's units with its sync state in local time, and (for
administrators) the import of a replaced kiosk's database file as its events."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse

from server import kiosk_import, reports
from server.web import render
from server.web.deps import AdminForm, Page, client_ip

router = APIRouter(include_in_schema=False)
UPLOAD_PATH = "/kiosk/impor"
MAX_KIOSK_DB = 1024 * 1024 * 1024  # a year of a big office's events is a few hundred MB


def _page(request: Request, session, result=None, message: str = "", code: int = 200) -> HTMLResponse:
    a = session.actor
    now = dt.datetime.now(request.app.state.settings.rules.tz)
    with request.app.state.engine.connect() as conn:
        devices = reports.sync_state(conn, now, now, None if a.all_units else sorted(a.units))
        imports = kiosk_import.history(conn) if a.is_admin else []
    return render(request, "kiosks.html", session, status=code, devices=devices, imports=imports, result=result,
                  message=message)


@router.get("/kiosk", response_class=HTMLResponse)
def kiosk_page(request: Request, session: Page):
    return _page(request, session)


@router.post(UPLOAD_PATH, response_class=HTMLResponse)
def kiosk_db_import(request: Request, session: AdminForm, berkas: Annotated[UploadFile, File()]):
    name = Path(berkas.filename or "kiosk.db").name[:200]
    fd, tmp = tempfile.mkstemp(prefix="kiosk-import-", suffix=".db")  # owner-only: attendance data
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(berkas.file, out, 1 << 20)
        with request.app.state.engine.begin() as conn:
            result = kiosk_import.import_file(conn, session.actor.who(client_ip(request)), session.actor, Path(tmp),
                                              name)
    except kiosk_import.KioskImportError as e:
        return _page(request, session, message=str(e), code=422)
    finally:
        os.unlink(tmp)
    return _page(request, session, result=result)
