"""A USB webcam or network stream through OpenCV, read by a grabber thread (newest frame wins).

cv2.VideoCapture.read() releases the GIL while it waits for the device, so a small thread can
keep only the latest frame; the recognition loop never sees a backlog of stale frames.
"""

from __future__ import annotations

import logging
import threading
import time

from kiosk.camera.base import CameraError, Frame

log = logging.getLogger(__name__)


class OpenCVSource:
    def __init__(self, device: int | str, width: int = 640, height: int = 480, fps: int = 15):
        self.device, self.width, self.height, self.fps = device, width, height, fps
        self._cap = None
        self._latest: Frame | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._error: str | None = None
        self._thread: threading.Thread | None = None
        self._seq = 0
        self._handed = -1

    def open(self) -> None:
        import cv2

        self._cap = cv2.VideoCapture(self.device)
        if not self._cap.isOpened():
            raise CameraError(f"camera {self.device!r} cannot be opened (unplugged, busy, or no permission)")
        self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        self._cap.set(cv2.CAP_PROP_FPS, self.fps)
        self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._stop.clear()
        self._thread = threading.Thread(target=self._grab, name=f"camera-{self.device}", daemon=True)
        self._thread.start()

    def _grab(self) -> None:
        import cv2

        failures = 0
        while not self._stop.is_set():
            ok, bgr = self._cap.read()
            if not ok:
                failures += 1
                if failures >= 30:
                    with self._cond:
                        self._error = f"camera {self.device!r} stopped delivering frames"
                        self._cond.notify_all()
                    return
                time.sleep(0.05)
                continue
            failures = 0
            frame = Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), time.monotonic(), self._seq)
            with self._cond:
                self._latest = frame
                self._seq += 1
                self._cond.notify_all()

    def read(self, timeout: float = 1.0) -> Frame | None:
        with self._cond:
            self._cond.wait_for(lambda: self._error or (self._latest and self._latest.seq > self._handed),
                                timeout)
            if self._error:
                raise CameraError(self._error)
            if self._latest is None or self._latest.seq <= self._handed:
                return None
            self._handed = self._latest.seq
            return self._latest

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        if self._cap is not None:
            self._cap.release()
            self._cap = None
