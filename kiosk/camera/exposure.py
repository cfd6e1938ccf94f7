"""Face-priority exposure: exposure compensation steered by the face the recogniser chose.

A camera's own auto-exposure meters the whole picture. In a lobby with a bright door or window
behind the person it exposes for the window and leaves the face dark; against a dark wall it
can burn a pale face out. The recognition worker already measures the chosen face (its median
grey level and its clipped shadows and highlights, kiosk.recognition.quality); this controller
turns that into an exposure compensation in stops (EV) that the camera applies:

* a face darker than `target` raises the EV, a brighter one lowers it, by `gain` of the error in
  stops per step, within `lo`..`hi`, never while the face's highlights are already clipping (or
  its shadows, going down);
* a small error (under `deadband` stops) changes nothing, so the picture does not pump;
* with no face measured for `release_s`, the compensation goes back to 0: the camera's own
  metering for the next person.

Sources that can apply it implement ``set_exposure_compensation(ev)`` (picam.py: libcamera's
ExposureValue; opencv.py: the webcam's manual exposure when it has one; fake.py: a simulated
scene); the others ignore it.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

import numpy as np


def srgb_to_linear(x):
    """sRGB grey levels (0-255, an array or a number) to linear light (0-1, float32)."""
    x = np.asarray(x, np.float32) / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(y):
    """Linear light to sRGB grey levels (0-255, float; clipped at the sensor's white)."""
    y = np.clip(y, 0.0, 1.0)
    return np.where(y <= 0.0031308, y * 12.92, 1.055 * np.power(y, 1 / 2.4) - 0.055) * 255.0


@dataclass(frozen=True)
class FaceLight:
    """Light on the chosen face, as measured by the quality gates."""

    median: float  # median grey level of the inner face (0-255)
    shadows: float  # share of its pixels at the black end (clipped shadows)
    highlights: float  # share at the white end (clipped highlights)

    @classmethod
    def from_message(cls, d: dict | None) -> "FaceLight | None":
        if not d:
            return None
        try:
            return cls(float(d["median"]), float(d["shadows"]), float(d["highlights"]))
        except (KeyError, TypeError, ValueError):
            return None


class ExposureSteer:
    def __init__(self, target: float = 110.0, lo: float = -2.0, hi: float = 3.0, gain: float = 0.6,
                 deadband: float = 0.3, release_s: float = 3.0, clip_share: float = 0.02):
        self.target, self.lo, self.hi, self.gain = target, lo, hi, gain
        self.deadband, self.release_s, self.clip_share = deadband, release_s, clip_share
        self.ev = 0.0
        self.last_face = float("-inf")

    def update(self, light: FaceLight | None, now: float) -> float | None:
        """The new EV when it changed, else None."""
        if light is None:
            if self.ev != 0.0 and now - self.last_face >= self.release_s:
                self.ev = 0.0
                return 0.0
            return None
        self.last_face = now
        error = math.log2(self.target / max(light.median, 2.0))  # stops too dark (+) or bright (-)
        if abs(error) < self.deadband:
            return None
        if error > 0 and light.highlights > self.clip_share:
            return None  # brighter would burn the face's highlights
        if error < 0 and light.shadows > self.clip_share:
            return None  # darker would crush its shadows
        ev = min(self.hi, max(self.lo, self.ev + self.gain * error))
        ev = round(ev * 4) / 4  # quarter stops: cameras take coarse steps anyway
        if ev == self.ev:
            return None
        self.ev = ev
        return ev


class FacePriority:
    """Between the recognition worker's face messages (the app's supervisor thread) and the
    camera reader thread, which alone touches the source: `observe` each face message's light,
    `apply` before each read."""

    # A camera takes some frames to reach a new exposure (libcamera's AGC converges over several
    # frames; a webcam's new exposure time starts a frame or two later).
    SETTLE_S = 1.0

    def __init__(self, steer: ExposureSteer | None = None):
        self.steer = steer or ExposureSteer()
        self._pending: float | None = None
        # (when, ev) handed to the camera, after the camera's own metering (0) from the start
        self._applied: deque[tuple[float, float]] = deque([(-math.inf, 0.0)])

    def observe(self, light: dict | None, now: float) -> None:
        ev = self.steer.update(FaceLight.from_message(light), now)
        if ev is not None:
            self._pending = ev

    def apply(self, source, now: float | None = None) -> None:
        ev, self._pending = self._pending, None
        if ev is not None and getattr(source, "supports_exposure", False):
            source.set_exposure_compensation(ev)
            self._applied.append((time.monotonic() if now is None else now, ev))

    def in_force(self, now: float, source=None) -> float:
        """The exposure compensation a frame read now (from `source`) may have been taken with,
        taken as the least darkening that may still be in effect: the largest EV handed to the
        camera in the last SETTLE_S, and the one before them (in force when they came). 0: the
        camera's own metering, and a source that applies no EV (a replay; a webcam found to have
        no manual exposure).
        The glow cue (kiosk.screen.glow) judges a darkened face's clipping by it, so it is never
        more ready to see a glowing face than the real exposure allows."""
        if source is not None and not getattr(source, "supports_exposure", False):
            return 0.0
        while len(self._applied) > 1 and self._applied[1][0] <= now - self.SETTLE_S:
            self._applied.popleft()
        return max(ev for _, ev in self._applied)

    def reset(self) -> None:
        """A (re)opened camera starts from its own metering."""
        self.steer.ev, self._pending = 0.0, None
        self._applied = deque([(-math.inf, 0.0)])
