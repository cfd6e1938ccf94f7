"""Real parts for the upload tests: the collector on loopback (uvicorn in a thread), a real
PostgreSQL cluster started for the session, a fault-injecting HTTP proxy, and kiosk stores
filled with events.

PostgreSQL: the binaries of the Debian package (`.ci/run` installs it). The cluster is created
with initdb in a temporary folder (as the `postgres` user when running as root) and listens on
127.0.0.1 only. Without the binaries the PostgreSQL tests are skipped with the reason, except
under CI (CI=true), where they fail.
"""

from __future__ import annotations

import collections
import glob
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

NIP = "198501012010011001"
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


# --- the collector ------------------------------------------------------------------------

class Collector:
    """`python -m server serve` in-process: migrated database, uvicorn on a loopback port."""

    def __init__(self, url: str, rules: Path | None = None, ssl: tuple[Path, Path] | None = None):
        import uvicorn

        from server.__main__ import migrate
        from server.app import create_app
        from server.db import open_engine

        self.db_url = url
        self.engine = open_engine(url)
        migrate(url, self.engine)
        self.app = create_app(engine=self.engine, rules=rules)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]
        kw = {}
        if ssl:
            kw = {"ssl_certfile": str(ssl[0]), "ssl_keyfile": str(ssl[1])}
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="off",
                                                    timeout_graceful_shutdown=1, **kw))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the collector did not start")
            time.sleep(0.02)
        self.url = f"{'https' if ssl else 'http'}://{LOOPBACK}:{self.port}"

    def register(self, device_id: str, unit: str | list[str] = "Dinas Kominfo") -> str:
        """A kiosk of `unit` (or of several units); its token."""
        from server import service

        with self.engine.begin() as conn:
            return service.register_device(conn, device_id, units=[unit] if isinstance(unit, str) else unit).reveal()

    def hr_login(self, username: str = "hr-bkpsdm", password: str = "kata sandi rahasia 2026") -> tuple[str, str]:
        """Configure the HR login; the (username, password) pair for requests' auth=."""
        from server import hr_login

        with self.engine.begin() as conn:
            hr_login.set_password(conn, username, password)
        return username, password

    def revoke(self, device_id: str) -> None:
        from server import service

        with self.engine.begin() as conn:
            service.revoke_device(conn, device_id)

    def count(self, sql: str = "select count(*) from events", **params) -> int:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar_one()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.engine.dispose()


class PostgresCluster:
    """A throwaway PostgreSQL cluster on 127.0.0.1; `database()` makes a fresh database."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        data = self.dir / "data"
        self._run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--no-instructions", "--no-sync"])
        conf = (f"listen_addresses = '{LOOPBACK}'\nport = {self.port}\nunix_socket_directories = '{self.dir}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 100\n")
        with open(data / "postgresql.conf", "a") as f:
            f.write(conf)
        self._run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "log"), "-w", "-t", "60", "start"])
        self.data = data
        self.n = 0

    def _run(self, cmd: list[str]) -> None:
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode:
            log = (self.dir / "log").read_text() if (self.dir / "log").exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed: {r.stdout}{r.stderr}{log}")

    def database(self) -> str:
        import psycopg

        self.n += 1
        name = f"collector_{os.getpid()}_{self.n}"
        with psycopg.connect(f"host={LOOPBACK} port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        return f"postgresql+psycopg://postgres@{LOOPBACK}:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def postgres_bindir() -> Path | None:
    for cand in [os.environ.get("KIOSK_PG_BINDIR", ""), *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
        if cand and (Path(cand) / "initdb").exists() and (Path(cand) / "pg_ctl").exists():
            return Path(cand)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@pytest.fixture(scope="session")
def pg_cluster():
    bindir = postgres_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries not found; .ci/run installs the postgresql package")
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not installed: apt-get install postgresql")
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root but there is no 'postgres' user to run the cluster as")
    cluster = PostgresCluster(bindir)
    yield cluster
    cluster.stop()


def database_url(request, backend: str, folder: Path) -> str:
    """A fresh collector database: a SQLite file in `folder`, or a new database in the test
    session's PostgreSQL cluster."""
    if backend == "sqlite":
        return f"sqlite:///{folder / 'collector.db'}"
    return request.getfixturevalue("pg_cluster").database()


@pytest.fixture(params=["sqlite", "postgresql"])
def collector(request, tmp_path):
    """The collector on loopback, with SQLite and with PostgreSQL behind it."""
    c = Collector(database_url(request, request.param, tmp_path))
    yield c
    c.stop()


@pytest.fixture
def sqlite_collector(tmp_path):
    c = Collector(f"sqlite:///{tmp_path / 'collector.db'}")
    yield c
    c.stop()


# --- the fault-injecting proxy ---------------------------------------------------------------

