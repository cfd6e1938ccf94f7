"""Admin mode at the kiosk: PIN, employee search, guided enrollment, test, status.

Opened from the kiosk screen (long-press on the clock, or Ctrl+Alt+A); everything is operated
with on-screen keys, and it closes itself after `[admin] idle_s` without a touch. Recognition
stays in the worker process: this panel switches the worker into "capture" or "test" mode and
receives templates with a small thumbnail for review. Nothing is stored until HR presses Save,
then employee, templates and the audit entry go in one transaction.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import shutil

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QPushButton, QStackedWidget, QVBoxLayout, QWidget)

from kiosk import __version__
from kiosk.admin import AccountError, AdminAuth, PinError, check_pin_format
from kiosk.fileio import write_atomic
from kiosk.liveness import MIN_FPS
from kiosk.store.db import TemplateRow
from kiosk.ui import text
from kiosk.ui.camera_view import CameraView
from kiosk_models import ENCODER_VERSION

log = logging.getLogger(__name__)
t = text.t


class Keys(QWidget):
    """An on-screen keyboard: digits only (PIN, NIP) or digits and letters (names, search)."""

    pressed = Signal(str)  # a character, "BACK" or "OK"

    def __init__(self, letters: bool, ok: bool = True, parent=None):
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setSpacing(4)
        rows = (["1234567890", "QWERTYUIOP", "ASDFGHJKL'", "ZXCVBNM.,-"] if letters
                else ["123", "456", "789"])
        for r, row in enumerate(rows):
            for c, ch in enumerate(row):
                self._key(grid, ch, ch, r, c)
        last = len(rows)
        if letters:
            self._key(grid, "␣", " ", last, 0, span=6)
            self._key(grid, "⌫", "BACK", last, 6, span=2)
            if ok:
                self._key(grid, t("ok"), "OK", last, 8, span=2)
        else:
            self._key(grid, "⌫", "BACK", last, 0)
            self._key(grid, "0", "0", last, 1)
            self._key(grid, t("ok") if ok else "", "OK" if ok else "", last, 2)

    def _key(self, grid, label, value, r, c, span=1):
        b = QPushButton(label)
        b.setObjectName("key")
        b.setMinimumHeight(44)
        if value:
            b.clicked.connect(lambda _=False, v=value: self.pressed.emit(v))
        grid.addWidget(b, r, c, 1, span)


def _typed(field: QLineEdit, key: str) -> None:
    if key == "BACK":
        field.setText(field.text()[:-1])
    elif key not in ("OK", ""):
        field.setText(field.text() + key)


def _button(label: str, slot, name: str = "action") -> QPushButton:
    b = QPushButton(label)
    b.setObjectName(name)
    b.setMinimumHeight(52)
    b.clicked.connect(slot)
    return b


class AdminPanel(QWidget):
    closed = Signal(str)  # why: "exit" | "timeout" | "cancel"

    def __init__(self, window):
        super().__init__()
        self.w = window
        self.cfg = window.cfg
        self.store = window.store
        a = self.cfg.admin
        self.auth = AdminAuth(self.store, a.pin_hash, a.max_attempts, a.lockout_s)
        self.idle = QTimer(self, singleShot=True, timeout=lambda: self.leave("timeout"))
        self.pages = QStackedWidget()
        QVBoxLayout(self).addWidget(self.pages)
        self.employee: dict | None = None
        # every capture or test gets a new session number; the worker echoes it, so a frame
        # analysed for a previous employee can never land in this one's samples
        self.session = 0
        self.new_pin: str | None = None
        self.pending_name: str | None = None  # an account being made: its PIN is asked next
        self.actor = "admin"  # "admin:<account>" once logged in: the audit log says who
        self.capture: dict = {}
        self._build_pin()
        self._build_account()
        self._build_menu()
        self._build_employee()
        self._build_new()
        self._build_capture()
        self._build_test()
        self._build_status()
        self.setObjectName("admin")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.setStyleSheet("""
            #admin { background: #10202f; }
            #admin QLabel { color: #fff; font-size: 20px; }
            #admin QLabel#title { font-size: 26px; font-weight: bold; }
            #admin QLabel#message { color: #ffeb3b; }
            #admin QPushButton { font-size: 20px; padding: 6px 12px; background: #1f618d; color: #fff;
                                 border-radius: 8px; }
            #admin QPushButton#key { background: #34495e; }
            #admin QPushButton#danger { background: #922b21; }
            #admin QLineEdit { font-size: 24px; padding: 6px; }
            #admin QListWidget { font-size: 20px; background: #fff; }
        """)

    # --- opening, closing, idle ---------------------------------------------------------

    def open(self) -> None:
        self.new_pin = self.pending_name = None
        self.actor = "admin"
        self.pin.clear()
        if self.auth.has_pin():
            self._pin_prompt(t("pin_enter"))
            self.pages.setCurrentWidget(self.pin_page)
        else:  # first start: HR names the first account, then chooses its PIN
            self.open_account(first=True)
        self.touch()

    def touch(self) -> None:
        """Any touch or key in admin mode restarts the idle timer."""
        self.idle.start(self.cfg.admin.idle_s * 1000)

    def leave(self, why: str = "exit") -> None:
        self.idle.stop()
        self.w.worker.send({"cmd": "mode", "mode": "attendance"})
        self.capture = {}
        if why != "cancel":
            self.store.audit("admin_exit", {"reason": why}, self.actor)
        self.closed.emit(why)

    def show_page(self, page: QWidget) -> None:
        self.pages.setCurrentWidget(page)
        # no attendance is recorded while HR works at the kiosk; only capture and test analyse
        mode = {self.capture_page: "capture", self.test_page: "test"}.get(page, "idle")
        nip = self.employee["nip"] if self.employee else None
        self.session += 1
        self.w.worker.send({"cmd": "mode", "mode": mode, "nip": nip, "session": self.session})
        self.touch()

    def worker_ready(self) -> None:
        """A (re)started worker begins in attendance mode: tell it where we are."""
        if self.isVisible():
            self.show_page(self.pages.currentWidget())

    # --- PIN ------------------------------------------------------------------------------

    def _build_pin(self) -> None:
        self.pin_page = QWidget()
        lay = QVBoxLayout(self.pin_page)
        self.pin_title = QLabel(objectName="title", alignment=Qt.AlignmentFlag.AlignCenter)
        self.pin = QLineEdit(echoMode=QLineEdit.EchoMode.Password, alignment=Qt.AlignmentFlag.AlignCenter)
        self.pin.setReadOnly(True)
        self.pin_msg = QLabel(objectName="message", alignment=Qt.AlignmentFlag.AlignCenter)
        self.pin_msg.setWordWrap(True)
        keys = Keys(letters=False)
        keys.pressed.connect(self._pin_key)
        lay.addWidget(self.pin_title)
        lay.addWidget(self.pin)
        lay.addWidget(self.pin_msg)
        lay.addWidget(keys, 1)
        lay.addWidget(_button(t("cancel"), lambda: self.leave("cancel")))
        self.pages.addWidget(self.pin_page)

    def _pin_prompt(self, title: str, message: str = "") -> None:
        self.pin_title.setText(title)
        self.pin_msg.setText(message)
        self.pin.clear()

    def _pin_key(self, key: str) -> None:
        self.touch()
        if key != "OK":
            _typed(self.pin, key)
            return
        pin = self.pin.text()
        if self.pending_name is not None:  # a new account: choose and repeat its PIN
            try:
                check_pin_format(pin)
            except PinError:
                self._pin_prompt(t("pin_new"), t("pin_bad_format"))
                return
            if self.new_pin is None:
                self.new_pin = pin
                self._pin_prompt(t("pin_repeat"))
                return
            if pin != self.new_pin:
                self.new_pin = None
                self._pin_prompt(t("pin_new"), t("pin_mismatch"))
                return
            name, first = self.pending_name, not self.auth.has_pin()
            try:
                self.auth.add_account(name, pin, self.actor if not first else f"admin:{name}")
            except AccountError:
                self.new_pin = None
                self._pin_prompt(t("pin_new"), t("pin_taken"))
                return
            self.new_pin = self.pending_name = None
            if first:
                self.actor = f"admin:{name}"
                self.enter_menu()
            else:
                self.open_accounts(t("account_added", name))
            return
        result = self.auth.attempt(pin)
        if result.ok:
            self.actor = f"admin:{result.name}"
            self.enter_menu()
        elif result.locked_for_s:
            self._pin_prompt(t("pin_enter"), t("pin_locked", result.locked_for_s))
        else:
            self._pin_prompt(t("pin_enter"), t("pin_wrong", result.remaining))

    # --- HR accounts: a name and a PIN each ---------------------------------------------------

    def _build_account(self) -> None:
        self.account_page = QWidget()
        lay = QVBoxLayout(self.account_page)
        self.account_title = QLabel(objectName="title", alignment=Qt.AlignmentFlag.AlignCenter)
        self.account_list = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.account_list.setWordWrap(True)
        self.account_name = QLineEdit(placeholderText=t("name"))
        self.account_msg = QLabel(objectName="message", alignment=Qt.AlignmentFlag.AlignCenter)
        keys = Keys(letters=True, ok=False)
        keys.pressed.connect(lambda k: (self.touch(), _typed(self.account_name, k)))
        row = QHBoxLayout()
        row.addWidget(_button(t("next"), self.submit_account))
        self.account_back = _button(t("back"), lambda: self.enter_menu())
        row.addWidget(self.account_back)
        row.addWidget(_button(t("cancel"), lambda: self.leave("cancel")))
        for w in (self.account_title, self.account_list, self.account_name, self.account_msg):
            lay.addWidget(w)
        lay.addWidget(keys)
        lay.addLayout(row)
        self.pages.addWidget(self.account_page)

    def open_account(self, first: bool = False) -> None:
        """Name a new HR account (the first one at first start); its PIN is asked next."""
        self.account_title.setText(t("account_first" if first else "account_new"))
        self.account_name.clear()
        self.account_msg.setText("")
        self.account_list.setVisible(False)
        self.account_back.setVisible(not first)
        self.pages.setCurrentWidget(self.account_page)
        self.touch()

    def open_accounts(self, message: str = "") -> None:
        """Who has an account; type a name to add one."""
        self.open_account()
        self.account_list.setText(t("accounts_list", ", ".join(self.auth.accounts())))
        self.account_list.setVisible(True)
        self.account_msg.setText(message)
        self.show_page(self.account_page)

    def submit_account(self) -> None:
        self.touch()
        name = self.account_name.text().strip()
        if not name or len(name) > 40:
            self.account_msg.setText(t("account_name_missing"))
            return
        if name.casefold() in (n.casefold() for n in self.auth.accounts()):
            self.account_msg.setText(t("account_exists", name))
            return
        self.pending_name, self.new_pin = name, None
        self._pin_prompt(t("pin_new"), name)
        self.pages.setCurrentWidget(self.pin_page)

    # --- menu: search and pick ------------------------------------------------------------

    def _build_menu(self) -> None:
        self.menu_page = QWidget()
        lay = QVBoxLayout(self.menu_page)
        self.search = QLineEdit(placeholderText=t("search"))
        self.search.textChanged.connect(self._filter)
        self.results = QListWidget()
        self.results.itemClicked.connect(lambda item: self.open_employee(item.data(Qt.ItemDataRole.UserRole)))
        keys = Keys(letters=True, ok=False)
        keys.pressed.connect(lambda k: (self.touch(), _typed(self.search, k)))
        row = QHBoxLayout()
        row.addWidget(_button(t("new_employee"), self.open_new))
        row.addWidget(_button(t("status"), self.open_status))
        row.addWidget(_button(t("accounts"), lambda: self.open_accounts()))
        row.addWidget(_button(t("exit_admin"), lambda: self.leave("exit")))
        self.menu_msg = QLabel(objectName="message")
        lay.addWidget(self.search)
        lay.addWidget(self.results, 1)
        lay.addWidget(self.menu_msg)
        lay.addWidget(keys)
        lay.addLayout(row)
        self.pages.addWidget(self.menu_page)

    def enter_menu(self, message: str = "") -> None:
        self.employees = {e["nip"]: e for e in self.store.employees()}
        self.menu_msg.setText(message)
        self.search.clear()
        self._filter("")
        self.show_page(self.menu_page)

    def _filter(self, query: str) -> None:
        self.touch()
        q = query.strip().lower()
        self.results.clear()
        shown = 0
        for e in self.employees.values():
            if q and q not in e["nip"] and q not in e["name"].lower():
                continue
            state = t("samples", e["templates"]) if e["templates"] else t("not_enrolled")
            if not e["active"]:
                state += f", {t('inactive')}"
            item = QListWidgetItem(f"{e['nip']}  {e['name']}  ({state})")
            item.setData(Qt.ItemDataRole.UserRole, e["nip"])
            self.results.addItem(item)
            shown += 1
            if shown >= 50:
                break

    # --- one employee -----------------------------------------------------------------------

    def _build_employee(self) -> None:
        self.emp_page = QWidget()
        lay = QVBoxLayout(self.emp_page)
        self.emp_info = QLabel(objectName="title")
        self.emp_info.setWordWrap(True)
        self.emp_msg = QLabel(objectName="message")
        self.emp_msg.setWordWrap(True)
        grid = QGridLayout()
        self.btn_add = _button(t("add_samples"), lambda: self.start_capture(replace=False))
        self.btn_reenroll = _button(t("reenroll"), lambda: self.start_capture(replace=True))
        self.btn_try = _button(t("try"), self.open_test)
        self.btn_remove = _button(t("remove_templates"), self.remove_templates, "danger")
        self.btn_active = _button(t("deactivate"), self.toggle_active, "danger")
        for i, b in enumerate((self.btn_add, self.btn_reenroll, self.btn_try, self.btn_remove, self.btn_active)):
            grid.addWidget(b, i // 2, i % 2)
        lay.addWidget(self.emp_info)
        lay.addWidget(self.emp_msg)
        lay.addLayout(grid)
        lay.addStretch(1)
        lay.addWidget(_button(t("back"), lambda: self.enter_menu()))
        self.pages.addWidget(self.emp_page)

    def open_employee(self, nip: str, message: str = "") -> None:
        self.employee = self.store.employee(nip)
        n = len(self.store.template_rows(nip))
        e = self.employee
        self.employee["templates"] = n
        state = t("samples", n) if n else t("not_enrolled")
        self.emp_info.setText(f"{e['name']}\n{e['nip']}\n{e['unit']}\n{state}"
                              + ("" if e["active"] else f"\n{t('inactive')}"))
        self.emp_msg.setText(message)
        self.btn_try.setEnabled(n > 0)
        self.btn_remove.setEnabled(n > 0)
        self.btn_active.setText(t("deactivate") if e["active"] else t("activate"))
        self._remove_armed = False
        self.show_page(self.emp_page)

    def remove_templates(self) -> None:
        if not self._remove_armed:  # touch screens have no dialog boxes: press twice
            self._remove_armed = True
            self.emp_msg.setText(t("confirm_remove"))
            return
        self.store.remove_templates(self.employee["nip"], actor=self.actor)
        self.w.worker.send("reload")
        self.open_employee(self.employee["nip"], t("removed"))

    def toggle_active(self) -> None:
        nip, active = self.employee["nip"], 0 if self.employee["active"] else 1
        with self.store.transaction("change an employee's state") as db:
            db["employees"].update(nip, {"active": active, "updated_at": _now()})
            self.store.audit("employee_active", {"nip": nip, "active": active}, self.actor, db=db)
        self.w.worker.send("reload")
        self.open_employee(nip)

    # --- new employee -----------------------------------------------------------------------

    def _build_new(self) -> None:
        self.new_page = QWidget()
        lay = QVBoxLayout(self.new_page)
        self.new_nip = QLineEdit(placeholderText=t("nip"))
        self.new_name = QLineEdit(placeholderText=t("name"))
        self.new_msg = QLabel(objectName="message")
        self.new_msg.setWordWrap(True)
        self.new_focus = self.new_nip
        for f in (self.new_nip, self.new_name):
            f.installEventFilter(self)
        keys = Keys(letters=True, ok=False)
        keys.pressed.connect(lambda k: (self.touch(), _typed(self.new_focus, k)))
        row = QHBoxLayout()
        row.addWidget(_button(t("back"), lambda: self.enter_menu()))
        row.addWidget(_button(t("next"), self.submit_new))
        lay.addWidget(self.new_nip)
        lay.addWidget(self.new_name)
        lay.addWidget(self.new_msg)
        lay.addWidget(keys, 1)
        lay.addLayout(row)
        self.pages.addWidget(self.new_page)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == event.Type.FocusIn and obj in (self.new_nip, self.new_name):
            self.new_focus = obj
        return False

    def open_new(self) -> None:
        self.new_nip.clear()
        self.new_name.clear()
        self.new_msg.clear()
        self.new_focus = self.new_nip
        self.show_page(self.new_page)

    def submit_new(self) -> None:
        nip, name = self.new_nip.text().strip(), " ".join(self.new_name.text().split())
        if not re.fullmatch(self.cfg.enroll.nip_pattern, nip):
            self.new_msg.setText(t("nip_invalid", nip))
            return
        if self.store.employee(nip) is not None:
            self.new_msg.setText(t("nip_exists", nip))
            return
        if not name:
            self.new_msg.setText(t("name_missing"))
            return
        # not stored yet: only Save at the end of the capture writes anything
        self.employee = {"nip": nip, "name": name.title(), "unit": self.cfg.device.unit, "active": 1,
                         "templates": 0, "new": True}
        self.start_capture(replace=False)

    # --- guided capture -----------------------------------------------------------------------

    def _build_capture(self) -> None:
        self.capture_page = QWidget()
        lay = QVBoxLayout(self.capture_page)
        self.cap_title = QLabel(objectName="title", alignment=Qt.AlignmentFlag.AlignCenter)
        self.cap_title.setWordWrap(True)
        self.cap_view = CameraView(mirror=self.cfg.display.mirror)
        self.cap_msg = QLabel(objectName="message", alignment=Qt.AlignmentFlag.AlignCenter)
        self.cap_msg.setWordWrap(True)
        self.thumbs = QHBoxLayout()
        self.dup_row = QHBoxLayout()
        self.btn_keep = _button(t("keep_anyway"), self.keep_duplicate, "danger")
        self.btn_retake = _button(t("retake"), self.retake)
        self.dup_row.addWidget(self.btn_keep)
        self.dup_row.addWidget(self.btn_retake)
        review = QHBoxLayout()
        self.btn_save = _button(t("save"), self.save)
        self.btn_redo = _button(t("redo"), lambda: self.start_capture(self.capture.get("replace", False)))
        review.addWidget(_button(t("cancel"), self.cancel_capture))
        review.addWidget(self.btn_redo)
        review.addWidget(self.btn_save)
        lay.addWidget(self.cap_title)
        lay.addWidget(self.cap_view, 1)
        lay.addWidget(self.cap_msg)
        lay.addLayout(self.thumbs)
        lay.addLayout(self.dup_row)
        lay.addLayout(review)
        self.pages.addWidget(self.capture_page)

    def start_capture(self, replace: bool) -> None:
        poses = list(self.cfg.enroll.poses)
        self.capture = {"poses": poses, "index": 0, "samples": [], "replace": replace,
                        "pending_dup": None, "forced": [], "pause_until": 0.0}
        while self.thumbs.count():
            old = self.thumbs.takeAt(0).widget()
            old.setParent(None)  # gone now, not at the next event-loop turn
            old.deleteLater()
        self.thumb_labels = []
        for i, _ in enumerate(poses):
            lab = QLabel(t("sample_n", i + 1), alignment=Qt.AlignmentFlag.AlignCenter)
            lab.setFixedSize(110, 130)
            lab.setStyleSheet("border: 2px dashed #888;")
            self.thumbs.addWidget(lab)
            self.thumb_labels.append(lab)
        self._show_dup(False)
        self.btn_save.setEnabled(False)
        self.cap_msg.clear()
        self._instruct()
        self.show_page(self.capture_page)

    def _instruct(self) -> None:
        c = self.capture
        if c["index"] < len(c["poses"]):
            self.cap_title.setText(f"{self.employee['name']} - " + t(f"pose_{c['poses'][c['index']]}"))
        else:
            self.cap_title.setText(t("review"))

    def _pose_ok(self, pose: str, yaw: float | None) -> bool:
        if yaw is None:
            return False
        side = self.cfg.enroll.side_yaw
        # yaw > 0: the nose is right of the eyes' midpoint in the camera's (unmirrored) image,
        # i.e. the person turned to *their* left
        return {"left": yaw >= side, "right": yaw <= -side}.get(pose, abs(yaw) <= side / 2)

    def on_message(self, msg: dict) -> None:
        if msg.get("session") != self.session:
            return  # analysed for an earlier capture or test
        if msg["type"] == "capture" and self.pages.currentWidget() is self.capture_page:
            self.on_sample(msg)
        elif msg["type"] == "test" and self.pages.currentWidget() is self.test_page:
            self.on_test(msg)

    def on_sample(self, msg: dict) -> None:
        c = self.capture
        self.cap_view.set_face(msg.get("box"), False)
        if not c:  # a late message after Save, Cancel or the idle timeout
            return
        if c["index"] >= len(c["poses"]) or c["pending_dup"] is not None:
            return
        if msg.get("encoding") is None:
            self.cap_msg.setText(text.hint(msg.get("reason")))
            return
        import time

        self.touch()  # someone is in front of the camera: the enrollment is going on
        if time.monotonic() < c["pause_until"]:
            return
        enc = np.frombuffer(msg["encoding"], dtype="<f4").astype(np.float32)
        if c["samples"] and np.linalg.norm(enc - c["samples"][0]["encoding"]) > self.cfg.recognition.threshold:
            self.cap_msg.setText(t("different_person"))
            return
        sample = {"encoding": enc, "thumb": msg.get("thumb", b""), "sharpness": msg.get("sharpness"),
                  "pose": c["poses"][c["index"]], "duplicate": msg.get("duplicate")}
        # someone else's face is flagged at once, whatever the pose
        if not sample["duplicate"] and not self._pose_ok(sample["pose"], msg.get("yaw")):
            self.cap_msg.setText("")
            return
        if sample["duplicate"]:
            d = sample["duplicate"]
            c["pending_dup"] = sample
            self.cap_msg.setText(t("duplicate", f"{d['name']} ({d['employee_id']}), {d['distance']:.2f}"))
            self._show_dup(True)
            return
        self._accept(sample)

    def _show_dup(self, on: bool) -> None:
        self.btn_keep.setVisible(on)
        self.btn_retake.setVisible(on)

    def keep_duplicate(self) -> None:
        c = self.capture
        sample, c["pending_dup"] = c["pending_dup"], None
        c["forced"].append(sample["duplicate"])
        self._show_dup(False)
        self._accept(sample)

    def retake(self) -> None:
        self.capture["pending_dup"] = None
        self._show_dup(False)
        self.cap_msg.clear()

    def _accept(self, sample: dict) -> None:
        import time

        c = self.capture
        c["samples"].append(sample)
        lab = self.thumb_labels[c["index"]]
        img = QImage.fromData(sample["thumb"], "JPG")
        if not img.isNull():
            lab.setPixmap(QPixmap.fromImage(img).scaled(lab.size(), Qt.AspectRatioMode.KeepAspectRatio))
        lab.setStyleSheet("border: 3px solid #2ecc71;")
        c["index"] += 1
        c["pause_until"] = time.monotonic() + 0.8  # time to turn the head for the next pose
        self.cap_msg.clear()
        self._instruct()
        if c["index"] >= len(c["poses"]):
            self.btn_save.setEnabled(True)
            self.w.worker.send({"cmd": "mode", "mode": "idle"})  # stop encoding while HR reviews
        self.touch()

    def cancel_capture(self) -> None:
        self.capture = {}
        if self.employee and self.employee.get("new"):
            self.enter_menu()
        else:
            self.open_employee(self.employee["nip"])

    def save(self) -> None:
        c, e = self.capture, self.employee
        rows = [TemplateRow(e["nip"], s["encoding"], s["sharpness"], f"kiosk:{s['pose']}", ENCODER_VERSION)
                for s in c["samples"]]
        with self.store.transaction(f"store the enrollment of {e['nip']}") as db:
            if e.get("new"):
                self.store.upsert_employees([{k: e[k] for k in ("nip", "name", "unit", "active")}], db=db)
            if c["replace"]:
                db.execute("delete from face_templates where nip = ?", [e["nip"]])
            self.store.add_templates(rows, db)
            self.store.audit("enroll_kiosk", {"nip": e["nip"], "templates": len(rows), "replace": c["replace"],
                                              "new_employee": bool(e.get("new")),
                                              "kept_despite_match": c["forced"]}, self.actor, db=db)
        if self.cfg.enroll.keep_photos:
            self._keep_photos(e["nip"], c["samples"])
        self.w.worker.send("reload")
        self.capture = {}
        self.open_employee(e["nip"], t("saved", len(rows)))

    def _keep_photos(self, nip: str, samples: list[dict]) -> None:
        folder = self.cfg.data_dir / "photos" / nip
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
        for i, s in enumerate(samples):
            if s["thumb"]:
                write_atomic(folder / f"{stamp}-{i}-{s['pose']}.jpg", s["thumb"], mode=0o600)

    # --- test recognition ("coba") ------------------------------------------------------------

    def _build_test(self) -> None:
        self.test_page = QWidget()
        lay = QVBoxLayout(self.test_page)
        self.test_title = QLabel(objectName="title", alignment=Qt.AlignmentFlag.AlignCenter)
        self.test_view = CameraView(mirror=self.cfg.display.mirror)
        self.test_result = QLabel(objectName="title", alignment=Qt.AlignmentFlag.AlignCenter)
        self.test_result.setWordWrap(True)
        lay.addWidget(self.test_title)
        lay.addWidget(self.test_view, 1)
        lay.addWidget(self.test_result)
        lay.addWidget(_button(t("back"), lambda: self.open_employee(self.employee["nip"])))
        self.pages.addWidget(self.test_page)

    def open_test(self) -> None:
        self.test_title.setText(f"{t('try')}: {self.employee['name']}")
        self.test_result.setText("")
        self.tested = False
        self.show_page(self.test_page)

    def on_test(self, msg: dict) -> None:
        recognised = msg.get("recognised")
        self.test_view.set_face(msg.get("box"), bool(recognised))
        if msg.get("distance") is None:
            if msg.get("reason"):
                self.test_result.setText(text.hint(msg.get("reason")))
            return
        margin = msg.get("margin")
        detail = t("test_result", f"{msg['distance']:.3f}", f"{self.cfg.recognition.threshold:.2f}",
                   "-" if margin is None else f"{margin:.3f}")
        self.test_result.setText(f"{t('recognised') if recognised else t('not_recognised')}\n{detail}")
        if not self.tested:
            self.tested = True
            self.store.audit("test_recognition", {"nip": self.employee["nip"], "distance": msg["distance"],
                                                  "margin": margin, "recognised": bool(recognised)}, self.actor)

    # --- status ---------------------------------------------------------------------------------

    def _build_status(self) -> None:
        self.status_page = QWidget()
        lay = QVBoxLayout(self.status_page)
        self.status_text = QLabel()
        self.status_text.setWordWrap(True)
        self.status_text.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.status_text, 1)
        lay.addWidget(_button(t("back"), lambda: self.enter_menu()))
        self.pages.addWidget(self.status_page)

    def status_rows(self) -> list[tuple[str, str]]:
        cfg, store = self.cfg, self.store
        people = store.employees()
        today = self.w.clock.now().local_date if hasattr(self.w, "clock") else dt.datetime.now(cfg.tz).date().isoformat()
        free = shutil.disk_usage(cfg.data_dir).free
        upload = self.w.upload_status() if hasattr(self.w, "upload_status") else {}
        holds = [h for h in store.hold_rows() if h["in_force"]]
        return [
            (t("status_device"), f"{cfg.device.id} ({cfg.device.name})"),
            (t("status_unit"), cfg.device.unit),
            (t("status_version"), __version__),
            (t("status_clock"), t("clock_synced") if self.w.clock.synced() else t("clock_unsynced")),
            (t("status_camera"), t(f"camera_{self.w.state['camera']}")),
            (t("status_disk"), f"{free / 1e9:.1f} GB"),
            (t("status_people"), f"{len(people)} / {sum(e['templates'] for e in people)}"),
            (t("status_today"), str(len(store.events(today, today)))),
            (t("status_pending"), str(store.pending_uploads())),
            (t("status_upload"), f"{upload.get('last_success_at') or '-'} / {upload.get('last_error') or '-'}"),
            # people refused at enrollment as someone's duplicate: their face is not recorded (docs/gates.md)
            (t("status_holds"), str(len(holds)) + "".join(
                f"{', ' if i else ': '}{h['nip']} ~ {h['resembles']}" for i, h in enumerate(holds[:5]))
             + (" ..." if len(holds) > 5 else "")),
            (t("status_liveness"), self.liveness_row()),
        ]

    def liveness_row(self) -> str:
        """How fast the last liveness checks ran: under MIN_FPS frames a second nobody passes."""
        if self.cfg.liveness.mode == "off":
            return t("liveness_pace_off")
        pace = self.w.app.liveness_pace
        median = pace.median()
        if median is None:
            return t("liveness_pace_none")
        row = t("liveness_pace", f"{median:.1f}", len(pace.recent))
        return row + ("\n" + t("liveness_too_slow", f"{MIN_FPS:g}") if median < MIN_FPS else "")

    def open_status(self) -> None:
        # values are plain text (a device or unit name may hold "&" or "<"); a line break starts a new line
        rows = "".join(f'<tr><td><b>{html.escape(k, quote=False)}</b></td><td style="padding-left: 12px">'
                       f'{html.escape(v, quote=False).replace(chr(10), "<br>")}</td></tr>' for k, v in self.status_rows())
        self.status_text.setText(f"<table>{rows}</table>")
        self.show_page(self.status_page)

    # --- frames from the camera -------------------------------------------------------------------

    def on_frame(self, image: QImage) -> None:
        page = self.pages.currentWidget()
        if page is self.capture_page:
            self.cap_view.set_image(image)
        elif page is self.test_page:
            self.test_view.set_image(image)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
