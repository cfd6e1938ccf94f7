"""Faults between kiosk and collector (a proxy on loopback injects them), then: the server holds
every event exactly once (counted), the kiosk's outbox is empty, nothing was lost or doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from server_fixtures import FaultProxy, fast_settings, fill_events, write_token

from kiosk.store import Store
from kiosk.upload import Uploader


def run_until_drained(up: Uploader, store: Store, timeout: float = 30.0) -> None:
    up.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            c = store.outbox_counts()
            if c["pending"] == 0 and c["in_flight"] == 0:
                return
            time.sleep(0.05)
        raise AssertionError(f"not drained in {timeout} s: {store.outbox_counts()}, {up.status()}")
    finally:
        up.stop()


def assert_exactly_once(collector, ids: list[str]) -> None:
    assert collector.count() == len(ids)
    assert collector.count("select count(distinct id) from events") == len(ids)
    from sqlalchemy import text

    with collector.engine.connect() as conn:
        stored = {r[0] for r in conn.execute(text("select id from events"))}
    assert stored == set(ids)


def test_every_fault_then_exactly_once(collector, tmp_path, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    token = write_token(tmp_path / "token", collector.register("kiosk-01"))
    proxy = FaultProxy(collector.port)
    proxy.stall_s = 3.0  # past the uploader's 2 s timeout
    proxy.faults.extend(["500", "429:1", "stall", "reset", "drop_reply", "malformed", "bad_results", "refuse"])
    try:
        with Store(tmp_path / "k.db", device_id="kiosk-01") as store:
            ids = fill_events(store, 300, "kiosk-01")
            up = Uploader(None, store.path, device_id="kiosk-01", clock_synced=lambda: True,
                          settings=fast_settings(proxy.url, token))
            run_until_drained(up, store)
            assert store.outbox_counts() == {"pending": 0, "in_flight": 0, "done": 300, "rejected": 0}
        assert_exactly_once(collector, ids)
        faults = [f for f, _, _ in proxy.log]
        assert faults[:8] == ["500", "429:1", "stall", "reset", "drop_reply", "malformed", "bad_results", "refuse"]
        # the batch whose reply was lost came back as duplicates, not as a second record
        assert up.stats["duplicate"] == 50 and up.stats["accepted"] == 250  # its first reply was lost
        # Retry-After: 1 was honoured
        t429 = next(t for f, _, t in proxy.log if f.startswith("429"))
        after = next(t for f, _, t in proxy.log if t > t429)
        assert after - t429 >= 1.0
        assert up.status()["state"] == "ok" and up.status()["last_error"] is None
        assert "HTTP 500" in caplog.text and token.read_text().strip() not in caplog.text  # never logged
    finally:
        proxy.close()


def test_server_down_for_a_while_kiosk_keeps_recording(sqlite_collector, tmp_path):
    c = sqlite_collector
    token = write_token(tmp_path / "token", c.register("kiosk-01"))
    proxy = FaultProxy(c.port)
    proxy.down()  # connection refused
    try:
        with Store(tmp_path / "k.db", device_id="kiosk-01") as store:
            ids = fill_events(store, 40, "kiosk-01")
            up = Uploader(None, store.path, device_id="kiosk-01", clock_synced=lambda: True,
                          settings=fast_settings(proxy.url, token))
            up.start()
            try:
                time.sleep(1.0)
                st = up.status()
                assert st["state"] == "offline" and "cannot connect" in st["last_error"] and st["pending"] == 40
                assert up.failures >= 2  # it kept trying, backing off
                ids += fill_events(store, 25, "kiosk-01", start_ns=1000)  # the office works on
                # a corrupted row the server refuses: kept with its reason, never re-sent
                store.db.execute("update attendance_events set kind = 'lunch' where id = ?", [ids[-1]])
                proxy.up()
                deadline = time.monotonic() + 20
                while store.outbox_counts()["done"] < 64 and time.monotonic() < deadline:
                    time.sleep(0.05)
            finally:
                up.stop()
            assert store.outbox_counts() == {"pending": 0, "in_flight": 0, "done": 64, "rejected": 1}
            assert "kind: Input should be 'masuk'" in store.outbox_rejected()[0]["last_error"]
            assert up.status()["rejected"] == 1
        assert_exactly_once(c, ids[:-1])
    finally:
        proxy.close()


CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from kiosk.store import Store
    from kiosk.upload import Settings, Uploader

    db, url, token = sys.argv[1:4]
    s = Settings(url=url, token_file=token, batch_size=50, timeout_s=120, heartbeat_s=1e9, roster_s=1e9)
    store = Store(db, device_id="kiosk-01")
    print("round", Uploader(None, Path(db), device_id="kiosk-01", settings=s, clock_synced=lambda: True).round(store),
          flush=True)
""")


def test_kiosk_killed_mid_batch_loses_and_doubles_nothing(collector, tmp_path):
    """The kiosk process dies (power cut) after the server committed a batch and before the
    reply arrived: at restart the batch is sent again and comes back as duplicate."""
    token = write_token(tmp_path / "token", collector.register("kiosk-01"))
    proxy = FaultProxy(collector.port)
    proxy.stall_s = 60
    proxy.faults.extend(["pass", "hold_reply"])
    try:
        db = tmp_path / "k.db"
        with Store(db, device_id="kiosk-01") as store:
            ids = fill_events(store, 300, "kiosk-01")
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), proxy.url, str(token)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not any(f == "hold_reply" for f, _, _ in proxy.log):
            assert time.monotonic() < deadline and child.poll() is None, child.communicate()
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        assert collector.count() == 100  # two batches committed on the server
        with Store(db, device_id="kiosk-01") as store:
            assert store.outbox_counts() == {"pending": 200, "in_flight": 50, "done": 50, "rejected": 0}
            up = Uploader(None, db, device_id="kiosk-01", clock_synced=lambda: True,
                          settings=fast_settings(proxy.url, token))
            run_until_drained(up, store)  # the restarted kiosk
            assert store.outbox_counts() == {"pending": 0, "in_flight": 0, "done": 300, "rejected": 0}
        assert up.stats["duplicate"] == 50 and up.stats["accepted"] == 200
        assert_exactly_once(collector, ids)
    finally:
        proxy.close()


def test_thirty_percent_of_requests_failing_at_random(collector, tmp_path):
    token = write_token(tmp_path / "token", collector.register("kiosk-01"))
    proxy = FaultProxy(collector.port, seed=7)
    proxy.fail_rate = 0.3
    proxy.random_faults = ("500", "reset", "drop_reply", "malformed", "429:0", "refuse")
    proxy.faults.append("drop_reply")  # at least one reply lost after the commit
    try:
        with Store(tmp_path / "k.db", device_id="kiosk-01") as store:
            ids = fill_events(store, 1000, "kiosk-01")
            up = Uploader(None, store.path, device_id="kiosk-01", clock_synced=lambda: True,
                          settings=fast_settings(proxy.url, token, batch_size=25, backoff_base_s=0.05,
                                                backoff_max_s=30.0))  # must restart from the base after progress
            run_until_drained(up, store, timeout=60)
        failed = sum(f != "pass" for f, _, _ in proxy.log)
        assert failed >= 10 and up.stats["duplicate"] >= 25
        assert_exactly_once(collector, ids)
    finally:
        proxy.close()
