"""Batch enrollment from HR's folders: real faces, every bad input named, nothing half-written."""

import json
import os
import sqlite3

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import BIDEN, HOPPER, OBAMA, run_kiosk, side_by_side
from enroll.batch import enroll_photos
from enroll.photos import EnrollInputError, read_roster, scan_folder
from enroll.templates import export_templates, import_templates
from kiosk.imageio import load_rgb
from kiosk.store import Store, StoreError
from kiosk.store import db as dbmod

PATTERN = "^[0-9]{18}$"


def test_enroll_reports_every_refused_photo_with_its_reason(cfg, photo_root, roster, faces, tmp_path):
    o = photo_root / OBAMA
    (o / "notes.txt").write_text("not a photo")
    (o / "cat.png").write_bytes((faces / "chelsea.png").read_bytes())
    Image.open(faces / "obama3.jpg").convert("CMYK").save(o / "cmyk.jpg")
    cv2.imwrite(str(photo_root / BIDEN / "group.jpg"),
                cv2.cvtColor(side_by_side(load_rgb(faces / "obama.jpg"), load_rgb(faces / "biden.jpg")), cv2.COLOR_RGB2BGR))
    small = cv2.resize(load_rgb(faces / "biden.jpg"), None, fx=0.3, fy=0.3)
    cv2.imwrite(str(photo_root / BIDEN / "far.jpg"), cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    (o / "broken.jpg").write_bytes((faces / "obama.jpg").read_bytes()[:5000])
    (photo_root / "12345").mkdir()
    (photo_root / "12345" / "x.jpg").write_bytes((faces / "obama.jpg").read_bytes())

    with Store(cfg.db_path) as store:
        report = enroll_photos(store, scan_folder(photo_root, PATTERN), cfg,
                               roster=read_roster(roster, PATTERN), workers=2)
        reasons = {os.path.basename(item): reason for item, reason in report.refused}
        assert report.enrolled == {OBAMA: 3, BIDEN: 1}  # the CMYK photo counts
        assert reasons["notes.txt"].startswith("not an image file (.txt)")
        assert reasons["cat.png"].startswith("no_face")
        assert reasons["group.jpg"].startswith("several_faces: 2 faces")
        assert reasons["far.jpg"].startswith("too_small")
        assert reasons["broken.jpg"].startswith("unreadable")
        assert "does not match" in reasons["12345"]
        rows = {e["nip"]: e for e in store.employees()}
        assert rows[OBAMA]["templates"] == 3 and rows[OBAMA]["name"] == "Barack Obama"
        assert rows[BIDEN]["unit"] == "BKPSDM"
        (audit,) = store.audit_rows()
        assert audit["action"] == "enroll_photos" and json.loads(audit["detail"])["templates"] == 4


def test_a_face_of_another_employee_is_refused_unless_forced(enrolled, cfg, faces, tmp_path):
    root = tmp_path / "more"
    (root / HOPPER).mkdir(parents=True)
    (root / HOPPER / "wrong.jpg").write_bytes((faces / "obama3.jpg").read_bytes())  # Obama's face!
    (root / HOPPER / "hopper.jpg").write_bytes((faces / "grace_hopper.jpg").read_bytes())
    report = enroll_photos(enrolled, scan_folder(root, PATTERN), cfg, workers=1)
    (item, reason), = report.refused
    assert item.endswith("wrong.jpg") and f"matches employee {OBAMA}" in reason
    assert report.enrolled == {HOPPER: 1}
    forced = enroll_photos(enrolled, scan_folder(root, PATTERN), cfg, force=True, workers=1)
    assert forced.enrolled == {HOPPER: 2}


def test_roster_errors_name_file_and_line(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text(f"NIP;name;unit\n{OBAMA};A;X\n{BIDEN};B;Y\n{OBAMA};C;Z\n")  # Excel-style ';'
    with pytest.raises(EnrollInputError, match=rf"r\.csv:4: NIP {OBAMA} is listed twice \(first on line 2\)"):
        read_roster(p, PATTERN)
    p.write_text(f"NIP,name\n{OBAMA},A\n1985-0101 2010,B\n")
    with pytest.raises(EnrollInputError, match=r"r\.csv:3: employee id '1985-0101 2010' contains spaces"):
        read_roster(p, PATTERN)
    p.write_text("NIP,name\n19850101201001100X,A\n")
    with pytest.raises(EnrollInputError, match=r"r\.csv:2: .*does not match"):
        read_roster(p, PATTERN)
    p.write_text("nomor,nama\n1,2\n")
    with pytest.raises(EnrollInputError, match=r"r\.csv:1: header must name"):
        read_roster(p, PATTERN)


def test_folder_errors(tmp_path):
    with pytest.raises(EnrollInputError, match="no employee folders"):
        scan_folder(tmp_path, PATTERN)
    with pytest.raises(EnrollInputError, match="folder not found"):
        scan_folder(tmp_path / "nope", PATTERN)
    (tmp_path / OBAMA).mkdir()
    assert scan_folder(tmp_path, PATTERN).refused == [(str(tmp_path / OBAMA), "folder holds no photos")]


def test_locked_database_writes_nothing(cfg, photo_root, monkeypatch):
    Store(cfg.db_path).close()
    monkeypatch.setattr(dbmod, "BUSY_TIMEOUT_MS", 200)
    other = sqlite3.connect(cfg.db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with Store(cfg.db_path) as store:
            with pytest.raises(StoreError, match="locked by another process"):
                enroll_photos(store, scan_folder(photo_root, PATTERN), cfg, workers=1)
    finally:
        other.execute("ROLLBACK")
        other.close()
    with Store(cfg.db_path) as store:
        assert store.employees() == [] and store.audit_rows() == []


def test_export_import_round_trip(enrolled, cfg, tmp_path):
    out = tmp_path / "templates.json"
    assert export_templates(enrolled, out) == 3
    assert oct(out.stat().st_mode & 0o777) == "0o600"  # biometric data: owner only
    fresh = Store(tmp_path / "other.db")
    assert import_templates(fresh, out, PATTERN) == (2, 3)
    assert import_templates(fresh, out, PATTERN) == (2, 0)  # nothing duplicated
    a, an = enrolled.templates("dlib_resnet_v1")
    b, bn = fresh.templates("dlib_resnet_v1")
    assert sorted(an) == sorted(bn) and np.allclose(np.sort(a, axis=0), np.sort(b, axis=0))
    assert [r["action"] for r in enrolled.audit_rows()][-1] == "export_templates"
    doc = json.loads(out.read_text())
    doc["employees"][0]["templates"][0]["encoding"] = "AAAA"
    out.write_text(json.dumps(doc))
    with pytest.raises(EnrollInputError, match=rf"employee {BIDEN}, templates\[0\]: bad encoding"):
        import_templates(fresh, out, PATTERN)


def test_cli_enroll_list_remove(tmp_path, photo_root, roster):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[store]\ndata_dir = "data"\n')
    r = run_kiosk("--config", str(cfg), "enroll", str(photo_root), "--roster", str(roster), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "enrolled 2 employee(s) with 3 template(s)" in r.stdout
    assert "analysed 3/3 photos" in r.stderr  # progress
    r = run_kiosk("--config", str(cfg), "templates", "list", "--json", cwd=tmp_path)
    assert {e["nip"]: e["templates"] for e in json.loads(r.stdout)} == {OBAMA: 2, BIDEN: 1}
    r = run_kiosk("--config", str(cfg), "templates", "remove", BIDEN, cwd=tmp_path)
    assert "removed 1 template(s)" in r.stdout
    r = run_kiosk("--config", str(cfg), "templates", "remove", "000000000000000000", cwd=tmp_path)
    assert r.returncode == 2 and "not in the database" in r.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text(f"NIP,name\n{OBAMA},A\n{OBAMA},B\n")
    r = run_kiosk("--config", str(cfg), "enroll", str(photo_root), "--roster", str(bad), cwd=tmp_path)
    assert r.returncode == 2 and "bad.csv:3: NIP" in r.stderr
