"""What every HR page depends on: the session from the cookie, the CSRF token of each form, the
role a page needs, and the HTML answers for the refusals."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Form, Path, Query, Request
from pydantic import AfterValidator

from kiosk.fields import encoding_problem

from server import sessions
from server.sessions import Session

LOGIN_COOKIE = "absensi_login"  # the sign-in form's own CSRF token, before there is a session


class NotSignedIn(Exception):
    """No live session: pages redirect to the sign-in form (server.errors)."""


class MustChangePassword(Exception):
    """An account whose password was set by an administrator: only /sandi until it is changed."""


class WebError(Exception):
    """A refusal shown as an HTML page (Indonesian message), or JSON to a non-browser client."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def cookie_name(request: Request) -> str:
    # __Host-: only over HTTPS, only this host, path / (the browser enforces it)
    return "__Host-absensi" if request.app.state.settings.collector["secure_cookies"] else "absensi"


def cookie_args(request: Request, max_age: int | None = None) -> dict:
    return {"httponly": True, "samesite": "strict", "secure": request.app.state.settings.collector["secure_cookies"],
            "path": "/", **({"max_age": max_age} if max_age else {})}


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def optional_session(request: Request) -> Session | None:
    gated = getattr(request.state, "session", None)  # looked up already by the gate (server.web.gate)
    if gated is not None:
        return gated
    c = request.app.state.settings.collector
    with request.app.state.engine.begin() as conn:
        return sessions.load(conn, request.cookies.get(cookie_name(request)), c["session_idle_minutes"],
                             c["session_max_hours"])


def current_session(request: Request) -> Session:
    session = optional_session(request)
    if session is None:
        raise NotSignedIn()
    if session.actor.must_change_password and request.url.path not in ("/sandi", "/logout"):
        raise MustChangePassword()
    return session


def checked_session(request: Request, session: Annotated[Session, Depends(current_session)],
                    csrf: Annotated[str, Form(max_length=100)] = "") -> Session:
    """The session of a form sent with this session's CSRF token (a form another site made
    the browser send has none)."""
    if not session.csrf_ok(csrf):
        raise WebError(403, "Formulir ini kedaluwarsa atau tidak berasal dari halaman ini. Muat ulang halaman "
                            "lalu kirim lagi.")
    return session


def writer(session: Annotated[Session, Depends(checked_session)]) -> Session:
    if not session.actor.writer:
        raise WebError(403, "Akun pimpinan hanya dapat melihat, tidak mengubah.")
    return session


def admin_form(session: Annotated[Session, Depends(checked_session)]) -> Session:
    if not session.actor.is_admin:
        raise WebError(403, "Hanya administrator (BKPSDM) yang dapat melakukan ini.")
    return session


def admin_page(session: Annotated[Session, Depends(current_session)]) -> Session:
    if not session.actor.is_admin:
        raise WebError(403, "Hanya administrator (BKPSDM) yang dapat membuka halaman ini.")
    return session


Page = Annotated[Session, Depends(current_session)]  # any signed-in account, reading
Form_ = Annotated[Session, Depends(checked_session)]  # any signed-in account, a form it sends about itself
Writer = Annotated[Session, Depends(writer)]  # administrator or operator, a form that changes data
AdminPage = Annotated[Session, Depends(admin_page)]
AdminForm = Annotated[Session, Depends(admin_form)]


def flash(request: Request, session: Session, message: str) -> None:
    with request.app.state.engine.begin() as conn:
        sessions.flash(conn, session.id, message)


def _storable(v: str) -> str:
    problem = encoding_problem(v)
    if problem:
        raise ValueError(problem)
    return v


def FormText(max_length: int = 300):  # noqa: N802 (a type)
    """A form field any database stores (no NUL, no lone surrogate), at most `max_length` long."""
    return Annotated[str, Form(max_length=max_length), AfterValidator(_storable)]


def QueryText(max_length: int = 250):  # noqa: N802 (a type)
    return Annotated[str, Query(max_length=max_length), AfterValidator(_storable)]


def PathText(max_length: int):  # noqa: N802 (a type)
    return Annotated[str, Path(max_length=max_length), AfterValidator(_storable)]


DATE_PATTERN = r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}$"
MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
DayQuery = Annotated[str, Query(pattern=f"{DATE_PATTERN}|^$", description="YYYY-MM-DD (2000-2099)")]


def parse_day(value: str | None, field: str) -> dt.date | None:
    """A YYYY-MM-DD the pattern let through, as a date; an impossible one (2026-02-30) is a 422
    naming the field."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        from server.errors import ApiError

        raise ApiError(422, "invalid", f"{field}: {value} is not a real date",
                       fields=[{"field": field, "problem": "is not a real date"}]) from None
