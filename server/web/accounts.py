"""Accounts (administrators only): list, create, change role, units and state, reset a password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse

from server import accounts
from server.web import redirect, render
from server.web.deps import AdminForm, AdminPage, FormText, client_ip, flash

router = APIRouter(include_in_schema=False)
Text = FormText(300)
AccountId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _units(picked: list[str], new: str) -> list[str]:
    return picked + [u.strip() for u in new.splitlines() if u.strip()]


def _missing(request: Request, session, account_id: int) -> HTMLResponse:
    return render(request, "error.html", session, status=404, message=f"Akun {account_id} tidak ada.")


def _stored(request: Request, account_id: int) -> dict | None:
    with request.app.state.engine.connect() as conn:
        try:
            return accounts.get(conn, account_id)
        except accounts.AccountError:
            return None


def _form(request: Request, session, account: dict | None, message: str = "", status: int = 200) -> HTMLResponse:
    with request.app.state.engine.connect() as conn:
        units = accounts.known_units(conn)
    return render(request, "account_form.html", session, status=status, account=account, units=units,
                  message=message)


@router.get("/akun", response_class=HTMLResponse)
def account_list(request: Request, session: AdminPage):
    with request.app.state.engine.connect() as conn:
        rows = accounts.list_all(conn)
    return render(request, "accounts.html", session, accounts=rows)


@router.get("/akun/baru", response_class=HTMLResponse)
def new_account_page(request: Request, session: AdminPage):
    return _form(request, session, None)


@router.post("/akun/baru", response_class=HTMLResponse)
def create_account(request: Request, session: AdminForm, username: Text = "", full_name: Text = "",
                   role: FormText(16) = "", units: Annotated[list[str], Form()] = [],  # noqa: B006
                   new_units: FormText(5000) = "", password: Text = ""):
    given = {"username": username, "full_name": full_name, "role": role, "units": _units(units, new_units),
             "active": True}
    try:
        with request.app.state.engine.begin() as conn:
            accounts.create(conn, session.actor.who(client_ip(request)), username, full_name, role, given["units"],
                            password, request.app.state.settings.collector["min_password"], must_change=True)
    except accounts.AccountError as e:
        return _form(request, session, given, str(e), 422)
    flash(request, session, f"Akun {username.strip().lower()} dibuat. Pemiliknya mengganti kata sandi saat "
                            "pertama kali masuk.")
    return redirect("/akun")


@router.get("/akun/{account_id}", response_class=HTMLResponse)
def account_page(request: Request, session: AdminPage, account_id: AccountId):
    account = _stored(request, account_id)
    return _form(request, session, account) if account else _missing(request, session, account_id)


@router.post("/akun/{account_id}", response_class=HTMLResponse)
def change_account(request: Request, session: AdminForm, account_id: AccountId, full_name: Text = "",
                   role: FormText(16) = "", units: Annotated[list[str], Form()] = [],  # noqa: B006
                   new_units: FormText(5000) = "", active: FormText(5) = ""):
    picked = _units(units, new_units)
    before = _stored(request, account_id)
    if before is None:
        return _missing(request, session, account_id)
    try:
        with request.app.state.engine.begin() as conn:
            changed = accounts.update_account(conn, session.actor.who(client_ip(request)), account_id, full_name,
                                              role, picked, active == "1")
    except accounts.AccountError as e:
        return _form(request, session, {**before, "full_name": full_name, "role": role, "units": picked}, str(e), 422)
    flash(request, session, f"Akun {before['username']} diubah." if changed else "Tidak ada yang berubah.")
    return redirect("/akun")


@router.post("/akun/{account_id}/sandi", response_class=HTMLResponse)
def reset_password(request: Request, session: AdminForm, account_id: AccountId, password: Text = ""):
    account = _stored(request, account_id)
    if account is None:
        return _missing(request, session, account_id)
    try:
        with request.app.state.engine.begin() as conn:
            accounts.reset_password(conn, session.actor.who(client_ip(request)), account_id, password,
                                    request.app.state.settings.collector["min_password"])
    except accounts.AccountError as e:
        return _form(request, session, account, str(e), 422)
    flash(request, session, f"Kata sandi {account['username']} diatur ulang; pemiliknya menggantinya saat masuk.")
    return redirect("/akun")
