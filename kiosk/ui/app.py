"""`kiosk run` with a window: Qt application, translation, fullscreen kiosk window, SIGTERM."""

from __future__ import annotations

import os
import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from kiosk import systemd
from kiosk.ui import text
from kiosk.ui.window import KioskWindow


def run_window(cfg, make_source, windowed: bool = False, max_seconds: float | None = None,
               screenshot: str | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("kiosk")
    text.install_translator(app, cfg.device.language)
    win = KioskWindow(cfg, make_source)
    offscreen = os.environ.get("QT_QPA_PLATFORM") == "offscreen"
    if windowed or offscreen:
        win.resize(1024, 600)
        win.show()
    else:
        win.showFullScreen()  # frameless, the whole screen (cage gives us exactly one)
    # systemd stops the kiosk with SIGTERM; Python handlers run only when the interpreter gets
    # control, so a short timer hands it control regularly - and feeds systemd's watchdog
    # (kiosk.service: Type=notify, WatchdogSec): a frozen UI thread stops the pings and systemd
    # restarts the kiosk.
    def quit_now(*_):
        win.request_quit()  # the window tells systemd it is stopping

    signal.signal(signal.SIGTERM, quit_now)
    signal.signal(signal.SIGINT, quit_now)
    keepalive = QTimer(interval=200, timeout=systemd.watchdog)
    keepalive.start()
    systemd.ready(f"{cfg.device.id}: window up")
    win.status.setProperty("notified", "")

    def report_state():  # the banner's state, for `systemctl status kiosk` (never a secret)
        line = win.banner.text().replace("\n", " ") if win.banner.isVisible() else win.status.text()
        if line != win.status.property("notified"):
            win.status.setProperty("notified", line)
            systemd.status(line)

    state_timer = QTimer(interval=5000, timeout=report_state)
    state_timer.start()
    if max_seconds:
        def finish():
            if screenshot:
                win.grab().save(screenshot)
            win.request_quit()
        QTimer.singleShot(int(max_seconds * 1000), finish)
    win.destroyed.connect(app.quit)
    app.lastWindowClosed.connect(app.quit)
    return app.exec()
