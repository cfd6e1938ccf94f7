"""Reads the camera in its own thread: each frame goes to the recognition ring (shared memory)
and, as a QImage, to the window through a queued Qt signal. A camera that cannot be opened or
stops is reported and re-opened with a growing pause; recognition resumes by itself."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QThread, Signal
from PySide6.QtGui import QImage

from kiosk.camera import CameraError


def to_qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def fit(rgb: np.ndarray, ring) -> np.ndarray:
    """Shrink a frame that is larger than the ring's slots (a replayed photo, say)."""
    h, w = rgb.shape[:2]
    f = min(ring.max_h / h, ring.max_w / w)
    if f >= 1:
        return rgb
    import cv2

    return cv2.resize(rgb, (int(w * f), int(h * f)), interpolation=cv2.INTER_AREA)


class CameraThread(QThread):
    frame = Signal(QImage, int, float)  # image, seq, capture time (monotonic)
    state = Signal(str, str)  # "ok" | "error" | "ended", message

    def __init__(self, make_source, ring=None, parent=None):
        super().__init__(parent)
        self.make_source, self.ring = make_source, ring

    def run(self) -> None:
        pause = 1.0
        while not self.isInterruptionRequested():
            source = None
            try:
                source = self.make_source()
                source.open()
                self.state.emit("ok", "")
                pause = 1.0
                while not self.isInterruptionRequested():
                    f = source.read(timeout=0.5)
                    if f is None:
                        continue
                    image = fit(f.image, self.ring) if self.ring is not None else f.image
                    if self.ring is not None:
                        self.ring.put(image, f.seq, f.ts)
                    self.frame.emit(to_qimage(image), f.seq, f.ts)
            except StopIteration:
                self.state.emit("ended", "")
                return
            except CameraError as e:
                self.state.emit("error", str(e))
                self.msleep(int(pause * 1000))
                pause = min(30.0, pause * 2)
            finally:
                if source is not None:
                    source.close()
