"""The live picture: the newest frame scaled to fit, mirrored like a mirror, a guide oval
showing where to stand, and the face box the recognition worker reported."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QWidget

BOX_TTL_S = 0.7  # a face box older than this is no longer drawn


def to_qimage(rgb: np.ndarray) -> QImage:
    """A copy of an RGB frame as a QImage (made in the camera thread, painted in the UI thread)."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class CameraView(QWidget):
    def __init__(self, mirror: bool = True, parent=None):
        super().__init__(parent)
        self.mirror = mirror
        self.image: QImage | None = None
        self.box: tuple[list[int], bool, float] | None = None  # box, identified, when
        self.shown = 0  # distinct frames painted
        self._painted: QImage | None = None
        self.gaps: list[float] = []  # seconds between consecutive frames reaching the UI thread
        self._last = 0.0
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def set_image(self, image: QImage) -> None:
        now = time.perf_counter()
        if self._last:
            self.gaps.append(now - self._last)
            del self.gaps[:-2000]
        self._last = now
        self.image = image
        self.update()

    def set_face(self, box: list[int] | None, identified: bool) -> None:
        self.box = (box, identified, time.monotonic()) if box else None
        self.update()

    def _target(self) -> QRectF:
        if self.image is None:
            return QRectF(self.rect())
        iw, ih = self.image.width(), self.image.height()
        scale = min(self.width() / iw, self.height() / ih)
        w, h = iw * scale, ih * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#000000"))
        target = self._target()
        if self.image is not None:
            p.save()
            if self.mirror:
                p.translate(self.width(), 0)
                p.scale(-1, 1)
                target = QRectF(self.width() - target.right(), target.top(), target.width(), target.height())
            p.drawImage(target, self.image)
            p.restore()
            if self.image is not self._painted:
                self.shown += 1
                self._painted = self.image
        target = self._target()
        # guide: where the face should be
        gw, gh = target.width() * 0.34, target.height() * 0.62
        guide = QRectF(target.center().x() - gw / 2, target.center().y() - gh / 2, gw, gh)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor(255, 255, 255, 150), max(2, self.height() // 160), Qt.PenStyle.DashLine))
        p.drawEllipse(guide)
        if self.box and self.image is not None and time.monotonic() - self.box[2] < BOX_TTL_S:
            (l, t, r, b), identified, _ = self.box
            sx, sy = target.width() / self.image.width(), target.height() / self.image.height()
            if self.mirror:
                l, r = self.image.width() - r, self.image.width() - l
            rect = QRectF(target.left() + l * sx, target.top() + t * sy, (r - l) * sx, (b - t) * sy)
            p.setPen(QPen(QColor("#2ecc71" if identified else "#ffffff"), max(3, self.height() // 120)))
            p.drawRect(rect)
        p.end()
