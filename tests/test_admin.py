"""Admin mode: the PIN and its lockout, and HR enrolling someone at the real kiosk window
(offscreen, real worker process, replayed camera of real faces)."""

import json
import sqlite3

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from conftest import BIDEN, write_config
from fetch_faces import kiosk_frames
from kiosk.admin import AdminAuth, hash_pin, pin_matches
from kiosk.camera import open_source
from kiosk.config import load_config
from kiosk.store import Store
from kiosk.ui import text
from kiosk.ui.window import KioskWindow

NEW_NIP = "199001012015031001"


class FakeClock:
    def __init__(self):
        self.t = 1_800_000_000.0

    def __call__(self):
        return self.t


def test_pin_is_hashed_and_lockout_grows_and_survives_a_restart(tmp_path):
    store = Store(tmp_path / "k.db")
    clock = FakeClock()
    auth = AdminAuth(store, now=clock)
    assert not auth.has_pin()
    auth.set_pin("246810")
    stored = store.db.execute("select hash from admin_accounts").fetchone()[0]
    assert "246810" not in stored and stored.startswith("scrypt$") and pin_matches("246810", stored)
    for i in range(4):
        assert auth.attempt("111111").remaining == 4 - i
    fifth = auth.attempt("111111")
    assert not fifth.ok and fifth.locked_for_s == 30
    assert auth.attempt("246810").locked_for_s > 0  # even the right PIN waits out the lock
    restarted = AdminAuth(store, now=clock)  # power cut: the lock is in the database
    assert restarted.attempt("246810").locked_for_s > 0
    clock.t += 31
    assert restarted.attempt("000000").locked_for_s == 60  # doubles
    clock.t += 61
    assert restarted.attempt("246810").ok
    assert restarted.attempt("111111").remaining == 4  # a good PIN resets the count
    actions = [(r["action"], json.loads(r["detail"]).get("result")) for r in store.audit_rows()]
    assert ("admin_login", "ok") in actions and ("admin_login", "wrong_pin") in actions
    assert all("246810" not in r["detail"] for r in store.audit_rows())


def test_preset_pin_hash_from_config(tmp_path):
    store = Store(tmp_path / "k.db")
    auth = AdminAuth(store, config_hash=hash_pin("135790"))
    assert auth.has_pin() and auth.attempt("135790").ok and not auth.attempt("135791").ok


# --- the window ------------------------------------------------------------------------------


@pytest.fixture
def admin_window(qtbot, qapp, tmp_path, faces, encodings):
    tr = text.install_translator(qapp, "id")
    cfg_path = write_config(tmp_path / "config.toml", '[admin]\nidle_s = 10\n[device]\nname = "Lobi <B> & Arsip"\n')
    cfg = load_config(cfg_path)
    with Store(cfg.db_path) as store:  # Biden is enrolled; Obama is not
        from kiosk.store.db import TemplateRow

        with store.transaction("t") as db:
            store.upsert_employees([{"nip": BIDEN, "name": "Joe Biden", "unit": "BKPSDM"}], db=db)
            store.add_templates([TemplateRow(BIDEN, encodings["biden.jpg"], 1.0, "t", "dlib_resnet_v1")], db)
    frames = kiosk_frames(faces, tmp_path / "frames")
    win = KioskWindow(cfg, lambda: open_source(f"replay:{frames}", fps=8, hold_s=1.2, loop=True))
    qtbot.addWidget(win)
    win.resize(1024, 600)
    win.show()
    qtbot.waitUntil(lambda: win.state["recognition"] == "ok", timeout=60000)
    yield win, cfg
    win.request_quit()
    qapp.removeTranslator(tr)


def press(qtbot, widget, label):
    buttons = [b for b in widget.findChildren(QPushButton) if b.text() == label and b.isVisible()]
    assert buttons, f"no visible button {label!r}"
    qtbot.mouseClick(buttons[0], Qt.MouseButton.LeftButton)


def type_keys(qtbot, widget, chars):
    for ch in chars:
        press(qtbot, widget, "␣" if ch == " " else ch.upper())


