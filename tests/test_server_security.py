"""Limits before work, the HR login, CSV cells that cannot become formulas, owner-only files.

The body tests talk raw HTTP over a socket to a real collector: a chunked body far over the cap
is answered (401 without a token, 413 with one) while the client is still sending, and the
server process's peak memory stays flat."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from server_fixtures import LOOPBACK, NIP, Collector, free_port
from test_server import event, post

MB = 1024 * 1024


class ChunkedUpload:
    """POST a chunked body of `total` bytes in a thread; records how much was sent when the
    answer's status line arrived."""

    def __init__(self, port: int, path: str, token: str | None, total: int, chunk: int = 256 * 1024):
        self.sock = socket.create_connection((LOOPBACK, port), timeout=30)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {LOOPBACK}\r\nContent-Type: application/json\r\n{auth}"
                          "Transfer-Encoding: chunked\r\n\r\n".encode())
        self.total, self.chunk, self.sent, self.error = total, chunk, 0, None
        self.sent_at_answer = None
        self.thread = threading.Thread(target=self._send, daemon=True)
        self.thread.start()

    def _send(self) -> None:
        payload = b"%x\r\n" % self.chunk + b"[" * self.chunk + b"\r\n"  # JSON that would nest forever
        try:
            while self.sent < self.total:
                self.sock.sendall(payload)
                self.sent += self.chunk
            self.sock.sendall(b"0\r\n\r\n")
        except OSError as e:  # the server closed the connection: it stopped reading
            self.error = e

    def answer(self) -> tuple[int, bytes]:
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = self.sock.recv(65536)
            if not data:
                break
            buf += data
            if self.sent_at_answer is None:
                self.sent_at_answer = self.sent
        self.thread.join(30)
        self.sock.close()
        return int(buf.split(b" ", 2)[1]), buf


@pytest.fixture
def served(tmp_path):
    """`python -m server serve` in its own process, to read its memory: (url, port, pid, token)."""
    db = tmp_path / "collector.db"
    env = {**os.environ, "KIOSK_SERVER_DB": str(db)}
    run = [sys.executable, "-m", "server"]
    subprocess.run([*run, "migrate"], env=env, check=True, capture_output=True, timeout=60)
    token = subprocess.run([*run, "register-device", "kiosk-01", "--unit", "Dinas Kominfo"], env=env, check=True,
                           capture_output=True, text=True, timeout=60).stdout.strip()
    port = free_port()
    proc = subprocess.Popen([*run, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://{LOOPBACK}:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url + "/api/v1/health", timeout=1)
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline and proc.poll() is None, "the server did not start"
            time.sleep(0.1)
    yield url, port, proc.pid, token
    proc.terminate()
    proc.wait(10)


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1]) / 1024


def test_a_chunked_body_is_refused_before_it_is_read(served):
    url, port, pid, token = served
    before = peak_rss_mb(pid)
    total = 200 * MB
    up = ChunkedUpload(port, "/api/v1/events", None, total)  # no token
    status, head = up.answer()
    assert status == 401 and b"connection: close" in head.lower()
    assert up.sent_at_answer < 64 * MB, up.sent_at_answer  # answered long before the 200 MB were sent
    assert up.sent < total and up.error is not None  # the server stopped reading: the rest was never sent
    up = ChunkedUpload(port, "/api/v1/events", token, total)  # a valid token: counted up to the cap
    status, _ = up.answer()
    assert status == 413 and up.sent_at_answer < 64 * MB and up.sent < total
    up = ChunkedUpload(port, "/api/v1/roster", token, total)
    assert up.answer()[0] == 413
    assert peak_rss_mb(pid) - before < 40  # flat: at most the 8 MiB cap was held, never the body
    assert requests.get(url + "/api/v1/health", timeout=5).status_code == 200


