"""Quality gates: is this face good enough to encode and trust?

Each gate has a stable reason code (used in JSON output, logs and, later, the screen's hints)
and the measured value, so a refusal can be explained to HR and tuned from config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kiosk.recognition.faces import Box, to_grey

# Reason codes, in the order the gates run. The kiosk screen maps them to hints.
REASONS = {
    "no_face": "no face found",
    "several_faces": "more than one face in the photo",
    "partial": "face cut off by the edge of the picture",
    "too_small": "face too small (too far from the camera or photo too small)",
    "too_dark": "face too dark",
    "too_bright": "face too bright (backlight or glare)",
    "blurred": "face blurred",
    "not_frontal": "face turned sideways",
    "tilted": "head tilted",
}

# The face is resized to this before measuring sharpness. Every face the detector returns is
# larger (about 73 px at the smallest), so it is only ever shrunk and the measure depends little
# on the face's size (docs/thresholds.md; resizing up to 128 px made small sharp faces "blurred").
SHARPNESS_SIZE = 64


@dataclass(frozen=True)
class Quality:
    reason: str | None  # None = every gate passed
    face_px: int
    brightness: float
    sharpness: float
    yaw: float
    roll_deg: float

    @property
    def ok(self) -> bool:
        return self.reason is None

    def as_dict(self) -> dict:
        return {
            "face_px": self.face_px,
            "brightness": round(self.brightness, 1),
            "sharpness": round(self.sharpness, 1),
            "yaw": round(self.yaw, 3),
            "roll_deg": round(self.roll_deg, 1),
        }


def pose(lm68: np.ndarray) -> tuple[float, float]:
    """(yaw, roll in degrees) from 68 landmarks.

    yaw: horizontal offset of the nose tip (point 30) from the midpoint of the eye centres,
    divided by the distance between the eye centres; about 0 for a frontal face and about
    +-0.5 at a 45 degree turn. roll: angle of the line through the eye centres.
    """
    left_eye = lm68[36:42].mean(axis=0)
    right_eye = lm68[42:48].mean(axis=0)
    dx, dy = right_eye - left_eye
    eye_dist = math.hypot(dx, dy) or 1.0
    mid = (left_eye + right_eye) / 2
    # project the nose offset onto the eye line, so a tilted head is not read as a turn
    nose = lm68[30] - mid
    yaw = float((nose[0] * dx + nose[1] * dy) / (eye_dist * eye_dist))
    roll = math.degrees(math.atan2(dy, dx))
    return yaw, roll


def assess(frame: np.ndarray, box: Box, lm68: np.ndarray, rc) -> Quality:
    """Run the gates on one face; `rc` is the [recognition] config section."""
    import cv2

    grey = to_grey(frame)
    h, w = grey.shape
    crop = grey[max(0, box.top):box.bottom, max(0, box.left):box.right]
    brightness = float(crop.mean()) if crop.size else 0.0
    if crop.size:
        small = cv2.resize(crop, (SHARPNESS_SIZE, SHARPNESS_SIZE), interpolation=cv2.INTER_AREA)
        sharpness = float(cv2.Laplacian(small, cv2.CV_64F).var())
    else:
        sharpness = 0.0
    yaw, roll = pose(lm68)
    q = dict(face_px=box.width, brightness=brightness, sharpness=sharpness, yaw=yaw, roll_deg=roll)
    # dlib's box reaches the edge (boxes are clamped to the frame) or landmarks fall outside it
    edge = box.left <= 0 or box.top <= 0 or box.right >= w or box.bottom >= h
    outside = (lm68[:, 0].min() < 0 or lm68[:, 1].min() < 0
               or lm68[:, 0].max() >= w or lm68[:, 1].max() >= h)
    if edge or outside:
        return Quality("partial", **q)
    if box.width < rc.min_face_px:
        return Quality("too_small", **q)
    if brightness < rc.min_brightness:
        return Quality("too_dark", **q)
    if brightness > rc.max_brightness:
        return Quality("too_bright", **q)
    if sharpness < rc.min_sharpness:
        return Quality("blurred", **q)
    if abs(yaw) > rc.max_yaw:
        return Quality("not_frontal", **q)
    if abs(roll) > rc.max_roll_deg:
        return Quality("tilted", **q)
    return Quality(None, **q)