def test_first_pin_then_full_enrollment_then_test_recognition(admin_window, qtbot):
    win, cfg = admin_window
    win.open_admin()
    panel = win.admin
    # first start: HR names the first account, then chooses its PIN
    assert panel.pages.currentWidget() is panel.account_page
    assert panel.account_title.text() == "Pertama kali: nama Anda untuk akun HR"
    type_keys(qtbot, panel.account_page, "sari")
    press(qtbot, panel.account_page, "Lanjut")
    assert panel.pin_title.text() == "Buat PIN admin baru (6 sampai 12 angka)"
    type_keys(qtbot, panel.pin_page, "123")
    press(qtbot, panel.pin_page, "OK")
    assert panel.pin_msg.text() == "PIN harus 6 sampai 12 angka."
    for _ in range(2):
        type_keys(qtbot, panel.pin_page, "864209")
        press(qtbot, panel.pin_page, "OK")
    assert panel.pages.currentWidget() is panel.menu_page
    press(qtbot, panel.menu_page, "Pegawai baru")
    type_keys(qtbot, panel.new_page, NEW_NIP)
    panel.new_name.setFocus()
    type_keys(qtbot, panel.new_page, "barack obama")
    press(qtbot, panel.new_page, "Lanjut")
    assert panel.pages.currentWidget() is panel.capture_page
    assert panel.cap_title.text() == "Barack Obama - Hadapkan wajah ke kamera"
    with Store(cfg.db_path) as s:
        assert s.employee(NEW_NIP) is None  # nothing stored before Save
    qtbot.waitUntil(lambda: panel.btn_save.isEnabled(), timeout=90000)
    assert [s["pose"] for s in panel.capture["samples"]] == ["straight", "left", "right"]
    assert all(lab.pixmap() is not None and not lab.pixmap().isNull() for lab in panel.thumb_labels)
    press(qtbot, panel.capture_page, "Simpan")
    assert panel.emp_msg.text() == "Tersimpan: 3 sampel."
    db = sqlite3.connect(cfg.db_path)
    assert db.execute("select name, unit from employees where nip = ?", [NEW_NIP]).fetchone() == (
        "Barack Obama", "Unit Demo")
    assert db.execute("select count(*) from face_templates where nip = ?", [NEW_NIP]).fetchone()[0] == 3
    detail = json.loads(db.execute("select detail from audit_log where action = 'enroll_kiosk'").fetchone()[0])
    assert detail == {"nip": NEW_NIP, "templates": 3, "replace": False, "new_employee": True,
                      "kept_despite_match": []}
    assert not list((cfg.data_dir).glob("photos/**/*.jpg"))  # photos are not kept by default
    press(qtbot, panel.emp_page, "Coba pengenalan")
    qtbot.waitUntil(lambda: panel.test_result.text().startswith("Dikenali\nJarak "), timeout=60000)
    press(qtbot, panel.test_page, "Kembali")
    press(qtbot, panel.emp_page, "Kembali")
    with Store(cfg.db_path) as s, s.transaction("a look-alike hold, as kiosk enroll leaves one") as db:
        s.add_holds([("199001012020011009", NEW_NIP, np.full(128, 0.05, np.float32), "x.jpg")], "dlib_resnet_v1", db)
    press(qtbot, panel.menu_page, "Status")
    status = panel.status_text.text()
    assert "kiosk-01 (Lobi &lt;B&gt; &amp; Arsip)" in status and "Pegawai / sampel wajah" in status and "2 / 4" in status
    assert f'Wajah mirip ditahan</b></td><td style="padding-left: 12px">1: 199001012020011009 ~ {NEW_NIP}' \
        in status
    assert 'Kecepatan cek keaslian wajah</b></td><td style="padding-left: 12px">mati ([liveness] mode)' in status
    press(qtbot, panel.status_page, "Kembali")
    press(qtbot, panel.menu_page, "Keluar dari mode admin")
    assert win.stack.currentWidget() is win.kiosk_page
    # the kiosk now recognises the new employee (the worker reloaded the gallery)
    qtbot.waitUntil(lambda: win.card.isVisible() and NEW_NIP == win.card_nip.text(), timeout=60000)


