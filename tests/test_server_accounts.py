"""HR accounts over real HTTP: sign-in, session cookies, CSRF on every form, lockout and
throttling, password changes, roles, the audit log, and sessions shared by server processes
only through the database."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import requests
from server_fixtures import PASSWORD, Collector, HrClient, database_url


def test_pages_need_a_session_and_the_api_is_not_a_session(sqlite_collector):
    c = sqlite_collector
    r = requests.get(c.url + "/", headers={"Accept": "text/html"}, allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2F"
    assert "Belum ada akun" in requests.get(c.url + "/login", timeout=10).text
    r = requests.get(c.url + "/export/daily.csv", timeout=10)  # not a browser: JSON
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    token = c.register("kiosk-01")
    assert requests.get(c.url + "/", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 401
    hr = c.hr()
    assert hr.get("/").status_code == 200
    assert hr.get("/api/v1/roster").status_code == 401  # a session is not a device token


def test_create_admin_cli_refuses_weak_passwords_and_keeps_an_argon2_hash(tmp_path):
    db = tmp_path / "c.db"
    env = {**os.environ, "KIOSK_SERVER_DB": str(db)}

    def server(*args, stdin=""):
        return subprocess.run([sys.executable, "-m", "server", *args], input=stdin, capture_output=True, text=True,
                              env=env, timeout=60)

    assert server("migrate").returncode == 0
    r = server("create-admin", "bkpsdm", "--stdin", stdin="pendek\n")
    assert r.returncode == 2 and "minimal 12 karakter" in r.stderr
    r = server("create-admin", "Bad Name", "--stdin", stdin="kata sandi panjang sekali\n")
    assert r.returncode == 2 and "nama pengguna" in r.stderr
    r = server("create-admin", "bkpsdm", "--name", "Admin BKPSDM", "--stdin", stdin="kata sandi panjang sekali\n")
    assert r.returncode == 0 and "kata sandi" not in r.stdout, r.stderr
    assert b"kata sandi panjang" not in db.read_bytes()
    r = server("create-admin", "bkpsdm", "--stdin", stdin="kata sandi panjang sekali\n")
    assert r.returncode == 2 and "sudah dipakai" in r.stderr
    assert "bkpsdm\tadmin" in server("accounts").stdout
    c = Collector(f"sqlite:///{db}")
    try:
        assert c.count("select count(*) from accounts where password_hash like '$argon2id$%'") == 1
        hr = HrClient(c.url)
        assert hr.sign_in("bkpsdm", "kata sandi panjang sekali").status_code == 303
        assert hr.get("/").status_code == 200
        r = server("reset-password", "bkpsdm", "--stdin", stdin="kata sandi yang baru sekali\n")
        assert r.returncode == 0
        assert hr.get("/").status_code == 401  # its sessions ended
        hr.sign_in("bkpsdm", "kata sandi yang baru sekali")
        assert hr.get("/", headers={"Accept": "text/html"}).headers["location"] == "/sandi"  # must change it
    finally:
        c.stop()


def test_session_cookie_is_hidden_strict_and_stored_hashed(sqlite_collector):
    c = sqlite_collector
    c.account("bkpsdm")
    hr = HrClient(c.url)
    r = hr.sign_in("bkpsdm", PASSWORD)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-absensi=")
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert attribute.lower() in cookie.lower(), cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert c.count("select count(*) from sessions where id = :v", v=value) == 0
    assert c.count("select count(*) from sessions") == 1
    assert hr.submit("/logout").status_code == 303
    assert c.count("select count(*) from sessions") == 0
    assert hr.get("/").status_code == 401


def test_every_form_needs_its_sessions_csrf_token(sqlite_collector):
    c = sqlite_collector
    admin, other = c.hr("admin"), c.hr("admin")
    r = admin.post("/logout", data={})
    assert r.status_code == 403 and "kedaluwarsa" in r.json()["message"]
    r = admin.post("/logout", data={"csrf": other.csrf})  # another session's token
    assert r.status_code == 403
    r = admin.post("/akun/baru", data={"csrf": "x", "username": "siluman", "role": "admin", "password": PASSWORD * 2})
    assert r.status_code == 403 and c.count("select count(*) from accounts where username = 'siluman'") == 0
    fresh = HrClient(c.url)  # the sign-in form has its own token, bound to a cookie
    r = fresh.post("/login", data={"username": "admin-1", "password": PASSWORD, "csrf": "guessed"})
    assert r.status_code == 403 and c.count("select count(*) from sessions") == 2
    assert admin.get("/").status_code == 200


def test_wrong_passwords_lock_the_account_and_each_try_is_audited(sqlite_collector):
    from sqlalchemy import text

    c = sqlite_collector
    c.account("bkpsdm")
    hr = HrClient(c.url)
    codes = [hr.sign_in("bkpsdm", "salah sekali ya").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    r = hr.sign_in("bkpsdm", PASSWORD)  # locked: even the right password
    assert r.status_code == 429 and 55 <= int(r.headers["retry-after"]) <= 61 and "terkunci" in r.text
    with c.engine.begin() as conn:  # a minute later
        conn.execute(text("update accounts set locked_until = '2020-01-01 00:00:00'"))
    assert hr.sign_in("bkpsdm", PASSWORD).status_code == 303
    assert c.count("select failed from accounts") == 0
    assert c.count("select count(*) from audit_log where action = 'login_failed' and target = 'account:bkpsdm'") == 5
    assert c.count("select count(*) from audit_log where action = 'login'") == 1
    assert hr.sign_in("nobody", PASSWORD).status_code == 401  # an unknown name: the same answer
    assert c.count("select count(*) from audit_log where after like '%unknown%'") == 1


def test_one_address_gets_a_few_tries_a_minute_whatever_the_account(tmp_path):
    cfg = tmp_path / "collector.toml"
    cfg.write_text("[collector]\nlogin_per_minute = 3\n", encoding="utf-8")
    c = Collector(f"sqlite:///{tmp_path / 'c.db'}", config=cfg)
    try:
        c.account("bkpsdm")
        hr = HrClient(c.url)
        codes = [hr.sign_in(name, "salah sekali ya").status_code for name in ("a1", "b2", "c3", "bkpsdm")]
        assert codes == [401, 401, 401, 429]
        assert c.count("select failed from accounts") == 0  # refused before the password was looked at
    finally:
        c.stop()


def test_password_change_ends_the_other_sessions(sqlite_collector):
    c = sqlite_collector
    c.account("bkpsdm")
    laptop, phone = HrClient(c.url), HrClient(c.url)
    laptop.sign_in("bkpsdm", PASSWORD)
    phone.sign_in("bkpsdm", PASSWORD)
    r = laptop.submit("/sandi", {"current": "bukan ini", "new": "sandi baru yang panjang", "again": "sandi baru yang panjang"})
    assert r.status_code == 422 and "kata sandi sekarang salah" in r.text
    r = laptop.submit("/sandi", {"current": PASSWORD, "new": "pendek", "again": "pendek"})
    assert r.status_code == 422 and "minimal 12" in r.text
    r = laptop.submit("/sandi", {"current": PASSWORD, "new": "sandi baru yang panjang", "again": "sandi baru yang panjang"})
    assert r.status_code == 303
    assert "Kata sandi diganti" in laptop.get("/sandi").text  # the message on the next page
    assert laptop.get("/").status_code == 200 and phone.get("/").status_code == 401
    assert HrClient(c.url).sign_in("bkpsdm", "sandi baru yang panjang").status_code == 303
    assert c.count("select count(*) from audit_log where action = 'password_changed'") == 1


def test_admin_creates_an_operator_who_changes_the_password_first(sqlite_collector):
    c = sqlite_collector
    admin = c.hr("admin")
    r = admin.submit("/akun/baru", [("username", "Op.Kominfo"), ("full_name", "Operator Kominfo"), ("role", "operator"),
                                    ("password", "sementara sekali 1")])
    assert r.status_code == 422 and "paling sedikit satu unit" in r.text
    r = admin.submit("/akun/baru", [("username", "op.kominfo"), ("full_name", "Operator Kominfo"), ("role", "operator"),
                                    ("units", "Dinas Kominfo"), ("new_units", "Puskesmas Sragen\n"),
                                    ("password", "sementara sekali 1")])
    assert r.status_code == 303, r.text
    listing = admin.get("/akun").text
    assert "op.kominfo" in listing and "Dinas Kominfo, Puskesmas Sragen" in listing
    op = HrClient(c.url)
    assert op.sign_in("op.kominfo", "sementara sekali 1").headers["location"] == "/sandi"
    assert op.get("/", headers={"Accept": "text/html"}).headers["location"] == "/sandi"
    assert op.get("/").status_code == 403
    r = op.submit("/sandi", {"current": "sementara sekali 1", "new": "milik saya sendiri", "again": "milik saya sendiri"})
    assert r.status_code == 303 and op.get("/").status_code == 200
    assert op.get("/akun").status_code == 403 and op.get("/audit").status_code == 200
    entry = c.count("select count(*) from audit_log where action = 'account_created' and target = 'account:op.kominfo' "
                    "and after like '%Puskesmas Sragen%' and after not like '%argon2%'")
    assert entry == 1


def test_roles_and_an_admin_cannot_lock_themselves_out(sqlite_collector):
    c = sqlite_collector
    admin = c.hr("admin", username="kepala")
    viewer = c.hr("viewer")
    aid = c.count("select id from accounts where username = 'kepala'")
    r = admin.submit(f"/akun/{aid}", {"full_name": "Kepala", "role": "viewer", "active": "1"})
    assert r.status_code == 422 and "sendiri" in r.text
    assert viewer.get("/akun").status_code == 403
    r = viewer.submit("/akun/baru", {"username": "baru", "role": "admin", "password": PASSWORD})
    assert r.status_code == 403
    vid = c.count("select id from accounts where username = 'viewer-2'")
    r = admin.submit(f"/akun/{vid}", {"full_name": "Pimpinan", "role": "viewer", "active": ""})  # deactivated
    assert r.status_code == 303
    assert viewer.get("/").status_code == 401  # its session ended with it
    assert admin.get("/akun/999").status_code == 404
    assert admin.get("/akun/0").status_code == 422


def test_an_idle_session_ends(sqlite_collector):
    from sqlalchemy import text

    c = sqlite_collector
    hr = c.hr()
    with c.engine.begin() as conn:
        conn.execute(text("update sessions set last_seen_at = '2020-01-01 00:00:00'"))
    assert hr.get("/").status_code == 401
    assert c.count("select count(*) from sessions") == 0


def test_audit_page_shows_an_operator_only_their_units(sqlite_collector):
    from server import audit

    c = sqlite_collector
    admin = c.hr("admin")
    op = c.hr("operator", ["Dinas Kominfo"])
    with c.engine.begin() as conn:
        audit.record(conn, audit.CLI, "employee_changed", "employee:1", "Dinas Kominfo", {"unit": "A"}, {"unit": "B"})
        audit.record(conn, audit.CLI, "employee_changed", "employee:2", "BKPSDM", {"name": "X"}, {"name": "Y"})
    mine = op.get("/audit").text
    assert "employee:1" in mine and "employee:2" not in mine
    everything = admin.get("/audit", params={"aksi": "employee_changed"}).text
    assert "employee:1" in everything and "employee:2" in everything and "account:" not in everything
    assert admin.get("/audit", params={"dari": "2026-02-30"}).status_code == 422
    assert admin.get("/audit", params={"aktor": "a\x00b"}).status_code == 422


@pytest.mark.parametrize("backend", ["postgresql"])
def test_two_server_processes_share_sessions_and_locks_through_the_database(request, tmp_path, backend):
    """Two collectors (as two workers) on one PostgreSQL database: a session made by one is
    served by the other, and wrong passwords counted by both lock the account."""
    url = database_url(request, backend, tmp_path)
    one, two = Collector(url), Collector(url)
    try:
        one.account("bkpsdm")
        hr = HrClient(one.url)
        hr.sign_in("bkpsdm", PASSWORD)
        other = HrClient(two.url)
        other.cookies.update(hr.cookies)
        assert other.get("/").status_code == 200
        a, b = HrClient(one.url), HrClient(two.url)
        codes = [(a if i % 2 else b).sign_in("bkpsdm", "salah sekali ya").status_code for i in range(5)]
        assert codes[-1] == 429 and re.search("terkunci", a.sign_in("bkpsdm", PASSWORD).text)
    finally:
        one.stop()
        two.stop()