def test_a_declared_length_over_the_cap_is_refused_before_any_body(served):
    _, port, _, token = served
    with socket.create_connection((LOOPBACK, port), timeout=10) as s:
        s.sendall(f"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {600 * MB}\r\n\r\n".encode())
        answer = b""
        while chunk := s.recv(65536):  # the server closes after its answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413") and b'"too_large"' in answer


def test_hr_pages_refused_until_a_login_is_configured(sqlite_collector):
    c = sqlite_collector
    for path in ("/", "/export/daily.csv", "/export/events.csv"):
        r = requests.get(c.url + path, timeout=10)
        assert r.status_code == 403 and r.json()["error"] == "hr_login_not_configured", path
        assert NIP not in r.text
    user, password = c.hr_login()
    for path in ("/", "/export/daily.csv", "/export/events.csv"):
        r = requests.get(c.url + path, timeout=10)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic"), path
        assert requests.get(c.url + path, auth=(user, password), timeout=10).status_code == 200, path
    assert requests.get(c.url + "/", auth=(user, "wrong"), timeout=10).status_code == 401
    assert requests.get(c.url + "/", auth=("nobody", password), timeout=10).status_code == 401
    assert requests.get(c.url + "/", auth=("n\x00body", password), timeout=10).status_code == 401
    # the device token is not an HR login, nor the other way round
    token = c.register("kiosk-01")
    assert requests.get(c.url + "/", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 401
    r = requests.get(c.url + "/api/v1/roster", auth=(user, password), timeout=10)
    assert r.status_code == 401
    assert c.count("select count(*) from hr_logins where password_hash like 'scrypt$%'") == 1
    assert c.count("select count(*) from hr_logins where password_hash like :p", p=f"%{password}%") == 0


def test_hr_login_locks_after_wrong_passwords(sqlite_collector):
    from sqlalchemy import text

    c = sqlite_collector
    user, password = c.hr_login()
    codes = [requests.get(c.url + "/", auth=(user, "salah"), timeout=10).status_code for _ in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    r = requests.get(c.url + "/", auth=(user, password), timeout=10)  # locked: even the right one
    assert r.status_code == 429 and 55 <= int(r.headers["retry-after"]) <= 61
    with c.engine.begin() as conn:  # a minute later
        conn.execute(text("update hr_logins set locked_until = '2020-01-01 00:00:00'"))
    assert requests.get(c.url + "/", auth=(user, password), timeout=10).status_code == 200
    assert c.count("select failed from hr_logins") == 0


def test_hr_password_cli_refuses_weak_ones_and_keeps_a_hash(tmp_path):
    env = {**os.environ, "KIOSK_SERVER_DB": str(tmp_path / "c.db")}

    def server(*args, stdin=""):
        return subprocess.run([sys.executable, "-m", "server", *args], input=stdin, capture_output=True, text=True,
                              env=env, timeout=60)

    assert server("migrate").returncode == 0
    r = server("hr-password", "hr", "--stdin", stdin="short\n")
    assert r.returncode == 2 and "at least 12 characters" in r.stderr
    r = server("hr-password", "hr", "--stdin", stdin="kata sandi panjang sekali\n")
    assert r.returncode == 0 and "kata sandi" not in r.stdout
    assert b"kata sandi" not in (tmp_path / "c.db").read_bytes()


def test_csv_cells_never_become_formulas(sqlite_collector):
    """A name, a NIP or a unit that starts like a formula is exported as text, in both CSVs."""
    c = sqlite_collector
    hr = c.hr_login()
    evil_nip, evil_name = "=1+2", '=HYPERLINK("http://evil.example","klik")'
    token = c.register("kiosk-01", unit="@Kominfo")
    r = post(c, "/roster", token, {"employees": [{"nip": evil_nip, "name": evil_name},
                                                 {"nip": "-5", "name": "+Budi"}, {"nip": NIP, "name": "\tTab"}]})
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "employees[2].name"  # no control characters
    r = post(c, "/roster", token, {"employees": [{"nip": evil_nip, "name": evil_name}, {"nip": "-5", "name": "+Budi"},
                                                 {"nip": NIP, "name": "Tab"}]})
    assert [e["status"] for e in r.json()["employees"]] == ["accepted"] * 3
    from sqlalchemy import text

    with c.engine.begin() as conn:  # stored by an older version, which took anything
        conn.execute(text("update employees set name = :n where nip = :nip"), {"n": "\tTab", "nip": NIP})
    day = "2026-11-24"
    post(c, "/events", token, {"events": [event(nip=evil_nip)]})
    daily = requests.get(c.url + "/export/daily.csv", params={"date": day}, auth=hr, timeout=10).text
    events = requests.get(c.url + "/export/events.csv", params={"date": day}, auth=hr, timeout=10).text
    import csv
    import io

    cells = [cell for text in (daily, events) for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "'=1+2" in cells and "'" + evil_name in cells and "'@Kominfo" in cells and "'+Budi" in cells
    assert "'-5" in cells and "'\tTab" in cells
    assert not [x for x in cells if x[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_kiosk_report_csv_and_xlsx_keep_formulas_as_text():
    from openpyxl import load_workbook

    from kiosk import report

    rows = [{"a": "=cmd|' /C calc'!A0", "b": -3, "c": "Sari"}]
    assert report.to_csv(rows, [("a", 1), ("b", 1), ("c", 1)]).splitlines()[1] == "'=cmd|' /C calc'!A0,-3,Sari"
    import io

    wb = load_workbook(io.BytesIO(report.to_xlsx([("s", "t", rows, [("a", 1), ("b", 1), ("c", 1)])], "f")))
    cell = wb["s"]["A5"]
    assert cell.value == "=cmd|' /C calc'!A0" and cell.data_type == "s"


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_databases_and_token_files_are_owner_only(tmp_path):
    old = os.umask(0o022)  # the usual umask: files would be 0644
    try:
        c = Collector(f"sqlite:///{tmp_path / 'collector.db'}")
        post(c, "/events", c.register("kiosk-01"), {"events": [event()]})
        files = [tmp_path / n for n in ("collector.db", "collector.db-wal", "collector.db-shm")]
        assert all(p.exists() for p in files)
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
        c.stop()

        from kiosk.store import Store

        (tmp_path / "k").mkdir()
        old_db = tmp_path / "k" / "kiosk.db"  # made world-readable by an older version
        with Store(old_db) as s:
            s.upsert_employees([{"nip": NIP, "name": "Ani"}])
        for p in old_db.parent.iterdir():
            p.chmod(0o644)
        with Store(old_db) as s:
            s.upsert_employees([{"nip": "2", "name": "Budi"}])
            kiosk_files = sorted(old_db.parent.iterdir())
            assert {p.name for p in kiosk_files} >= {"kiosk.db", "kiosk.db-wal", "kiosk.db-shm"}
            assert {p.name: mode(p) for p in kiosk_files} == {p.name: 0o600 for p in kiosk_files}
        with Store(tmp_path / "new" / "kiosk.db") as s:
            s.upsert_employees([{"nip": NIP, "name": "Ani"}])
            assert {p.name: mode(p) for p in (tmp_path / "new").iterdir()} == {
                "kiosk.db": 0o600, "kiosk.db-wal": 0o600, "kiosk.db-shm": 0o600}

        env = {**os.environ, "KIOSK_SERVER_DB": str(tmp_path / "cli.db")}
        r = subprocess.run([sys.executable, "-m", "server", "migrate"], env=env, capture_output=True, timeout=60)
        assert r.returncode == 0 and mode(tmp_path / "cli.db") == 0o600
        r = subprocess.run([sys.executable, "-m", "server", "register-device", "kiosk-02", "--unit", "BKPSDM",
                            "--token-file", str(tmp_path / "kiosk-02.token")], env=env, capture_output=True,
                           timeout=60)
        assert r.returncode == 0 and mode(tmp_path / "kiosk-02.token") == 0o600
    finally:
        os.umask(old)