class FaultProxy:
    """An HTTP proxy on loopback between kiosk and collector. Each request takes the next fault
    from `faults` (then `random_faults` with probability `fail_rate`, else it passes):

    refuse        the connection is closed with a reset before the request is read
    500           answers 500 without asking the server
    429:N         answers 429 with Retry-After: N
    stall         reads the request and says nothing for `stall_s` (past the client's timeout)
    reset         reads the headers only, then resets the connection mid-request
    drop_reply    forwards the request, the server commits, the reply is thrown away (reset)
    hold_reply    forwards the request, the server commits, the reply is held for `stall_s`
    malformed     answers 200 with a body that is not JSON
    bad_results   answers 200 with JSON without results
    `down()` stops listening (connection refused), `up()` listens again on the same port."""

    def __init__(self, upstream_port: int, seed: int = 1):
        self.upstream = (LOOPBACK, upstream_port)
        self.faults: collections.deque[str] = collections.deque()
        self.fail_rate = 0.0
        self.random_faults = ("500", "reset", "drop_reply")
        self.rng = random.Random(seed)
        self.stall_s = 3.0
        self.log: list[tuple[str, str, float]] = []  # (fault, request line, time.monotonic())
        self.port = free_port()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._closing = False
        self.up()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def up(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((LOOPBACK, self.port))
        s.listen(64)
        self._listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def down(self) -> None:
        s, self._listener = self._listener, None
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self._closing = True
        self.down()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _next_fault(self) -> str:
        with self._lock:
            if self.faults:
                return self.faults.popleft()
            if self.fail_rate and self.rng.random() < self.fail_rate:
                return self.rng.choice(self.random_faults)
            return "pass"

    @staticmethod
    def _reset(conn: socket.socket) -> None:
        import struct

        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        conn.close()

    @staticmethod
    def _read_request(conn: socket.socket) -> tuple[bytes, bytes] | None:
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            buf += chunk
        head, body = buf.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            body += chunk
        return head, body

    @staticmethod
    def _respond(conn: socket.socket, status: str, body: bytes, extra: str = "") -> None:
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                     f"Connection: close\r\n{extra}\r\n".encode() + body)

    def _handle(self, conn: socket.socket) -> None:
        try:
            fault = self._next_fault()
            if fault == "refuse":
                self.log.append((fault, "", time.monotonic()))
                self._reset(conn)
                return
            if fault == "reset":
                buf = b""
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
                self.log.append((fault, buf.split(b"\r\n", 1)[0].decode(errors="replace"), time.monotonic()))
                self._reset(conn)
                return
            req = self._read_request(conn)
            if req is None:
                conn.close()
                return
            head, body = req
            line = head.split(b"\r\n", 1)[0].decode(errors="replace")
            if fault != "hold_reply":
                self.log.append((fault, line, time.monotonic()))
            if fault == "500":
                self._respond(conn, "500 Internal Server Error", b'{"error":"boom"}')
            elif fault.startswith("429"):
                self._respond(conn, "429 Too Many Requests", b'{"error":"slow down"}',
                              f"Retry-After: {fault.partition(':')[2] or '1'}\r\n")
            elif fault == "stall":
                time.sleep(self.stall_s)
                self._reset(conn)
                return
            elif fault == "malformed":
                self._respond(conn, "200 OK", b'{"results": [{"id": "x", "status": "acc')
            elif fault == "bad_results":
                self._respond(conn, "200 OK", b'{"ok": true}')
            else:  # pass, drop_reply
                reply = self._forward(head, body)
                if fault == "drop_reply":
                    self._reset(conn)
                    return
                if fault == "hold_reply":
                    self.log.append((fault, line, time.monotonic()))  # the server has committed
                    time.sleep(self.stall_s)
                    self._reset(conn)
                    return
                conn.sendall(reply)
            conn.close()
        except OSError:
            conn.close()

    def _forward(self, head: bytes, body: bytes) -> bytes:
        lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"connection:")]
        lines.append(b"Connection: close")
        with socket.create_connection(self.upstream, timeout=30) as up:
            up.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
            chunks = []
            while True:
                chunk = up.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks)


# --- the kiosk side ------------------------------------------------------------------------

def fill_events(store, n: int, device_id: str, nips: tuple[str, ...] = (NIP,), start_ns: int = 0) -> list[str]:
    """n events of the given employees in one transaction (the rows record_event writes)."""
    from kiosk.store.db import utc_now

    store.upsert_employees([{"nip": nip, "name": f"Pegawai {nip[-4:]}", "unit": "Dinas Kominfo"} for nip in nips])
    ids, events, outbox = [], [], []
    now = utc_now()
    for i in range(n):
        eid = str(uuid.uuid4())
        minute = (start_ns + i) % 600
        ids.append(eid)
        events.append({
            "id": eid, "nip": nips[i % len(nips)], "kind": "masuk" if i % 2 == 0 else "pulang",
            "local_time": f"2026-11-24T{7 + minute // 60:02d}:{minute % 60:02d}:00+07:00",
            "utc_at": f"2026-11-24T{minute // 60:02d}:{minute % 60:02d}:00.000+00:00",
            "local_date": "2026-11-24", "work_date": "2026-11-24", "in_window": 1, "monotonic_ns": start_ns + i,
            "boot_id": "boot-1", "clock_synced": 1, "distance": 0.31, "margin": 0.2, "device_id": device_id,
            "created_at": now})
        outbox.append({"event_id": eid, "state": "pending", "attempts": 0, "queued_at": now})
    with store.transaction("fill test events") as db:
        db["attendance_events"].insert_all(events, batch_size=1000)
        db["outbox"].insert_all(outbox, batch_size=1000)
    return ids


def fast_settings(url: str, token_file: Path, **kw):
    from kiosk.upload import Settings

    base = {"url": url, "token_file": str(token_file), "batch_size": 50, "connect_timeout_s": 2.0,
            "timeout_s": 2.0, "interval_s": 0.1, "heartbeat_s": 3600.0, "roster_s": 3600.0,
            "backoff_base_s": 0.02, "backoff_max_s": 0.2}
    base.update(kw)
    return Settings(**base)


def write_token(path: Path, token: str) -> Path:
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path