def test_a_face_of_another_employee_is_flagged(admin_window, qtbot, faces, tmp_path):
    win, cfg = admin_window
    with Store(cfg.db_path) as s:
        AdminAuth(s).set_pin("864209")
    biden = tmp_path / "biden"
    biden.mkdir()
    Image.open(faces / "biden.jpg").convert("RGB").crop((235, 88, 955, 628)).resize((640, 480)).save(biden / "1.jpg")
    win.app.restart_camera(lambda: open_source(f"replay:{biden}", fps=8, hold_s=1.0, loop=True))
    win.open_admin()
    panel = win.admin
    type_keys(qtbot, panel.pin_page, "864209")
    press(qtbot, panel.pin_page, "OK")
    press(qtbot, panel.menu_page, "Pegawai baru")
    type_keys(qtbot, panel.new_page, NEW_NIP)
    panel.new_name.setFocus()
    type_keys(qtbot, panel.new_page, "someone")
    press(qtbot, panel.new_page, "Lanjut")
    qtbot.waitUntil(lambda: panel.btn_keep.isVisible(), timeout=60000)
    assert panel.cap_msg.text().startswith(f"Wajah ini cocok dengan pegawai lain: Joe Biden ({BIDEN})")
    assert panel.capture["samples"] == []
    press(qtbot, panel.capture_page, "Ambil ulang")
    assert not panel.btn_keep.isVisible() and panel.capture["samples"] == []
    press(qtbot, panel.capture_page, "Batal")
    with Store(cfg.db_path) as s:
        assert s.employee(NEW_NIP) is None


def test_wrong_pins_lock_admin_mode(admin_window, qtbot):
    win, cfg = admin_window
    with Store(cfg.db_path) as s:
        AdminAuth(s).set_pin("864209")
    win.open_admin()
    panel = win.admin
    for _ in range(4):
        type_keys(qtbot, panel.pin_page, "000000")
        press(qtbot, panel.pin_page, "OK")
    assert panel.pin_msg.text() == "PIN salah. Sisa 1 kali percobaan."
    type_keys(qtbot, panel.pin_page, "000000")
    press(qtbot, panel.pin_page, "OK")
    assert panel.pin_msg.text() == "Terlalu banyak PIN salah. Coba lagi dalam 30 detik."
    type_keys(qtbot, panel.pin_page, "864209")
    press(qtbot, panel.pin_page, "OK")
    assert panel.pages.currentWidget() is panel.pin_page and "Coba lagi dalam" in panel.pin_msg.text()


def test_admin_mode_closes_itself_after_idle_time(admin_window, qtbot):
    win, cfg = admin_window
    qtbot.mousePress(win.time, Qt.MouseButton.LeftButton)  # the deliberate gesture: a long press
    qtbot.wait(3300)
    qtbot.mouseRelease(win.time, Qt.MouseButton.LeftButton)
    assert win.stack.currentWidget() is win.admin
    qtbot.waitUntil(lambda: win.stack.currentWidget() is win.kiosk_page, timeout=15000)
    with Store(cfg.db_path) as s:
        exits = [json.loads(r["detail"]) for r in s.audit_rows() if r["action"] == "admin_exit"]
    assert exits == [{"reason": "timeout"}]


def test_technician_can_preset_a_pin_hash(tmp_path):
    from conftest import run_kiosk

    r = subprocess_run_hash(tmp_path, "482913\n482913\n")
    assert r.returncode == 0 and pin_matches("482913", r.stdout.strip())
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[admin]\npin_hash = "{r.stdout.strip()}"\n')
    assert run_kiosk("--config", str(cfg), "config", cwd=tmp_path).returncode == 0
    cfg.write_text('[admin]\npin_hash = "482913"\n')  # the PIN itself is refused
    bad = run_kiosk("--config", str(cfg), "config", cwd=tmp_path)
    assert bad.returncode == 2 and "pin_hash is not a hash" in bad.stderr and "482913" not in bad.stderr
    assert subprocess_run_hash(tmp_path, "123\n123\n").returncode == 2


def subprocess_run_hash(cwd, stdin: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "kiosk", "admin", "hash-pin"], input=stdin, cwd=cwd,
                          capture_output=True, text=True)


