"""A USB webcam or network stream through OpenCV, read by a grabber thread (newest frame wins).

cv2.VideoCapture.read() releases the GIL while it waits for the device, so a small thread can
keep only the latest frame; the recognition loop never sees a backlog of stale frames.

Face-priority exposure (kiosk.camera.exposure) on webcams that allow it: USB (UVC) cameras have
no exposure compensation, so a compensation of EV stops switches the camera to manual exposure
at 2^EV times the exposure its auto-exposure had chosen (read back from the driver), and 0 gives
it back its auto-exposure. A camera that does not report its exposure, or refuses manual mode,
keeps its own (said once in the log). The change is made by the grabber thread, between two
reads. Untested on real webcams here (none on this machine); the control loop is tested with
the simulated camera (fake.py).
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
        self._pending_ev: float | None = None
        self._manual: tuple[float, float] | None = None  # (auto mode to restore, base exposure)
        self._no_manual = False

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
            if self._pending_ev is not None:
                ev, self._pending_ev = self._pending_ev, None
                self._apply_ev(ev)
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

    @property
    def supports_exposure(self) -> bool:
        """False once the webcam turned out to have no manual exposure (EVs are then ignored)."""
        return not self._no_manual

    def set_exposure_compensation(self, ev: float) -> None:
        self._pending_ev = float(ev)  # applied by the grabber thread before its next read

    def _apply_ev(self, ev: float) -> None:
        import cv2

        cap = self._cap
        if ev == 0.0:
            if self._manual is not None:
                cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, self._manual[0])
                self._manual = None
            return
        if self._no_manual:
            return
        if self._manual is None:
            auto, base = cap.get(cv2.CAP_PROP_AUTO_EXPOSURE), cap.get(cv2.CAP_PROP_EXPOSURE)
            # V4L2's manual mode is 1 (V4L2_EXPOSURE_MANUAL); older OpenCV builds take 0.25
            manual = next((m for m in (1, 0.25) if cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, m)), None)
            if base <= 0 or manual is None:
                self._no_manual = True
                log.info("camera %r: no manual exposure (exposure %s, auto mode %s): face-priority exposure "
                         "off, the camera's own auto-exposure is used", self.device, base, auto)
                return
            self._manual = (auto, base)
        longest = 10000.0 / self.fps  # V4L2 units of 100 us: never longer than a frame
        cap.set(cv2.CAP_PROP_EXPOSURE, max(1.0, min(longest, self._manual[1] * 2.0 ** ev)))

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
