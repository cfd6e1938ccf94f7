"""The SQLite store: durable settings, migrations, one transaction per write, clear failures."""

import sqlite3

import numpy as np
import pytest

from kiosk.store import Store, StoreError
from kiosk.store import db as dbmod
from kiosk.store.migrations import migrations


def event(nip, eid="e1", kind="masuk"):
    return {"id": eid, "nip": nip, "kind": kind, "local_time": "2026-11-24T07:12:03+07:00",
            "utc_at": "2026-11-24T00:12:03.000+00:00", "local_date": "2026-11-24", "work_date": "2026-11-24",
            "in_window": 1, "monotonic_ns": 1,
            "boot_id": "b", "clock_synced": 0, "distance": 0.3, "margin": 0.2, "device_id": "k1"}


def test_schema_wal_full_sync_and_migrations(tmp_path):
    with Store(tmp_path / "k.db") as s:
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert s.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert {"employees", "face_templates", "attendance_events", "outbox", "audit_log"} <= set(s.db.table_names())
        assert [m.name for m in migrations.applied(s.db)] == ["m001_initial", "m002_rules", "m003_admin", "m004_upload",
                                                              "m005_liveness", "m006_gallery_version",
                                                              "m007_corrections", "m008_admin_accounts",
                                                              "m009_lookalike_holds"]
    with Store(tmp_path / "k.db") as s:  # reopening applies nothing twice
        assert len(migrations.applied(s.db)) == 9


def test_event_and_outbox_are_written_together(tmp_path):
    with Store(tmp_path / "k.db") as s:
        s.upsert_employees([{"nip": "198501012010011001", "name": "A"}])
        s.record_event(event("198501012010011001"))
        assert s.pending_uploads() == 1 and len(s.events("2026-11-24", "2026-11-24")) == 1
        # an event for an unknown employee fails as a whole: no event, no outbox row
        with pytest.raises(StoreError):
            s.record_event(event("999", eid="e2"))
        assert s.db["attendance_events"].count == 1 and s.db["outbox"].count == 1


def test_a_copy_of_the_database_file_alone_has_every_event_after_close(tmp_path):
    """A technician copies kiosk.db off a dead kiosk's card and may leave kiosk.db-wal behind."""
    import shutil

    other = None
    with Store(tmp_path / "k.db") as s:
        other = sqlite3.connect(tmp_path / "k.db")  # another process's connection, still open
        other.execute("select count(*) from employees").fetchone()
        s.upsert_employees([{"nip": "198501012010011001", "name": "A"}])
        s.record_event(event("198501012010011001"))
    shutil.copy(tmp_path / "k.db", tmp_path / "copy.db")  # the main file only
    other.close()
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("select nip, kind from attendance_events").fetchall() == [("198501012010011001", "masuk")]


def test_templates_round_trip_as_float32(tmp_path):
    from kiosk.store.db import TemplateRow

    enc = np.random.default_rng(1).normal(size=128).astype(np.float32)
    with Store(tmp_path / "k.db") as s:
        with s.transaction("t") as db:
            s.upsert_employees([{"nip": "1"}, {"nip": "2", "active": 0}], db=db)
            s.add_templates([TemplateRow("1", enc, 1.0, "x", "v1"), TemplateRow("2", enc, 1.0, "x", "v1")], db)
        mat, nips = s.templates("v1")
        assert nips == ["1"] and np.array_equal(mat[0], enc)  # inactive employees are not matched
        assert s.templates("v2")[1] == []  # another encoder's templates are never mixed in


def test_corrupt_database_is_named(tmp_path):
    p = tmp_path / "k.db"
    p.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=rf"{p}: database file is corrupt"):
        Store(p)


def test_locked_database_fails_cleanly(tmp_path, monkeypatch):
    p = tmp_path / "k.db"
    with Store(p) as s:
        s.upsert_employees([{"nip": "1"}])
    monkeypatch.setattr(dbmod, "BUSY_TIMEOUT_MS", 200)
    other = sqlite3.connect(p, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        s = Store(p)
        with pytest.raises(StoreError, match=rf"{p}: database is locked by another process.*nothing was written"):
            s.remove_templates("1", actor="test")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert s.audit_rows() == []  # the failed removal left no audit entry either


def test_full_disk_is_named_and_nothing_is_half_written(tmp_path):
    with Store(tmp_path / "k.db") as s:
        s.upsert_employees([{"nip": "198501012010011001", "name": "A"}])
        pages = s.db.execute("PRAGMA page_count").fetchone()[0]
        s.db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own 'database or disk is full'
        big = {**event("198501012010011001", eid="e-big"), "boot_id": "x" * 20000}
        with pytest.raises(StoreError, match=rf"{tmp_path / 'k.db'}: disk is full .*nothing was written"):
            s.record_event(big)
        assert s.db["attendance_events"].count == 0 and s.db["outbox"].count == 0


def test_old_personal_photos_are_purged(tmp_path):
    import os
    import time

    from kiosk.fileio import purge_older_than

    (tmp_path / "photos" / "1").mkdir(parents=True)
    old, new = tmp_path / "photos" / "1" / "old.jpg", tmp_path / "photos" / "1" / "new.jpg"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    os.utime(old, (time.time() - 40 * 86400,) * 2)
    assert purge_older_than(tmp_path / "photos", 30) == 1
    assert not old.exists() and new.exists()
