"""Batch enrollment from HR's folders: real faces, every bad input named, nothing half-written."""

import io
import json
import os
import re
import sqlite3

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import BIDEN, HOPPER, OBAMA, run_kiosk, side_by_side
from enroll.batch import Forced, enroll_photos, progress_bar
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
    small = cv2.resize(load_rgb(faces / "biden.jpg"), None, fx=0.2, fy=0.2)  # eyes about 17 px apart
    cv2.imwrite(str(photo_root / BIDEN / "far.jpg"), cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    (o / "broken.jpg").write_bytes((faces / "obama.jpg").read_bytes()[:5000])
    (photo_root / "12345").mkdir()
    (photo_root / "12345" / "x.jpg").write_bytes((faces / "obama.jpg").read_bytes())

    cfg.values["recognition"]["min_eye_px"] = 30.0  # this unit wants larger faces in its photos
    with Store(cfg.db_path) as store:
        report = enroll_photos(store, scan_folder(photo_root, PATTERN), cfg,
                               roster=read_roster(roster, PATTERN), workers=2)
        reasons = {os.path.basename(item): reason for item, reason in report.refused}
        assert report.enrolled == {OBAMA: 3, BIDEN: 1}, report  # the CMYK photo counts
        assert reasons["notes.txt"].startswith("not an image file (.txt)")
        assert reasons["cat.png"].startswith("no_face")
        assert reasons["group.jpg"].startswith("several_faces: 2 faces of similar size")
        assert re.match(r"too_small: face too small in the photo \(\d+ px wide, eyes \d+ px apart; at least 30 px "
                        r"needed\)", reasons["far.jpg"]), reasons["far.jpg"]
        assert reasons["broken.jpg"].startswith("unreadable")
        assert "does not match" in reasons["12345"]
        rows = {e["nip"]: e for e in store.employees()}
        assert rows[OBAMA]["templates"] == 3 and rows[OBAMA]["name"] == "Barack Obama"
        assert rows[BIDEN]["unit"] == "BKPSDM"
        (audit,) = store.audit_rows()
        assert audit["action"] == "enroll_photos" and json.loads(audit["detail"])["templates"] == 4


def test_enrollment_stores_jittered_templates(enrolled, faces, analyzer):
    # what `kiosk enroll` stores is the jittered template of the photo, not a probe's encoding
    rows = enrolled.template_rows(OBAMA)
    stored = {r["source"].rsplit("/", 1)[-1]: np.frombuffer(r["encoding"], "<f4") for r in rows}
    img = load_rgb(faces / "obama.jpg")
    template = analyzer.analyze(img, single=True, template=True).encoding
    assert np.allclose(stored["obama.jpg"], template, atol=1e-6)
    assert not np.allclose(stored["obama.jpg"], analyzer.analyze(img).encoding, atol=1e-3)


def test_a_face_of_another_employee_is_refused_naming_them_unless_that_photo_is_forced(enrolled, cfg, faces,
                                                                                     tmp_path):
    root = tmp_path / "more"
    (root / HOPPER).mkdir(parents=True)
    (root / HOPPER / "wrong.jpg").write_bytes((faces / "obama3.jpg").read_bytes())  # Obama's face!
    (root / HOPPER / "wrong2.jpg").write_bytes((faces / "obama2.jpg").read_bytes())  # and again
    (root / HOPPER / "hopper.jpg").write_bytes((faces / "grace_hopper.jpg").read_bytes())
    report = enroll_photos(enrolled, scan_folder(root, PATTERN), cfg, workers=1)
    refused = dict(report.refused)
    assert sorted(os.path.basename(i) for i in refused) == ["wrong.jpg", "wrong2.jpg"]
    for reason in refused.values():  # HR reads who it is, not only a number
        assert f"matches employee {OBAMA} (Barack Obama)" in reason and "--force" in reason
    assert report.enrolled == {HOPPER: 1} and report.ok
    # --force names one photo: only that one is stored; the other is still refused
    forced = enroll_photos(enrolled, scan_folder(root, PATTERN), cfg, workers=1,
                           force=Forced([str(root / HOPPER / "wrong.jpg")]))
    assert forced.enrolled == {HOPPER: 2}
    assert [os.path.basename(i) for i, _ in forced.refused] == ["wrong2.jpg"]
    # --force names the employee: every photo of theirs
    assert enroll_photos(enrolled, scan_folder(root, PATTERN), cfg, workers=1,
                         force=Forced([HOPPER])).enrolled == {HOPPER: 3}


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


def test_export_import_round_trip(enrolled, cfg, tmp_path, faces):
    # a person refused as Obama's duplicate: their hold travels with the templates
    (tmp_path / "more" / HOPPER).mkdir(parents=True)
    (tmp_path / "more" / HOPPER / "h.jpg").write_bytes((faces / "obama3.jpg").read_bytes())
    assert enroll_photos(enrolled, scan_folder(tmp_path / "more", PATTERN), cfg, workers=1).held == {HOPPER: [OBAMA]}
    out = tmp_path / "templates.json"
    assert export_templates(enrolled, out) == 3
    assert oct(out.stat().st_mode & 0o777) == "0o600"  # biometric data: owner only
    fresh = Store(tmp_path / "other.db")
    assert import_templates(fresh, out, PATTERN) == (2, 3, 1)
    assert import_templates(fresh, out, PATTERN) == (2, 0, 0)  # nothing duplicated
    a, an = enrolled.templates("dlib_resnet_v1")
    b, bn = fresh.templates("dlib_resnet_v1")
    assert sorted(an) == sorted(bn) and np.allclose(np.sort(a, axis=0), np.sort(b, axis=0))
    assert np.array_equal(enrolled.holds("dlib_resnet_v1")[0], fresh.holds("dlib_resnet_v1")[0])
    assert [(h["nip"], h["resembles"]) for h in fresh.hold_rows()] == [(HOPPER, OBAMA)]
    assert [r["action"] for r in enrolled.audit_rows()][-1] == "export_templates"
    doc = json.loads(out.read_text())
    bad = json.loads(out.read_text())
    bad["holds"][0]["resembles"] = "12"
    out.write_text(json.dumps(bad))
    with pytest.raises(EnrollInputError, match=r"holds\[0\]: resembles: employee id '12' does not match"):
        import_templates(fresh, out, PATTERN)
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
    assert "every employee of the folder is enrolled" in r.stdout
    assert re.search(r"analysed 3/3 photos, [0-9.]+ photos/s, done in [0-9]+ s", r.stderr)  # progress, not a tty
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


def test_exit_status_tells_everyone_enrolled_from_someone_not(tmp_path, photo_root, roster, faces):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[store]\ndata_dir = "data"\n')
    # a refused photo of an employee who is enrolled anyway: still everyone enrolled
    (photo_root / OBAMA / "cat.png").write_bytes((faces / "chelsea.png").read_bytes())
    r = run_kiosk("--config", str(cfg), "enroll", str(photo_root), "--roster", str(roster), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["not_enrolled"] == [] and any(x["item"].endswith("cat.png") for x in out["refused"])
    # an employee whose only photo has no face: not enrolled, exit 1, named
    (tmp_path / "more" / HOPPER).mkdir(parents=True)
    (tmp_path / "more" / HOPPER / "cat.png").write_bytes((faces / "chelsea.png").read_bytes())
    r = run_kiosk("--config", str(cfg), "enroll", str(tmp_path / "more"), cwd=tmp_path)
    assert r.returncode == 1
    assert f"NOT ENROLLED (1): {HOPPER}" in r.stdout
    # a --force naming nothing in the folder is bad input (a typo would force nothing): exit 2
    r = run_kiosk("--config", str(cfg), "enroll", str(photo_root), "--force", "199901012020011999", cwd=tmp_path)
    assert r.returncode == 2 and "--force 199901012020011999: no such photo" in r.stderr


def test_a_person_refused_as_a_duplicate_is_held_until_hr_decides(tmp_path, photo_root, roster, faces):
    # HR enrolls a person (Hopper's NIP) whose only photo is taken for Obama. Before holds their
    # face was then recorded as Obama's at the kiosk; now it is refused until HR decides.
    cfg = tmp_path / "config.toml"
    cfg.write_text('[store]\ndata_dir = "data"\n')
    kiosk = lambda *a: run_kiosk("--config", str(cfg), *a, cwd=tmp_path)  # noqa: E731
    assert kiosk("enroll", str(photo_root), "--roster", str(roster)).returncode == 0
    (tmp_path / "more" / HOPPER).mkdir(parents=True)
    probe = tmp_path / "more" / HOPPER / "h.jpg"
    probe.write_bytes((faces / "obama3.jpg").read_bytes())
    r = kiosk("enroll", str(tmp_path / "more"), "--json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["not_enrolled"] == [HOPPER] and out["held"] == {HOPPER: [OBAMA]}
    (warning,) = [w for w in out["warnings"] if "look-alike hold" in w]
    assert f"--force {HOPPER}" in warning and f"kiosk templates unhold {HOPPER}" in warning
    ident = lambda: json.loads(kiosk("identify", str(probe)).stdout)  # noqa: E731
    held = ident()
    assert held["employee_id"] is None and held["reason"] == "lookalike" and held["distance"] is None
    r = kiosk("templates", "holds", "--json")
    (row,) = json.loads(r.stdout)
    assert row["nip"] == HOPPER and row["resembles"] == OBAMA and row["photos"] == 1 and row["in_force"]
    # the setting turns the use of holds off: the same face is then Obama's, as before
    off = tmp_path / "off.toml"
    off.write_text('[store]\ndata_dir = "data"\n[recognition]\nlookalike_holds = false\n')
    r = run_kiosk("--config", str(off), "identify", str(probe), cwd=tmp_path)
    assert json.loads(r.stdout)["employee_id"] == OBAMA
    # HR: it was Obama after all - the hold goes, and Obama is recognised again
    r = kiosk("templates", "unhold", HOPPER)
    assert r.returncode == 0 and "removed the look-alike hold" in r.stdout
    assert ident()["employee_id"] == OBAMA
    r = kiosk("templates", "unhold", HOPPER)
    assert r.returncode == 2 and "has no look-alike hold" in r.stderr
    # a second refusal holds again; enrolling the person (--force) releases it
    assert kiosk("enroll", str(tmp_path / "more")).returncode == 1
    assert json.loads(kiosk("templates", "holds", "--json").stdout)[0]["nip"] == HOPPER
    assert kiosk("enroll", str(tmp_path / "more"), "--force", HOPPER).returncode == 0
    assert json.loads(kiosk("templates", "holds", "--json").stdout) == []


def test_roster_employees_without_photos_are_not_stored(cfg, photo_root, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(f"NIP,name,unit\n{OBAMA},Barack Obama,A\n{BIDEN},Joe Biden,B\n{HOPPER},Grace Hopper,C\n")
    with Store(cfg.db_path) as store:
        report = enroll_photos(store, scan_folder(photo_root, PATTERN), cfg, roster=read_roster(roster, PATTERN),
                               workers=1)
        assert report.not_stored == [HOPPER] and report.ok
        assert any(HOPPER in w and "not stored" in w for w in report.warnings)
        assert {e["nip"] for e in store.employees()} == {OBAMA, BIDEN}
        # once stored, a later roster updates them even without photos in that batch
        roster.write_text(f"NIP,name,unit\n{OBAMA},Barack H. Obama,A\n")
        only_biden = tmp_path / "b"
        (only_biden / BIDEN).mkdir(parents=True)
        (only_biden / BIDEN / "b.jpg").write_bytes((photo_root / BIDEN / "biden.jpg").read_bytes())
        enroll_photos(store, scan_folder(only_biden, PATTERN), cfg,
                      roster=read_roster(roster, PATTERN) | {BIDEN: {"nip": BIDEN, "name": "Joe Biden", "unit": "B",
                                                                   "schedule": None}}, workers=1)
        assert store.employee(OBAMA)["name"] == "Barack H. Obama"


def test_a_photo_with_people_in_the_background_enrolls_the_main_face_and_says_which(cfg, faces, tmp_path):
    big = load_rgb(faces / "obama.jpg")
    small = cv2.resize(load_rgb(faces / "biden.jpg"), None, fx=0.35, fy=0.35)
    scene = np.full((big.shape[0], big.shape[1] + small.shape[1], 3), 90, np.uint8)
    scene[:, :big.shape[1]] = big
    scene[:small.shape[0], big.shape[1]:] = small  # someone smaller, behind, to the right
    root = tmp_path / "photos"
    (root / OBAMA).mkdir(parents=True)
    cv2.imwrite(str(root / OBAMA / "event.jpg"), cv2.cvtColor(scene, cv2.COLOR_RGB2BGR))
    (root / BIDEN).mkdir()
    cv2.imwrite(str(root / BIDEN / "pair.jpg"),  # two faces of similar size: which one is meant?
                cv2.cvtColor(side_by_side(load_rgb(faces / "biden.jpg"), load_rgb(faces / "obama2.jpg")),
                             cv2.COLOR_RGB2BGR))
    with Store(cfg.db_path) as store:
        report = enroll_photos(store, scan_folder(root, PATTERN), cfg, workers=1)
        assert report.enrolled == {OBAMA: 1}, report
        (item, note), = report.notes
        assert item.endswith("event.jpg")
        assert re.search(r"2 faces in the photo: used the largest, most central face \(\d+ px wide, .*\); "
                         r"the other is \d+ px wide", note)
        (item, reason), = [r for r in report.refused if r[0].endswith("pair.jpg")]
        assert reason.startswith("several_faces")
        # the stored face is Obama's, not the one in the background
        enc, nips = store.templates("dlib_resnet_v1")
    from kiosk.recognition.gallery import Gallery
    from kiosk.recognition.pipeline import FaceAnalyzer

    a = FaceAnalyzer(cfg.recognition).analyze(load_rgb(faces / "obama3.jpg"))
    assert Gallery(enc, nips).match(a.encoding).distance < cfg.recognition.threshold


def test_progress_tells_rate_and_time_left_when_not_on_a_terminal():
    out, now = io.StringIO(), [0.0]
    show = progress_bar(out, every_s=10, clock=lambda: now[0])
    for i in range(1, 101):
        now[0] = i * 0.5  # 2 photos a second
        show(i, 100)
    lines = out.getvalue().splitlines()
    assert lines[0] == "analysed 20/100 photos, 2.0 photos/s, about 40 s left"
    assert lines[-1] == "analysed 100/100 photos, 2.0 photos/s, done in 50 s"
    assert len(lines) == 5  # every 10 s (the last at the end), never a line per photo


def test_the_duplicate_check_refuses_exactly_what_identification_would_take_for_another_employee(encodings, cfg):
    # A photo is a duplicate when `kiosk identify` would take its face for a different
    # employee: the same gallery (stored templates and the rest of the batch), the same score.
    # A nearest-template check refused whole people whom identification tells apart.
    from types import SimpleNamespace

    from enroll.batch import PhotoResult, find_duplicates
    from kiosk.recognition.gallery import Gallery, gallery_options

    e = encodings
    stored = (np.stack([e["obama.jpg"], e["obama2.jpg"], e["biden.jpg"]]), ["obama", "obama", "biden"])
    score = Gallery(np.stack([*stored[0], e["grace_hopper.jpg"], e["obama3.jpg"]]),
                    [*stored[1], "hopper", "new"], **gallery_options(cfg.recognition)).match(
        e["obama3.jpg"], exclude="new").score

    def check(threshold):
        batch = [PhotoResult("new", "new/1.jpg", e["obama3.jpg"], None),
                 PhotoResult("hopper", "hopper/1.jpg", e["grace_hopper.jpg"], None)]
        rc = SimpleNamespace(**{**vars(cfg.recognition), "threshold": threshold})
        find_duplicates(batch, stored, rc, names={"obama": "Barack Obama"})
        return [(r.reason, r.detail) for r in batch]

    (reason, detail), hopper = check(cfg.recognition.threshold)
    assert reason == "duplicate" and "matches employee obama (Barack Obama)" in detail
    assert f"score {score:.3f}" in detail and hopper == (None, "")
    # just below that score the same photo is a different person to identification, and to enrollment
    assert check(score - 0.002) == [(None, ""), (None, "")]
    assert check(score + 0.002)[0][0] == "duplicate"
