"""The HR web pages (Bahasa Indonesia): sign-in, the daily page, employees, leave, corrections,
reports, periods, kiosks, accounts and the audit log. One module per page; templates in
templates/, plain HTML forms without JavaScript.

Every page needs a session (server.sessions) and every form its CSRF token; what an account
may see and change is decided by server.accounts.Actor, asked by each page and again by the
service functions under it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from server import format as fmt
from server.accounts import ROLES
from server.sessions import Session

HERE = Path(__file__).parent
_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_env.filters.update(tanggal=fmt.tanggal, hari_tanggal=fmt.hari_tanggal, bulan=fmt.bulan, persen=fmt.persen)
_env.globals.update(ROLES=ROLES)

NAV = [  # (path, label, who sees it)
    ("/", "Harian", "all"), ("/pegawai", "Pegawai", "all"), ("/cuti", "Cuti & izin", "all"),
    ("/koreksi", "Koreksi", "all"), ("/laporan/bulanan", "Rekap bulanan", "all"), ("/periode", "Periode", "all"),
    ("/kiosk", "Kiosk", "all"), ("/akun", "Akun", "admin"), ("/audit", "Log audit", "all"),
]


def nav_for(session: Session | None) -> list[tuple[str, str]]:
    if session is None:
        return []
    return [(p, label) for p, label, who in NAV if who == "all" or session.actor.is_admin]


def render(request: Request, template: str, session: Session | None, status: int = 200, **ctx) -> HTMLResponse:
    settings = request.app.state.settings
    tz = settings.rules.tz

    def waktu(t: dt.datetime | None) -> str:
        return fmt.waktu(t, tz)

    html = _env.get_template(template).render(
        request=request, session=session, actor=session.actor if session else None,
        csrf=session.csrf if session else "", nav=nav_for(session), path=request.url.path,
        flash=session.flash if session else None, waktu=waktu, timezone=settings.rules.timezone, **ctx)
    return HTMLResponse(html, status_code=status)


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def routers() -> list:
    from server.web import accounts, assets, audit, corrections, daily, employees, kiosks, leave, login, monthly, periods

    return [assets.router, login.router, daily.router, monthly.router, periods.router, employees.router, leave.router,
            corrections.router, kiosks.router, accounts.router, audit.router]
