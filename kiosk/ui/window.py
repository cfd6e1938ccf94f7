"""The kiosk window: header (unit, kiosk, clock, date), the live camera with hints and decision
cards, and a status line (camera, recognition, clock sync, events waiting for upload).

Threads and processes belong to kiosk.app.App (camera reader, recognition worker process,
uploader, the supervisor that restarts a dead or hung worker); its callbacks reach the UI
thread through Qt signals, so the UI thread only paints, formats and reads one count.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QDateTime, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (QApplication, QBoxLayout, QFrame, QLabel, QPushButton, QSizePolicy,
                               QStackedWidget, QVBoxLayout, QWidget)

from kiosk.clock import Clock
from kiosk.fileio import purge_older_than
from kiosk.app import App
from kiosk.store import StoreError
from kiosk.ui import text
from kiosk.ui.camera_view import CameraView, to_qimage
from kiosk.ui.sound import Sounds

log = logging.getLogger(__name__)

CARD_COLOURS = {"ok": "#1e8449", "late": "#b9770e", "repeat": "#1f618d", "unknown": "#922b21", "retry": "#6c3483"}
SOUND_FOR = {"ok": "ok", "late": "late", "repeat": "repeat", "unknown": "unknown", "retry": "repeat"}


class _Bridge(QObject):
    """The App calls back from its threads; these signals bring each call to the Qt thread."""

    message = Signal(object)
    frame = Signal(QImage, int, float)


class KioskWindow(QWidget):
    def __init__(self, cfg, make_source, start_worker: bool = True, sounds: Sounds | None = None):
        super().__init__()
        self.cfg = cfg
        self.lang = cfg.device.language
        self.display = cfg.display
        self.allow_close = False
        self.sounds = sounds or Sounds(cfg.display.sound)
        self.clock = Clock(cfg.tz)
        # kept enrollment photos and liveness snapshots are personal data: keep them no longer
        # than [enroll] photo_retention_days
        for sub in ("photos", "liveness"):
            purge_older_than(cfg.data_dir / sub, cfg.enroll.photo_retention_days)
        self.pending = 0
        self.last_face_ts = 0.0
        self.last_event: dict | None = None  # the recorded event the card offers to correct
        self._build()
        self.setWindowTitle(f"Kiosk {cfg.device.id}")
        self.setCursor(Qt.CursorShape.BlankCursor)

        self.bridge = _Bridge(self)
        self.bridge.message.connect(lambda msg: self.handle(msg))  # late-bound: tools may wrap handle
        self.bridge.frame.connect(self.on_frame)
        self.app = App(cfg, make_source, on_message=self.bridge.message.emit,
                       on_frame=lambda image, seq, ts: self.bridge.frame.emit(to_qimage(image), seq, ts),
                       start_worker=start_worker)
        self.app.start()
        self.card_timer = QTimer(self, singleShot=True, timeout=self.hide_card)
        self.tick = QTimer(self, interval=1000, timeout=self.on_tick)
        self.tick.start()
        self.on_tick()

    # the long-lived parts belong to the App; the admin panel and tests reach them through these
    @property
    def store(self):
        return self.app.store

    @property
    def worker(self):
        return self.app.worker

    @property
    def uploader(self):
        return self.app.uploader

    @property
    def ring(self):
        return self.app.ring

    @property
    def state(self) -> dict:
        return self.app.state

    @property
    def fatal_message(self) -> str:
        return self.app.state["recognition_message"]

    # --- layout ----------------------------------------------------------------------

    def _build(self) -> None:
        self.setObjectName("kiosk")
        self.unit = QLabel(self.cfg.device.unit, objectName="unit")
        self.name = QLabel(self.cfg.device.name, objectName="name")
        self.time = QLabel(objectName="time", alignment=Qt.AlignmentFlag.AlignRight)
        self.date = QLabel(objectName="date", alignment=Qt.AlignmentFlag.AlignRight)
        for label in (self.unit, self.name):  # long unit names wrap instead of widening the window
            label.setWordWrap(True)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        left, right = QVBoxLayout(), QVBoxLayout()
        left.addWidget(self.unit)
        left.addWidget(self.name)
        right.addWidget(self.time)
        right.addWidget(self.date)
        # side by side on a landscape screen, stacked on a portrait one (see _restyle)
        self.header = header = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        header.addLayout(left, 1)
        header.addLayout(right)

        self.view = CameraView(mirror=self.display.mirror)
        self.hint = QLabel(self.view, objectName="hint", alignment=Qt.AlignmentFlag.AlignCenter)
        self.banner = QLabel(self.view, objectName="banner", alignment=Qt.AlignmentFlag.AlignCenter)
        self.banner.setWordWrap(True)
        self.card = QFrame(self.view, objectName="card")
        center = Qt.AlignmentFlag.AlignCenter
        self.card_head = QLabel(self.card, objectName="cardHead", alignment=center)
        self.card_detail = QLabel(self.card, objectName="cardDetail", alignment=center)
        # the name: at most two lines, elided after; the NIP on its own line, always shown
        self.card_person = QLabel(self.card, objectName="cardPerson", alignment=center)
        self.card_nip = QLabel(self.card, objectName="cardNip", alignment=center)
        self.card_switch = QPushButton(self.card, objectName="cardSwitch")
        self.card_switch.clicked.connect(self.switch_kind)
        self.card_switch.setCursor(Qt.CursorShape.PointingHandCursor)
        # names come from the roster and the config: shown as written, never read as HTML ("<B>", "&")
        for label in (self.unit, self.name, self.card_person, self.card_nip, self.card_head, self.card_detail,
                      self.hint, self.banner):
            label.setTextFormat(Qt.TextFormat.PlainText)
        card_layout = QVBoxLayout(self.card)
        for w in (self.card_person, self.card_nip, self.card_head, self.card_detail):
            w.setWordWrap(True)
            w.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            card_layout.addWidget(w)
        card_layout.addWidget(self.card_switch)
        self.card_name = ""
        self.card_msg: dict | None = None
        self.switch_timer = QTimer(self, singleShot=True, timeout=self.card_switch.hide)
        self.card.hide()
        self.hint.hide()
        self.banner.hide()

        self.status = QLabel(objectName="status")
        self.status.setWordWrap(True)
        self.kiosk_page = QWidget()
        outer = QVBoxLayout(self.kiosk_page)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        top = QWidget(objectName="header")
        top.setLayout(header)
        outer.addWidget(top)
        outer.addWidget(self.view, 1)
        outer.addWidget(self.status)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.kiosk_page)
        main = QVBoxLayout(self)
        main.setContentsMargins(0, 0, 0, 0)
        main.addWidget(self.stack)
        # admin mode: a 3 s press on the clock, or Ctrl+Alt+A on a keyboard
        self.press_timer = QTimer(self, singleShot=True, interval=3000, timeout=self.open_admin)
        for w in (self.time, self.date):
            w.installEventFilter(self)
        QShortcut(QKeySequence("Ctrl+Alt+A"), self, activated=self.open_admin)
        self.admin = None
        self.view.installEventFilter(self)  # the overlays follow the view's own size

    # --- admin mode ----------------------------------------------------------------------

    def eventFilter(self, obj, event) -> bool:
        kind = event.type()
        if obj is self.view and kind == QEvent.Type.Resize:
            self._place_overlays()  # the view's size now, not the window's before its layout ran
            return False
        if obj in (self.time, self.date):
            if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin):
                self.press_timer.start()
            elif kind in (QEvent.Type.MouseButtonRelease, QEvent.Type.TouchEnd, QEvent.Type.TouchCancel):
                self.press_timer.stop()
        elif self.admin is not None and self.stack.currentWidget() is self.admin and kind in (
                QEvent.Type.MouseButtonPress, QEvent.Type.KeyPress, QEvent.Type.TouchBegin):
            self.admin.touch()
        return False

    def open_admin(self) -> None:
        from kiosk.ui.admin import AdminPanel

        if self.admin is None:
            self.admin = AdminPanel(self)
            self.admin.closed.connect(self.close_admin)
            self.stack.addWidget(self.admin)
            QApplication.instance().installEventFilter(self)
        if self.store is None:
            return  # without a database there is nothing admin mode could do
        self.card.hide()
        self.store.audit("admin_open", {}, "admin")
        self.worker.send({"cmd": "mode", "mode": "idle"})
        self.stack.setCurrentWidget(self.admin)
        self.admin.open()

    def close_admin(self, why: str) -> None:
        self.stack.setCurrentWidget(self.kiosk_page)
        self.worker.send({"cmd": "mode", "mode": "attendance"})
        self.refresh_pending()
        self.refresh_status()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._restyle()

    def _restyle(self) -> None:
        """Type scaled to the screen: readable from a metre on a 7" 800x480 panel."""
        base = max(12, min(self.width(), self.height()) // 22)
        portrait = self.height() > self.width()
        self.setStyleSheet(f"""
            #kiosk {{ background: #000; }}
            #header {{ background: #0b2545; }}
            QLabel {{ color: #fff; }}
            #unit {{ font-size: {int(base * 1.1)}px; font-weight: bold; }}
            #name {{ font-size: {int(base * 0.8)}px; color: #cfd8dc; }}
            #time {{ font-size: {int(base * (2.2 if portrait else 2.0))}px; font-weight: bold; }}
            #date {{ font-size: {int(base * 0.8)}px; color: #cfd8dc; }}
            #status {{ font-size: {int(base * 0.6)}px; background: #111; color: #eceff1; padding: 4px 10px; }}
            #hint {{ font-size: {int(base * 1.2)}px; font-weight: bold; background: rgba(0,0,0,170);
                     border-radius: 10px; padding: 6px 16px; color: #ffeb3b; }}
            #banner {{ font-size: {int(base * 0.9)}px; font-weight: bold; background: #922b21; padding: 10px; }}
            #cardHead {{ font-size: {int(base * 1.9)}px; font-weight: bold; }}
            #cardDetail {{ font-size: {int(base * 1.05)}px; }}
            #cardPerson {{ font-size: {int(base * 1.15)}px; font-weight: bold; }}
            #cardNip {{ font-size: {int(base * 0.95)}px; color: #eaf2f8; }}
            #cardSwitch {{ font-size: {int(base * 1.05)}px; font-weight: bold; color: #fff; background: rgba(0,0,0,90);
                           border: 3px solid #fff; border-radius: 14px; padding: {int(base * 0.45)}px {int(base)}px; }}
        """)
        self.header.setDirection(QBoxLayout.Direction.TopToBottom if portrait else QBoxLayout.Direction.LeftToRight)
        align = Qt.AlignmentFlag.AlignLeft if portrait else Qt.AlignmentFlag.AlignRight
        self.time.setAlignment(align)
        self.date.setAlignment(align)
        self._place_overlays()

    def _place_overlays(self) -> None:
        """Card, hint and banner placed from the view's current size: the card centred, as
        wide as a landscape or portrait screen allows, as tall as its text needs."""
        w, h = self.view.width(), self.view.height()
        card_w = int(min(w * (0.92 if h > w else 0.72), 1100)) if w > 0 else 0
        self.card.setFixedWidth(max(card_w, 1))
        self._fit_name(card_w)
        lay = self.card.layout()
        card_h = lay.totalHeightForWidth(card_w) if lay.hasHeightForWidth() else lay.totalSizeHint().height()
        card_h = min(max(card_h, 1), int(h * 0.96))
        self.card.setFixedHeight(max(card_h, 1))
        self.card.move((w - card_w) // 2, max(0, (h - card_h) // 2))
        self.hint.adjustSize()
        self.hint.move((w - self.hint.width()) // 2, int(h * 0.04))
        self.banner.setGeometry(0, 0, w, max(40, int(h * 0.2)))

    # --- camera ----------------------------------------------------------------------

    def on_frame(self, image: QImage, seq: int, ts: float) -> None:
        if self.admin is not None and self.stack.currentWidget() is self.admin:
            self.admin.on_frame(image)
        else:
            self.view.set_image(image)

    def on_camera_state(self, state: str, message: str) -> None:
        self.app.set_state(camera=state, camera_message=message)

    # --- what the worker and the app say ---------------------------------------------

    def handle(self, msg: dict) -> None:
        kind = msg.get("type")
        if kind == "face":
            self.last_face_ts = time.monotonic()
            self.view.set_face(msg.get("box"), msg.get("identified", False))
            if msg.get("liveness"):  # recognised, waiting for a blink or an answer to a challenge
                self.show_hint(text.prompt(msg["liveness"]))
            else:
                self.show_hint(text.hint(msg.get("reason")) if msg.get("box") and not msg.get("identified") else "")
        elif kind == "liveness":
            self.show_hint(text.prompt(msg.get("prompt")))
        elif kind in ("attendance", "unknown", "spoof", "unverified"):
            self.show_card(msg)
            self.refresh_status()
        elif kind in ("capture", "test"):
            if self.admin is not None:
                self.admin.on_message(msg)
        elif kind == "ready":
            if self.admin is not None and self.stack.currentWidget() is self.admin:
                self.admin.worker_ready()
            self.refresh_status()
        elif kind == "state":
            if msg.get("camera") == "error":
                log.warning("camera: %s", self.state["camera_message"])
            if msg.get("recognition") == "restarting":
                self.view.set_face(None, False)
            self.refresh_status()

    # --- what the employee sees ------------------------------------------------------

    def show_hint(self, s: str) -> None:
        if s == self.hint.text() and self.hint.isVisible() == bool(s):
            return
        self.hint.setText(s)
        self.hint.setVisible(bool(s) and not self.card.isVisible())
        self._place_overlays()

    def _fit_name(self, card_w: int) -> None:
        """The name in at most two lines of the card's width, the second elided if need be."""
        m = self.card.layout().contentsMargins()
        self.card_person.ensurePolished()
        self.card_person.setText(text.two_lines(self.card_name, QFontMetrics(self.card_person.font()),
                                                max(40, card_w - m.left() - m.right() - 8)))

    def show_card(self, msg: dict) -> None:
        style, head, detail, name, nip = text.card_lines(msg)
        self.card_msg = msg
        self.card.setStyleSheet(f"#card {{ background: {CARD_COLOURS[style]}; border-radius: 18px; }}")
        self.card_head.setText(head)
        self.card_detail.setText(detail)
        self.card_detail.setVisible(bool(detail))
        self.card_name = name
        self.card_person.setVisible(bool(name))
        self.card_nip.setText(nip)
        self.card_nip.setVisible(bool(nip))
        seconds = self.display.card_seconds
        switch = text.switch_label(msg)
        correct_s = self.cfg.attendance.correction_seconds
        if switch and correct_s > 0 and self.store is not None:
            # a few seconds to fix an obvious mistake on the spot (MASUK <-> PULANG)
            self.card_switch.setText(switch)
            self.card_switch.show()
            self.switch_timer.start(int(correct_s * 1000))
            seconds = max(seconds, correct_s)
        else:
            self.card_switch.hide()
            self.switch_timer.stop()
        self.hint.hide()
        self._place_overlays()
        self.card.show()
        self.card.raise_()
        self.sounds.play(SOUND_FOR[style])
        self.card_timer.start(int(seconds * 1000))
        self.refresh_pending()

    def switch_kind(self) -> None:
        """The employee pressed the card's button: record the correction, show the new card."""
        msg = self.card_msg or {}
        if not msg.get("event_id"):
            return
        try:
            corrected = self.app.correct(msg["event_id"], source="employee")
        except StoreError as e:
            log.error("%s", e)
            self.app.set_state(store="error")
            self.refresh_status()
            return
        self.show_card(corrected)

    def hide_card(self) -> None:
        self.card.hide()
        self.card_switch.hide()

    def on_tick(self) -> None:
        # the kiosk's own clock (a staged one in a rehearsal), so the screen shows what is recorded
        now = QDateTime.fromMSecsSinceEpoch(int(self.clock.now().utc.timestamp() * 1000)).toTimeZone(
            _qt_zone(self.cfg.device.timezone))
        self.time.setText(now.toString("HH:mm:ss"))
        self.date.setText(text.long_date(now.date(), self.lang))
        if self.last_face_ts and time.monotonic() - self.last_face_ts > 1.0:
            self.show_hint("")
        if int(time.monotonic()) % 5 == 0:
            self.refresh_pending()
        self.refresh_status()

    def refresh_pending(self) -> None:
        if self.store is None:
            return
        try:
            self.pending = self.store.pending_uploads()
        except StoreError as e:
            log.error("%s", e)
            self.app.set_state(store="error")

    def refresh_status(self) -> None:
        t = text.t
        line = [t(f"camera_{self.state['camera']}"), t(f"recognition_{self.state['recognition']}"),
                t("clock_synced" if self.clock.synced() else "clock_unsynced"),
                t(f"upload_{self.uploader.status()['state'] if self.uploader else 'not_configured'}"), t("pending", self.pending)]
        self.status.setText(" | ".join(line))
        problems = []
        if self.state["camera"] == "error":
            problems.append(t("banner_camera"))
        if self.state["store"] == "error":
            problems.append(t("banner_store"))
        if self.state["recognition"] == "restarting":
            problems.append(t("banner_restarting"))
        if self.state["recognition"] == "fatal":
            problems.append(t("banner_fatal") + f"\n{self.fatal_message}")
        self.banner.setText("\n".join(problems))
        self.banner.setVisible(bool(problems))
        self.banner.raise_()

    # --- shutdown --------------------------------------------------------------------

    def closeEvent(self, event) -> None:
        if not self.allow_close:
            event.ignore()  # only admin mode or the system (SIGTERM) may close the kiosk
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        from kiosk import systemd

        systemd.stopping()
        self.tick.stop()
        self.app.stop()

    def upload_status(self) -> dict:
        return self.uploader.status()

    def request_quit(self) -> None:
        self.allow_close = True
        self.close()


def _qt_zone(name: str):
    from PySide6.QtCore import QTimeZone

    return QTimeZone(name.encode())
