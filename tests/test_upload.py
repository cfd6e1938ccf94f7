"""The kiosk's uploader against the real collector on loopback: acknowledged batches, heartbeat,
roster push and pull between two kiosks, a revoked token, TLS with a government's own CA, and
`kiosk sync --once / --status`."""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from server_fixtures import NIP, Collector, FaultProxy, fast_settings, fill_events, write_token

from kiosk.store import Store
from kiosk.upload import Uploader, backoff_delay, retry_after_seconds


def uploader(store_path: Path, settings, device_id: str = "kiosk-01") -> Uploader:
    return Uploader(None, store_path, device_id=device_id, settings=settings, clock_synced=lambda: True)


def test_drain_acknowledges_every_event_and_heartbeat_says_how_far(collector, tmp_path):
    token = write_token(tmp_path / "token", collector.register("kiosk-01"))
    with Store(tmp_path / "k.db", device_id="kiosk-01") as store:
        ids = fill_events(store, 120, "kiosk-01")
        up = uploader(store.path, fast_settings(collector.url, token, heartbeat_s=0))
        assert up.round(store) == "ok"
        assert store.outbox_counts() == {"pending": 0, "in_flight": 0, "done": 120, "rejected": 0}
        newest, acked = store.newest_times()
    assert up.stats["batches"] == 3 and up.stats["accepted"] == 120
    st = up.status()
    assert st["state"] == "ok" and st["pending"] == 0 and st["last_success_at"] and st["last_error"] is None
    assert collector.count() == 120
    assert collector.count("select count(distinct id) from events") == 120
    assert collector.count("select count(*) from events where id = :i", i=ids[77]) == 1
    assert collector.count("select pending from devices") == 0
    assert collector.count("select count(*) from devices where newest_acked_at = :a and newest_recorded_at = :a",
                           a=acked) == 1 and acked == newest


def test_background_thread_sends_a_new_event_soon(sqlite_collector, tmp_path):
    c = sqlite_collector
    token = write_token(tmp_path / "token", c.register("kiosk-01"))
    store_path = tmp_path / "k.db"
    with Store(store_path, device_id="kiosk-01") as store:
        fill_events(store, 3, "kiosk-01")
        up = uploader(store_path, fast_settings(c.url, token, interval_s=30))
        up.start()
        try:
            deadline = time.monotonic() + 10
            while c.count() < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert c.count() == 3
            fill_events(store, 1, "kiosk-01", start_ns=100)
            up.notify()  # recorded: the uploader wakes up instead of waiting interval_s
            deadline = time.monotonic() + 5
            while c.count() < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert c.count() == 4
            for _ in range(100):
                if up.status()["pending"] == 0:
                    break
                time.sleep(0.05)
            assert up.status()["state"] == "ok" and up.status()["pending"] == 0
        finally:
            up.stop()


def test_revoked_token_stops_uploading_and_shows(sqlite_collector, tmp_path):
    c = sqlite_collector
    token_file = write_token(tmp_path / "token", c.register("kiosk-01"))
    proxy = FaultProxy(c.port)
    try:
        with Store(tmp_path / "k.db", device_id="kiosk-01") as store:
            fill_events(store, 10, "kiosk-01")
            c.revoke("kiosk-01")
            up = uploader(store.path, fast_settings(proxy.url, token_file))
            assert up.round(store) == "revoked"
            st = up.status()
            assert st["state"] == "revoked" and "revoked" in st["last_error"] and st["pending"] == 10
            token = token_file.read_text().strip()
            assert token not in json.dumps(st) and token not in repr(up.__dict__)
            sent = len(proxy.log)
            # a restart remembers: no request with the revoked token
            up2 = uploader(store.path, fast_settings(proxy.url, token_file))
            assert up2.round(store) == "revoked" and len(proxy.log) == sent
            assert store.outbox_counts()["pending"] == 10 and c.count() == 0
            # IT registers the kiosk again and the technician installs the new token: it resumes
            from server import service

            with c.engine.begin() as conn:
                new = service.register_device(conn, "kiosk-01", replace=True).reveal()
            write_token(token_file, new)
            assert up2.round(store) == "ok" and up2.status()["state"] == "ok"
            assert c.count() == 10
    finally:
        proxy.close()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=Pemda Test CA", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