def test_several_hr_accounts_and_the_audit_log_says_who(tmp_path):
    store = Store(tmp_path / "k.db")
    auth = AdminAuth(store)
    auth.add_account("Sari", "246810", actor="admin:Sari")
    auth.add_account("Budi Santoso", "135790", actor="admin:Sari")
    from kiosk.admin import AccountError

    with pytest.raises(AccountError, match="another account has this PIN"):
        auth.add_account("Dewi", "246810", actor="admin:Sari")  # the PIN says who: no two alike
    with pytest.raises(AccountError, match="already an account named"):
        auth.add_account("sari", "999999", actor="admin:Sari")
    assert auth.accounts() == ["Budi Santoso", "Sari"]
    assert auth.attempt("135790").name == "Budi Santoso" and auth.attempt("246810").name == "Sari"
    logins = [(r["actor"], json.loads(r["detail"])) for r in store.audit_rows() if r["action"] == "admin_login"]
    assert [a for a, _ in logins] == ["admin:Budi Santoso", "admin:Sari"]


def test_a_technician_resets_a_forgotten_pin_and_it_is_audited(tmp_path, faces):
    from conftest import run_kiosk

    cfg_path = write_config(tmp_path / "config.toml")
    cfg = load_config(cfg_path)
    with Store(cfg.db_path) as store:
        auth = AdminAuth(store)
        auth.add_account("Sari", "246810", actor="admin:Sari")
        auth.add_account("Budi", "135790", actor="admin:Sari")
        for _ in range(5):
            auth.attempt("000000")  # locked
    r = run_kiosk("admin", "accounts", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.split() == ["Budi", "Sari"]
    r = run_kiosk("admin", "reset-pin", "--account", "Sari", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "removed: Sari" in r.stdout and "lock is cleared" in r.stdout
    r = run_kiosk("admin", "reset-pin", "--account", "Nobody", cwd=tmp_path)
    assert r.returncode == 2 and "no admin account named 'Nobody'" in r.stderr and "Budi" in r.stderr
    with Store(cfg.db_path) as store:
        auth = AdminAuth(store)
        assert auth.accounts() == ["Budi"] and auth.attempt("135790").ok  # the lock is gone too
        (row,) = [x for x in store.audit_rows() if x["action"] == "admin_pin_reset"]
        assert row["actor"].startswith("technician:") and json.loads(row["detail"])["accounts"] == ["Sari"]
    r = run_kiosk("admin", "reset-pin", "--all", cwd=tmp_path)
    assert r.returncode == 0 and "admin mode asks for a new account and PIN" in r.stdout


def test_a_pin_preset_on_the_boot_partition_needs_no_other_software(tmp_path):
    """The technician writes pin = "..." in kiosk.toml on the SD card; at boot kiosk-firstboot
    stores only its hash (in the boot file too) and the kiosk accepts the PIN as account "HR"."""
    from kiosk import firstboot

    boot = tmp_path / "kiosk.toml"
    boot.write_text('[device]\nid = "kiosk-7"\n\n[admin]\npin = "482913"\nidle_s = 60\n', encoding="utf-8")
    res = firstboot.apply(boot, tmp_path / "data", tmp_path / "run", None)
    assert res.errors == [] and "admin PIN preset (stored as a hash)" in res.actions
    assert "482913" not in boot.read_text() and "pin_hash" in boot.read_text()
    cfg = load_config(None, tmp_path / "run" / "kiosk.toml")
    assert cfg.admin.pin_hash.startswith("scrypt$") and cfg.device.id == "kiosk-7"
    assert load_config(None, boot).admin.pin_hash == cfg.admin.pin_hash  # the next boot reads the hash
    with Store(tmp_path / "k.db") as store:
        auth = AdminAuth(store, cfg.admin.pin_hash)
        assert auth.accounts() == ["HR"] and auth.attempt("482913").name == "HR"
    boot.write_text('[admin]\npin = "12ab"\n', encoding="utf-8")
    res = firstboot.apply(boot, tmp_path / "data", tmp_path / "run", None)
    assert any("[admin] pin must be 6 to 12 digits" in e for e in res.errors)
