"""A simulated camera in a backlit lobby, for tests of face-priority exposure (no camera here).

`BacklitSource` renders a real photo as a camera would see it with the light behind the
person: the scene is taken to linear light, the face (an ellipse around `face_box`) is lit
`backlight_stops` less than the rest, the camera's own auto-exposure meters the whole picture
(its mean to mid-grey, as average metering does), then the exposure compensation asked through
``set_exposure_compensation`` is applied, and the result is clipped, given sensor noise and
quantised to 8 bits again. So a bright background leaves the face dark, and raising the EV
brightens the face and burns out the background, as on a real camera.

It implements the same FrameSource interface as the real sources (picam.py, opencv.py).
`ReExposed` re-exposes recorded frames as such a camera would (the glow cue's benchmark and tests).
"""

from __future__ import annotations

import time

import numpy as np

from kiosk.camera.base import CameraError, Frame
from kiosk.camera.exposure import linear_to_srgb, srgb_to_linear


def linear_to_srgb8(y: np.ndarray) -> np.ndarray:
    return np.round(linear_to_srgb(y)).astype(np.uint8)


class BacklitSource:
    supports_exposure = True

    def __init__(self, photo: np.ndarray, face_box: tuple[int, int, int, int], backlight_stops: float = 4.0,
                 fps: float = 15.0, realtime: bool = False, seed: int = 0):
        self.photo, self.face_box = photo, face_box
        self.backlight_stops, self.fps, self.realtime = backlight_stops, fps, realtime
        self.ev = 0.0
        self.ev_history: list[float] = []
        self._rng = np.random.default_rng(seed)
        self._seq = -1
        self._t0: float | None = None
        h, w = photo.shape[:2]
        l, t, r, b = face_box
        yy, xx = np.mgrid[0:h, 0:w]
        cx, cy, rx, ry = (l + r) / 2, (t + b) / 2, (r - l) * 0.75, (b - t) * 0.85
        inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
        # the light on each pixel: the face in the shade, the rest in the window's light
        self._light = np.where(inside, 2.0 ** -backlight_stops, 1.0).astype(np.float32)[..., None]
        self._scene = srgb_to_linear(photo) * self._light
        # average metering: the whole frame's mean to 18 % grey
        self._auto = 0.18 / max(float(self._scene.mean()), 1e-6)

    def open(self) -> None:
        self._t0 = time.monotonic()

    def set_exposure_compensation(self, ev: float) -> None:
        self.ev = float(ev)
        self.ev_history.append(self.ev)

    def read(self, timeout: float = 1.0) -> Frame | None:
        if self._t0 is None:
            raise CameraError("fake camera read before open()")
        if self.realtime:
            time.sleep(1.0 / self.fps)
        self._seq += 1
        y = self._scene * (self._auto * 2.0 ** self.ev)
        y = y + self._rng.normal(0.0, 1.0, y.shape).astype(np.float32) * np.sqrt(0.0002 * np.clip(y, 0, 1) + 1e-6)
        ts = self._t0 + self._seq / self.fps if not self.realtime else time.monotonic()
        return Frame(np.ascontiguousarray(linear_to_srgb8(y)), ts, self._seq, f"backlit#{self._seq} ev {self.ev:+.2f}",
                     ev=self.ev)

    def close(self) -> None:
        self._t0 = None


class ReExposed:
    """Recorded frames as a camera steered by face-priority exposure would give them (benchmarks
    and tests of the glow cue): each frame's linear light scaled by 2^ev of the EV last handed
    over, at once (no camera lag). What the recording clipped stays flat - the worst case for the
    glow cue, which a real shorter exposure would resolve into texture."""

    supports_exposure = True

    def __init__(self):
        self.ev, self._luts = 0.0, {}
        self.ev_history: list[float] = []

    def set_exposure_compensation(self, ev: float) -> None:
        self.ev = float(ev)
        self.ev_history.append(self.ev)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        import cv2

        if self.ev == 0.0:
            return image
        if self.ev not in self._luts:
            self._luts[self.ev] = linear_to_srgb8(srgb_to_linear(np.arange(256)) * 2.0 ** self.ev)
        return cv2.LUT(image, self._luts[self.ev])
