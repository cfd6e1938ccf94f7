"""Employees: the list (search, unit, state, faces, look-alike holds), the roster import with its
preview, one employee's page (data, faces per kiosk, look-alike holds, edit, deactivate)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse

from server import employees, staging
from server.csvin import CsvError
from server.web import redirect, render
from server.web.deps import FormText, Page, PathText, QueryText, Writer, client_ip, flash

router = APIRouter(include_in_schema=False)
Nip = PathText(40)
MAX_UPLOAD = 8 * 1024 * 1024


def _schedules(request: Request) -> set[str]:
    return set(request.app.state.settings.rules.values["schedules"])


def _nip_pattern(request: Request) -> str:
    return request.app.state.settings.collector["nip_pattern"]


@router.get("/pegawai", response_class=HTMLResponse)
def employee_list(request: Request, session: Page, q: QueryText(100) = "", unit: QueryText(200) = "",
                  status: Annotated[str, Query(pattern="^(aktif|nonaktif|semua)$")] = "aktif",
                  wajah: Annotated[str, Query(pattern="^(|ada|belum)$")] = "",
                  hal: Annotated[int, Query(ge=1, le=100000)] = 1):
    with request.app.state.engine.connect() as conn:
        found = employees.listing(conn, session.actor, q, unit, status, wajah, hal)
        holds = employees.holds(conn, session.actor)
    held_as: dict[str, list[str]] = {}
    for h in holds:
        held_as.setdefault(h["nip"], []).append(h["resembles"])
    pages = max(1, -(-found.total // employees.PAGE))
    return render(request, "employees.html", session, found=found, page=hal, pages=pages, holds=holds,
                  held_as=held_as, f={"q": q, "unit": unit, "status": status, "wajah": wajah})


@router.get("/pegawai/impor", response_class=HTMLResponse)
def import_page(request: Request, session: Page):
    return render(request, "roster_import.html", session, preview=None, staged="", message="",
                  columns=employees.ROSTER_COLUMNS)


@router.post("/pegawai/impor", response_class=HTMLResponse)
def import_preview(request: Request, session: Writer, berkas: Annotated[UploadFile, File()]):
    data = berkas.file.read(MAX_UPLOAD + 1)
    name = (berkas.filename or "roster.csv")[:200]
    try:
        with request.app.state.engine.begin() as conn:
            preview = employees.preview_roster(conn, session.actor, data, name, _schedules(request),
                                               _nip_pattern(request))
            staged = "" if preview.errors else staging.stage(conn, session.actor.id, "roster", name, data)
    except CsvError as e:
        return render(request, "roster_import.html", session, status=422, preview=None, staged="", message=str(e),
                      columns=employees.ROSTER_COLUMNS)
    return render(request, "roster_import.html", session, status=422 if preview.errors else 200, preview=preview,
                  staged=staged, message="", columns=employees.ROSTER_COLUMNS)


@router.post("/pegawai/impor/{staged}", response_class=HTMLResponse)
def import_apply(request: Request, session: Writer, staged: Annotated[str, Path(max_length=36)]):
    try:
        with request.app.state.engine.begin() as conn:
            name, data = staging.take(conn, staged, session.actor.id, "roster")
            done = employees.apply_roster(conn, session.actor.who(client_ip(request)), session.actor, data, name,
                                          _schedules(request), _nip_pattern(request))
    except (staging.StagingError, employees.EmployeeError, CsvError) as e:
        return render(request, "roster_import.html", session, status=422, preview=None, staged="", message=str(e),
                      columns=employees.ROSTER_COLUMNS)
    flash(request, session, f"Impor {name}: {done.count('baru')} pegawai baru, {done.count('berubah')} berubah, "
                            f"{done.count('aktif lagi')} aktif lagi, {done.count('sama')} tanpa perubahan.")
    return redirect("/pegawai")


def _employee_page(request: Request, session, nip: str, message: str = "", status: int = 200) -> HTMLResponse:
    from server import audit

    with request.app.state.engine.connect() as conn:
        try:
            row = employees.get(conn, session.actor, nip)
        except employees.EmployeeError as e:
            return render(request, "error.html", session, status=404, message=str(e))
        faces = employees.templates_by_kiosk(conn, [nip]).get(nip, [])
        holds = employees.holds(conn, session.actor, nip)
        history, _ = audit.entries(conn, None, target=f"employee:{nip}", limit=20)
    return render(request, "employee.html", session, status=status, e=row, faces=faces, holds=holds, history=history,
                  actions=audit.ACTIONS,
                  schedules=sorted(_schedules(request)), message=message,
                  can_write=session.actor.can_write(row["unit"]))


@router.get("/pegawai/{nip}", response_class=HTMLResponse)
def employee_page(request: Request, session: Page, nip: Nip):
    return _employee_page(request, session, nip)


@router.post("/pegawai/{nip}", response_class=HTMLResponse)
def employee_edit(request: Request, session: Writer, nip: Nip, name: FormText(200) = "", unit: FormText(200) = "",
                  schedule: FormText(40) = "", jabatan: FormText(200) = "", golongan: FormText(40) = ""):
    try:
        with request.app.state.engine.begin() as conn:
            changed = employees.edit(conn, session.actor.who(client_ip(request)), session.actor, nip,
                                     {"name": name, "unit": unit, "schedule": schedule, "jabatan": jabatan,
                                      "golongan": golongan}, _schedules(request))
    except employees.EmployeeError as e:
        return _employee_page(request, session, nip, str(e), 422)
    flash(request, session, "Data pegawai disimpan." if changed else "Tidak ada yang berubah.")
    return redirect(f"/pegawai/{nip}")


@router.post("/pegawai/{nip}/nonaktif", response_class=HTMLResponse)
def employee_deactivate(request: Request, session: Writer, nip: Nip):
    try:
        with request.app.state.engine.begin() as conn:
            n = employees.deactivate(conn, session.actor.who(client_ip(request)), session.actor, nip)
    except employees.EmployeeError as e:
        return _employee_page(request, session, nip, str(e), 422)
    flash(request, session, f"Pegawai {nip} dinonaktifkan; {n} data wajah dihapus dari kiosk saat sinkron berikutnya.")
    return redirect(f"/pegawai/{nip}")


@router.post("/pegawai/{nip}/aktif", response_class=HTMLResponse)
def employee_activate(request: Request, session: Writer, nip: Nip):
    try:
        with request.app.state.engine.begin() as conn:
            employees.activate(conn, session.actor.who(client_ip(request)), session.actor, nip)
    except employees.EmployeeError as e:
        return _employee_page(request, session, nip, str(e), 422)
    flash(request, session, f"Pegawai {nip} aktif lagi; wajahnya perlu didaftarkan ulang di kiosk.")
    return redirect(f"/pegawai/{nip}")


@router.post("/pegawai/{nip}/mirip/{uid}/lepas", response_class=HTMLResponse)
def hold_release(request: Request, session: Writer, nip: Nip, uid: Annotated[str, Path(max_length=36)]):
    try:
        with request.app.state.engine.begin() as conn:
            h = employees.release_hold(conn, session.actor.who(client_ip(request)), session.actor, uid)
    except employees.EmployeeError as e:
        return _employee_page(request, session, nip, str(e), 422)
    flash(request, session, f"Penahanan wajah {h['nip']} (mirip {h['resembles']}) dilepas; kiosk unit "
                            f"{h['unit']} tidak lagi menolak wajah itu sejak sinkron berikutnya.")
    return redirect(f"/pegawai/{nip}")
