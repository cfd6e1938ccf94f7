#!/usr/bin/env python3
"""Render the kiosk window into docs/screenshots/ at the screen sizes it must support.

A real run: a temporary database, Obama's face enrolled from face_recognition's test photos
under a long real-length Indonesian name (the card must wrap it and keep the NIP), the real
window offscreen, the real recognition worker, a replayed camera. The first decision card is
real (with its MASUK <-> PULANG button); it is then shown again at each screen size, the
window resized while it is up. Faces in the preview are pixelated in the
saved pictures (biometric data stays out of the repository, even in documentation).

Usage: QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [OUT_DIR]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("KIOSK_OVERRIDE", os.devnull)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import numpy as np  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

SIZES = [(800, 480), (1024, 600), (1920, 1080), (600, 1024)]
LONG_NAME = "Dr. Hj. Raden Ajeng Siti Nurhaliza Kusumawardhani, S.E., M.Si."


def pixelate(image: QImage) -> QImage:
    """Coarse blocks over the whole preview (the boxes and cards are drawn on top later)."""
    small = image.scaled(max(1, image.width() // 24), max(1, image.height() // 24))
    return small.scaled(image.width(), image.height())


def wait(app, cond, timeout=90.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if cond():
            return True
        time.sleep(0.02)
    raise TimeoutError("the window did not reach the expected state")


def main(out: Path) -> None:
    from fetch_faces import fetch

    from enroll.batch import enroll_photos
    from enroll.photos import scan_folder
    from kiosk.camera import open_source
    from kiosk.config import load_config
    from kiosk.store import Store
    from kiosk.ui import text
    from kiosk.ui.camera_view import CameraView
    from kiosk.ui.window import KioskWindow

    faces = fetch()
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="kiosk-shots-"))
    (tmp / "photos" / "198501012010011001").mkdir(parents=True)
    for name in ("obama.jpg", "obama2.jpg"):
        (tmp / "photos" / "198501012010011001" / name).write_bytes((faces / name).read_bytes())
    (tmp / "replay").mkdir()
    (tmp / "replay" / "1.jpg").write_bytes((faces / "obama3.jpg").read_bytes())
    cfg_path = tmp / "config.toml"
    cfg_path.write_text('[device]\nunit = "Dinas Komunikasi dan Informatika"\nname = "Lobi Utama"\n'
                        '[store]\ndata_dir = "data"\n[display]\nsound = false\n[liveness]\nmode = "off"\n')
    cfg = load_config(cfg_path)
    with Store(cfg.db_path) as store:
        store.upsert_employees([{"nip": "198501012010011001", "name": LONG_NAME, "unit": "Dinas Kominfo"}])
        enroll_photos(store, scan_folder(tmp / "photos", cfg.enroll.nip_pattern), cfg, workers=1)

    original = CameraView.set_image
    CameraView.set_image = lambda self, image: original(self, pixelate(image))
    app = QApplication.instance() or QApplication([])
    text.install_translator(app, "id")
    win = KioskWindow(cfg, lambda: open_source(f"replay:{tmp / 'replay'}", fps=8, hold_s=5, loop=True))
    win.resize(*SIZES[0])
    win.show()
    decisions = []
    handle = win.handle
    seen = {}  # the last message of each type, for the liveness pictures
    win.handle = lambda msg: (decisions.append(msg) if msg.get("type") == "attendance" else None,
                              seen.__setitem__(msg.get("type"), msg), handle(msg))
    wait(app, lambda: decisions and win.card.isVisible())
    card = decisions[0]
    for w, h in SIZES:
        win.handle(card)
        win.resize(w, h)
        wait(app, lambda: win.card.isVisible() and win.view.width() == w, 5)
        app.processEvents()
        path = out / f"kiosk-{w}x{h}.png"
        win.grab().save(str(path))
        print(path)
    win.resize(1024, 600)
    win.handle({**card, "status": "already_recorded", "recorded_at": card["local_time"]})
    app.processEvents()
    path = out / "kiosk-1024x600-already-recorded.png"
    win.grab().save(str(path))
    print(path)
    win.hide_card()
    liveness_shots(app, win, seen["face"], card, out)
    win.handle({"type": "face", "box": None, "reason": "too_small"})
    win.show_hint(text.hint("too_small"))
    win.on_camera_state("error", "camera 'opencv:0' cannot be opened")
    app.processEvents()
    path = out / "kiosk-1024x600-camera-missing.png"
    win.grab().save(str(path))
    print(path)
    win.on_camera_state("ok", "")
    admin_shots(app, win, tmp, out)
    win.request_quit()


def liveness_shots(app, win, face: dict, card: dict, out: Path) -> None:
    """What a recognised employee sees while liveness waits for a blink, and a refusal (the
    camera is stopped first, so no new frame changes the picture in between)."""
    win.app.stop_camera()
    end = time.monotonic() + 1.5
    while time.monotonic() < end:  # the worker's answers to the last frames arrive first
        app.processEvents()
        time.sleep(0.02)
    for name, msg in (("liveness-blink", {**face, "identified": False, "liveness": "blink"}),
                      ("liveness-retry", {"type": "unverified", "track": 0, "reason": "challenge_failed",
                                          "employee_id": card.get("employee_id"), "retry": True}),
                      ("liveness-refused", {"type": "spoof", "track": 0, "reason": "flat_motion",
                                            "employee_id": card.get("employee_id")})):
        win.handle(msg)
        app.processEvents()
        path = out / f"kiosk-1024x600-{name}.png"
        win.grab().save(str(path))
        print(path)
    win.hide_card()


def admin_shots(app, win, tmp: Path, out: Path) -> None:
    """Each step of an enrollment at the kiosk, as HR sees it (1024x600)."""
    from PySide6.QtGui import QPixmap

    from fetch_faces import fetch, kiosk_frames
    from kiosk.camera import open_source

    frames = kiosk_frames(fetch(), tmp / "frames")
    win.app.restart_camera(lambda: open_source(f"replay:{frames}", fps=8, hold_s=1.5, loop=True))
    win.resize(1024, 600)

    def shot(name):
        for lab in getattr(win.admin, "thumb_labels", []):  # thumbnails are faces too: pixelate
            pm = lab.pixmap()
            if pm is not None and not pm.isNull():
                lab.setPixmap(QPixmap.fromImage(pixelate(pm.toImage())))
        app.processEvents()
        path = out / f"admin-{name}.png"
        win.grab().save(str(path))
        print(path)

    win.open_admin()
    panel = win.admin
    panel.account_name.setText("Sari Wulandari")  # first start: the first HR account's name ...
    panel.submit_account()
    shot("1-new-pin")  # ... and its PIN
    for _ in range(2):
        panel.pin.setText("864209")
        panel._pin_key("OK")
    shot("2-search")
    panel.open_new()  # someone new ... whose face is an enrolled employee's: flagged
    panel.new_nip.setText("199001012015031001")
    panel.new_name.setText("Pegawai Baru")
    panel.submit_new()
    wait(app, lambda: panel.btn_keep.isVisible())
    shot("3-duplicate-flagged")
    panel.cancel_capture()
    panel.open_employee("198501012010011001")
    shot("4-employee")
    panel.start_capture(replace=True)  # re-enroll: straight, left, right
    wait(app, lambda: len(panel.capture.get("samples", [])) >= 1)
    shot("5-capture")
    wait(app, lambda: panel.btn_save.isEnabled())
    shot("6-review")
    panel.save()
    shot("7-saved")
    panel.open_status()
    shot("8-status")
    panel.leave("exit")
    win.open_admin()
    for _ in range(5):
        panel.pin.setText("000000")
        panel._pin_key("OK")
    shot("9-locked")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