def test_tls_verified_with_the_governments_ca_file(tmp_path):
    cert, key = _self_signed(tmp_path)
    c = Collector(f"sqlite:///{tmp_path / 'c.db'}", ssl=(cert, key))
    try:
        token = write_token(tmp_path / "token", c.register("kiosk-01"))
        with Store(tmp_path / "k.db", device_id="kiosk-01") as store:
            fill_events(store, 5, "kiosk-01")
            up = uploader(store.path, fast_settings(c.url, token))  # system CAs: not trusted
            assert up.round(store) == "failed"
            assert "not trusted" in up.status()["last_error"] and "ca_file" in up.status()["last_error"]
            assert c.count() == 0 and store.outbox_counts()["pending"] == 5
            up = uploader(store.path, fast_settings(c.url, token, ca_file=str(cert)))
            assert up.round(store) == "ok" and c.count() == 5
    finally:
        c.stop()



class _TunnelProxy:
    """A forward proxy on loopback that only tunnels (HTTP CONNECT), as an office's proxy does for
    HTTPS; it records what it was asked to connect to and every byte it relayed."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connects: list[str] = []
        self.relayed = bytearray()
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading

        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        import select
        import socket

        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                return conn.close()
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode()
        method, target, _ = line.split(" ", 2)
        if method != "CONNECT":
            conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return conn.close()
        self.connects.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        pair = {conn: upstream, upstream: conn}
        try:
            while True:
                ready, _, _ = select.select(list(pair), [], [], 5)
                if not ready:
                    break
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        raise ConnectionError
                    self.relayed += data
                    pair[s].sendall(data)
        except (ConnectionError, OSError):
            pass
        finally:
            conn.close()
            upstream.close()

    def close(self):
        self._stop = True
        self.sock.close()


def test_upload_through_the_offices_proxy(tmp_path):
    """[server] proxy: HTTPS to the collector is tunnelled through the proxy, the certificate is
    still verified, and the proxy never sees the token (it only relays TLS)."""
    cert, key = _self_signed(tmp_path)
    c = Collector(f"sqlite:///{tmp_path / 'c.db'}", ssl=(cert, key))
    proxy = _TunnelProxy()
    try:
        raw_token = c.register("kiosk-01")
        token = write_token(tmp_path / "token", raw_token)
        with Store(tmp_path / "k.db", device_id="kiosk-01") as store:
            fill_events(store, 7, "kiosk-01")
            via = f"http://127.0.0.1:{proxy.port}"
            up = uploader(store.path, fast_settings(c.url, token, proxy=via))  # system CAs only
            assert up.round(store) == "failed" and "not trusted" in up.status()["last_error"]
            up = uploader(store.path, fast_settings(c.url, token, ca_file=str(cert), proxy=via))
            assert up.round(store) == "ok" and c.count() == 7
        assert proxy.connects and set(proxy.connects) == {f"127.0.0.1:{c.port}"}
        assert raw_token.encode() not in proxy.relayed and b"Authorization" not in proxy.relayed
    finally:
        proxy.close()
        c.stop()


def test_enrolled_at_one_kiosk_recognised_at_another(collector, tmp_path, enrolled, encodings):
    """Kiosk A enrolled Obama and Biden from photos; kiosk B of Obama's unit gets his templates
    from the server and identifies him from a photo A never used."""
    from kiosk.loop import load_gallery
    from server_fixtures import fast_settings as fs

    ta = write_token(tmp_path / "ta", collector.register("kiosk-a", unit="Dinas Kominfo"))
    tb = write_token(tmp_path / "tb", collector.register("kiosk-b", unit="Dinas Kominfo"))
    a = uploader(enrolled.path, fs(collector.url, ta), "kiosk-a")
    fill_events(enrolled, 3, "kiosk-a")
    assert a.round(enrolled) == "ok"
    # Biden is in BKPSDM (the roster file), not one of kiosk A's units: his face is refused, the
    # rest is stored, the events went up all the same, and the refusal is there to see
    assert collector.count("select count(*) from templates") == 2 and collector.count() == 3
    refused = enrolled.refused_templates()
    assert [r["nip"] for r in refused] == ["196211201990031002"] and "BKPSDM" in refused[0]["reason"]
    assert a.status()["refused_templates"] == 1 and a.status()["roster_error"] is None
    assert a.round(enrolled) == "ok" and collector.count("select count(*) from templates") == 2  # not re-sent
    # IT lets kiosk A serve BKPSDM too; `kiosk sync --once` sends what was refused again
    from server import service

    with collector.engine.begin() as conn:
        service.set_device_units(conn, "kiosk-a", ["Dinas Kominfo", "BKPSDM"])
    assert enrolled.retry_refused_templates() == 1
    assert a.round(enrolled) == "ok" and enrolled.refused_templates() == []
    assert collector.count("select count(*) from templates") == 3
    with Store(tmp_path / "b.db", device_id="kiosk-b") as b_store:
        b = uploader(b_store.path, fs(collector.url, tb, roster_s=0), "kiosk-b")
        assert b.round(b_store) == "ok"
        # Obama works in Dinas Kominfo, Biden in BKPSDM (the roster file): B gets Obama only
        assert {e["nip"]: e["templates"] for e in b_store.employees()} == {"198501012010011001": 2}
        m = load_gallery(b_store).match(encodings["obama3.jpg"])
        assert m.employee_id == "198501012010011001" and m.distance < 0.45
        assert b.round(b_store) == "ok" and len(b_store.template_rows()) == 2  # nothing twice
        # HR deactivates Obama on the server: B forgets his face
        from server import service

        with collector.engine.begin() as conn:
            service.deactivate_employee(conn, "198501012010011001")
        assert b.round(b_store) == "ok"
        assert b_store.template_rows() == []
        assert b_store.employee("198501012010011001")["active"] == 0
    # A does not push its templates again
    assert a.round(enrolled) == "ok" and collector.count("select count(*) from templates") == 3


def test_a_lookalike_hold_made_at_one_kiosk_holds_at_the_units_other_kiosks(collector, tmp_path, enrolled, cfg,
                                                                             faces, encodings):
    """Kiosk A refused a person as Obama's duplicate (a look-alike hold); kiosk B of Obama's unit
    gets Obama's face from the server and must not record that person as Obama either. When HR
    at A removes the hold, B drops it too."""
    from enroll.batch import enroll_photos
    from enroll.photos import scan_folder
    from kiosk.loop import load_gallery
    from server_fixtures import fast_settings as fs

    held_nip = "190612091930122003"
    (tmp_path / "more" / held_nip).mkdir(parents=True)
    (tmp_path / "more" / held_nip / "h.jpg").write_bytes((faces / "obama3.jpg").read_bytes())
    assert enroll_photos(enrolled, scan_folder(tmp_path / "more", cfg.enroll.nip_pattern), cfg,
                         workers=1).held == {held_nip: [NIP]}
    ta = write_token(tmp_path / "ta", collector.register("kiosk-a", unit="Dinas Kominfo"))
    tb = write_token(tmp_path / "tb", collector.register("kiosk-b", unit="Dinas Kominfo"))
    a = uploader(enrolled.path, fs(collector.url, ta), "kiosk-a")
    assert a.round(enrolled) == "ok" and enrolled.holds_to_push() == []
    assert collector.count("select count(*) from lookalike_holds") == 1
    rc = cfg.recognition
    with Store(tmp_path / "b.db", device_id="kiosk-b") as b_store:
        b = uploader(b_store.path, fs(collector.url, tb, roster_s=0), "kiosk-b")
        assert b.round(b_store) == "ok"
        assert [(h["nip"], h["resembles"], h["in_force"]) for h in b_store.hold_rows()] == [(held_nip, NIP, 1)]
        m = load_gallery(b_store, rc).match(encodings["obama3.jpg"])
        assert not m.accepted(rc.threshold, rc.margin) and m.reason(rc.threshold, rc.margin) == "lookalike"
        assert b.round(b_store) == "ok" and b_store.holds_to_push() == []  # B does not send it back
        # HR at A: it was Obama after all
        with enrolled.transaction("unhold") as db:
            assert enrolled.remove_holds([held_nip], db) == 1
        assert a.round(enrolled) == "ok" and b.round(b_store) == "ok"
        assert b_store.hold_rows() == []
        m = load_gallery(b_store, rc).match(encodings["obama3.jpg"])
        assert m.accepted(rc.threshold, rc.margin) and m.employee_id == NIP
    assert collector.count("select count(*) from lookalike_holds where deleted") == 1


def test_a_bad_roster_page_changes_nothing(tmp_path):
    enc = base64.b64encode(np.zeros(128, "<f4").tobytes()).decode()
    page = {"version": 9, "more": False,
            "employees": [{"nip": NIP, "name": "A", "unit": "U", "active": True, "schedule": None}],
            "templates": [{"uid": str(uuid.uuid4()), "nip": NIP, "encoding": enc, "model_version": "m"},
                          {"uid": str(uuid.uuid4()), "nip": NIP, "encoding": "AAAA", "model_version": "m"}]}
    with Store(tmp_path / "k.db") as store:
        with pytest.raises(ValueError, match="512 bytes"):
            store.apply_roster(page)
        assert store.employees() == [] and store.template_rows() == [] and store.sync_get("roster_version") is None
        page["templates"].pop()
        page["holds"] = [{"uid": str(uuid.uuid4()), "nip": "199001012020011009", "resembles": NIP, "deleted": False,
                          "version": 9, "encoding": enc}]  # no model_version: refused whole
        with pytest.raises(KeyError, match="without model_version"):
            store.apply_roster(page)
        assert store.employees() == [] and store.hold_rows() == []
        page["holds"][0]["model_version"] = "m"
        store.apply_roster(page)
        assert len(store.template_rows()) == 1 and store.sync_get("roster_version") == "9"
        assert [h["nip"] for h in store.hold_rows()] == ["199001012020011009"]


def test_backoff_grows_with_jitter_and_honours_retry_after():
    import random

    rng = random.Random(4)
    d = [backoff_delay(n, 1.0, 300.0, rng=rng) for n in range(1, 12)]
    assert 0.5 <= d[0] <= 1.0 and 4 <= d[3] <= 8 and all(150 <= x <= 300 for x in d[9:])
    assert len({round(backoff_delay(3, 1.0, 300.0, rng=rng), 6) for _ in range(20)}) == 20  # jittered
    assert backoff_delay(1, 1.0, 300.0, retry_after=120, rng=rng) == 120
    assert retry_after_seconds("7") == 7 and retry_after_seconds("soon") is None
    assert 55 < retry_after_seconds(time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                  time.gmtime(time.time() + 60))) <= 61


def _sync(cfg_path: Path, *argv: str) -> tuple[int, dict]:
    import contextlib
    import io

    from kiosk.config import load_config
    from kiosk.upload import add_commands

    p = argparse.ArgumentParser()
    add_commands(p.add_subparsers(dest="command"))
    args = p.parse_args(["sync", *argv, "--json"])
    cfg = load_config(cfg_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = args.func(args, cfg, lambda create=True: Store(cfg.db_path, device_id=cfg.device.id, create=create))
    return rc, json.loads(out.getvalue())


def test_kiosk_sync_once_and_status(sqlite_collector, tmp_path):
    c = sqlite_collector
    write_token(tmp_path / "device.token", c.register("kiosk-01"))
    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text('[store]\ndata_dir = "data"\n[server]\nurl = "%s"\ntoken_file = "device.token"\n'
                        'batch_size = 40\n' % c.url, encoding="utf-8")
    with Store(tmp_path / "data" / "kiosk.db", device_id="kiosk-01") as store:
        fill_events(store, 100, "kiosk-01")
    rc, st = _sync(cfg_path, "--status")
    assert rc == 0 and st["pending"] == 100 and st["state"] == "configured"
    rc, out = _sync(cfg_path, "--once")
    assert rc == 0 and out["result"] == "ok" and out["accepted"] == 100 and out["sent_batches"] == 3
    assert c.count() == 100
    rc, st = _sync(cfg_path, "--status")
    assert st["pending"] == 0 and st["done"] == 100 and st["newest_acked_at"] == st["newest_recorded_at"]
    c.revoke("kiosk-01")
    with Store(tmp_path / "data" / "kiosk.db", device_id="kiosk-01") as store:
        fill_events(store, 1, "kiosk-01", start_ns=500)
    rc, out = _sync(cfg_path, "--once")
    assert rc == 1 and out["state"] == "revoked" and out["pending"] == 1
    rc, st = _sync(cfg_path, "--status")
    assert st["state"] == "revoked" and "revoked" in st["token_error"]
    (tmp_path / "device.token").unlink()
    rc, out = _sync(cfg_path, "--once")
    assert rc == 2 and "device.token" in out["error"] and "cannot be read" in out["error"]


def test_a_correction_reaches_the_collector_which_counts_the_corrected_kind(sqlite_collector, tmp_path):
    """An employee's switch MASUK -> PULANG on the card goes up as its own event naming the one it
    corrects; the collector keeps both and its daily report counts the correction."""
    import datetime as dt

    from server import reports

    c = sqlite_collector
    token = write_token(tmp_path / "token", c.register("kiosk-01", unit="Dinas Kominfo"))
    with Store(tmp_path / "k.db", device_id="kiosk-01") as store:
        (original,) = fill_events(store, 1, "kiosk-01", start_ns=380)  # a masuk at 13:20
        fixed = store.record_correction(original, "employee", actor="employee")
        assert [e["kind"] for e in store.events()] == ["masuk", "pulang"]
        up = uploader(store.path, fast_settings(c.url, token))
        assert up.round(store) == "ok" and store.outbox_counts()["done"] == 2
    assert c.count("select count(*) from events where corrects = :o and correction_source = 'employee' "
                   "and kind = 'pulang' and id = :f", o=original, f=fixed["id"]) == 1
    assert c.count("select count(*) from events where id = :o and kind = 'masuk'", o=original) == 1  # kept
    from server import service

    from sqlalchemy import insert

    from server.db import employees

    since = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    with c.engine.begin() as conn:  # HR's roster at the collector
        conn.execute(insert(employees).values(nip=NIP, name="Pegawai", unit="Dinas Kominfo", active=True,
                                              version=service.next_version(conn), created_at=since, updated_at=since))
    settings = c.app.state.settings
    with c.engine.connect() as conn:
        days = reports.compute(conn, settings, dt.date(2026, 11, 24), dt.date(2026, 11, 24),
                               dt.datetime(2026, 11, 24, 20, 0, tzinfo=settings.rules.tz))
    (day,) = [d.result for d in days if d.result.nip == NIP]
    assert day.masuk is None and day.pulang.strftime("%H:%M") == "13:20" and day.corrected


@pytest.mark.parametrize("bad, reason", [
    ({"corrects": "not-a-uuid", "correction_source": "employee"}, "corrects: is not a UUID"),
    ({"corrects": str(uuid.uuid4()), "correction_source": "robot"}, "correction_source: "),
    ({"correction_source": "employee"}, "corrects and correction_source come together"),
])
def test_the_collector_rejects_a_malformed_correction_by_name(sqlite_collector, tmp_path, bad, reason):
    c = sqlite_collector
    token = write_token(tmp_path / "token", c.register("kiosk-01"))
    with Store(tmp_path / "k.db", device_id="kiosk-01") as store:
        (eid,) = fill_events(store, 1, "kiosk-01")
        store.db.execute("update attendance_events set corrects = ?, correction_source = ? where id = ?",
                         [bad.get("corrects"), bad.get("correction_source"), eid])
        up = uploader(store.path, fast_settings(c.url, token))
        assert up.round(store) == "ok"
        (row,) = store.outbox_rejected()
        assert reason in row["last_error"]
