"""Sign in, sign out, change one's own password."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from server import accounts, audit, sessions
from server.web import redirect, render
from server.web.deps import (LOGIN_COOKIE, Form_, FormText, Page, QueryText, client_ip, cookie_args, cookie_name,
                             flash, optional_session)

router = APIRouter(include_in_schema=False)
Text = FormText(300)


def _safe_next(path: str) -> str:
    """Only a path of this site (no //host or scheme) is followed after sign-in."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


def _login_form(request: Request, message: str = "", status: int = 200, next_: str = "/",
                headers: dict | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    with request.app.state.engine.connect() as conn:
        has_accounts = accounts.count(conn) > 0
    r = render(request, "login.html", None, status=status, message=message, login_csrf=token,
               next=_safe_next(next_), has_accounts=has_accounts)
    r.set_cookie(LOGIN_COOKIE, token, **cookie_args(request, max_age=3600))
    for k, v in (headers or {}).items():
        r.headers[k] = v
    return r


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: QueryText(500) = "/"):  # noqa: A002 (the query parameter's name)
    if optional_session(request) is not None:
        return redirect(_safe_next(next))
    return _login_form(request, next_=next)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, username: FormText(200) = "", password: Text = "",
          csrf: FormText(100) = "", next: FormText(500) = "/"):  # noqa: A002
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(expected.encode(), csrf.encode()):
        return _login_form(request, "Formulir masuk kedaluwarsa; silakan coba lagi.", 403, next)
    settings = request.app.state.settings.collector
    result = accounts.login(request.app.state.engine, username, password, client_ip(request), settings)
    if result.actor is None:
        status = 429 if result.retry_after else 401
        return _login_form(request, result.message, status, next,
                           {"Retry-After": str(result.retry_after)} if result.retry_after else None)
    with request.app.state.engine.begin() as conn:
        sessions.purge(conn, settings["session_idle_minutes"], settings["session_max_hours"])
        token = sessions.create(conn, result.actor.id, client_ip(request), request.headers.get("user-agent", ""))
    r = redirect("/sandi" if result.actor.must_change_password else _safe_next(next))
    r.set_cookie(cookie_name(request), token, **cookie_args(request))
    r.delete_cookie(LOGIN_COOKIE, path="/")
    return r


@router.post("/logout")
def logout(request: Request, session: Form_):
    with request.app.state.engine.begin() as conn:
        sessions.end(conn, session.id)
        audit.record(conn, session.actor.who(client_ip(request)), "logout", f"account:{session.actor.username}")
    r = redirect("/login")
    r.delete_cookie(cookie_name(request), path="/", secure=cookie_args(request)["secure"], httponly=True,
                    samesite="strict")
    return r


@router.get("/sandi", response_class=HTMLResponse)
def password_page(request: Request, session: Page):
    return render(request, "password.html", session, message="")


@router.post("/sandi", response_class=HTMLResponse)
def change_password(request: Request, session: Form_, current: Text = "", new: Text = "", again: Text = ""):
    try:
        accounts.change_own_password(request.app.state.engine, session.actor, session.id, current, new, again,
                                     request.app.state.settings.collector["min_password"], client_ip(request))
    except accounts.AccountError as e:
        return render(request, "password.html", session, status=422, message=str(e))
    flash(request, session, "Kata sandi diganti. Sesi lain akun ini telah diakhiri.")
    return redirect("/")
